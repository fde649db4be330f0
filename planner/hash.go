package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/podstack/podstack/stack"
)

// containerHash covers everything that requires recreating a container.
// Replicas, deploy mode, profiles, depends_on and the pull policy are cleared first: they
// change how many containers run, or when, not what a container is. The
// image reference is included; for a container in an infra-less pod the
// pod's hash is too, since the container then carries the pod's ports and
// aliases.
//
// The hash is of the JSON of {"service": ..., "image": ..., ...} (see
// containerHashInput); it is written to the hash in two parts, so that the
// service's JSON, most of it, is encoded once rather than encoded, then
// checked and copied again into the enclosing object.
func containerHash(s *stack.Stack, svc *stack.Service, pod *Pod) string {
	c := *svc
	c.Replicas = 0
	c.DeployMode = ""
	c.Profiles = nil
	c.DependsOn = nil
	c.PullPolicy = ""
	c.Source = stack.Position{}
	c.Unsupported = nil
	if svc.Build != nil {
		// How an image is built (without cache, pulling its base) is not
		// what it is; what it is, the build digest label says.
		b := *svc.Build
		b.NoCache, b.Pull = false, false
		c.Build = &b
	}
	c.Develop = nil // what watch does, not what the container is
	c.Keys = nil
	service, err := c.MarshalJSON()
	if err != nil {
		panic("planner: hash input does not marshal: " + err.Error())
	}
	rest, err := json.Marshal(containerHashRest(s, svc, pod))
	if err != nil {
		panic("planner: hash input does not marshal: " + err.Error())
	}
	// json.Marshal of the whole would give exactly these bytes: the
	// service's MarshalJSON output is already compact and HTML-escaped.
	h := sha256.New()
	h.Write([]byte(`{"service":`))
	h.Write(service)
	h.Write([]byte(","))
	h.Write(rest[1:])
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// containerHashInput is what a container's hash covers besides its
// service: the fields after "service" in the hashed object, in order.
type containerHashInput struct {
	Image    string                   `json:"image"`
	Pod      string                   `json:"pod"`
	PodHash  string                   `json:"podHash,omitempty"`
	Volumes  map[string]string        `json:"volumes,omitempty"`
	Secrets  map[string]*stack.Secret `json:"secrets,omitempty"`
	Contents map[string]string        `json:"contents,omitempty"`
}

func containerHashRest(s *stack.Stack, svc *stack.Service, pod *Pod) *containerHashInput {
	in := &containerHashInput{Image: ImageRef(s, svc)}
	if pod != nil {
		in.Pod = pod.Name
		if !pod.Infra {
			in.PodHash = pod.Hash
		}
	}
	// The real names of the volumes it mounts, and the secret and config
	// definitions it uses, are part of what it is.
	for _, m := range svc.Mounts {
		if m.Type == stack.MountVolume && m.Source != "" {
			if v := s.Volumes[m.Source]; v != nil {
				if in.Volumes == nil {
					in.Volumes = map[string]string{}
				}
				in.Volumes[m.Source] = v.Name
			}
		}
	}
	// A changed secret or config content (Digest) recreates the container:
	// Podman copies secrets in at create time.
	for _, ref := range svc.Secrets {
		if sec := s.Secrets[ref.Source]; sec != nil {
			if in.Secrets == nil {
				in.Secrets = map[string]*stack.Secret{}
				in.Contents = map[string]string{}
			}
			in.Secrets[ref.Source] = sec
			in.Contents[ref.Source] = sec.Digest
		}
	}
	for _, ref := range svc.Configs {
		if cfg := s.Configs[ref.Source]; cfg != nil && cfg.File == "" {
			if in.Contents == nil {
				in.Contents = map[string]string{}
			}
			in.Contents["config/"+ref.Source] = cfg.Digest
		}
	}
	return in
}

// podHash covers what requires recreating a pod.
func podHash(p *Pod) string {
	var published []stack.Port
	for _, pt := range p.Ports {
		if pt.Published != 0 || pt.Ephemeral {
			published = append(published, pt)
		}
	}
	return hashOf(struct {
		Services    []string            `json:"services"`
		Ports       []stack.Port        `json:"ports"`
		Hostname    string              `json:"hostname"`
		AddHosts    []string            `json:"addHosts"`
		Networks    map[string][]string `json:"networks"`
		NetworkMode string              `json:"networkMode"`
		Infra       bool                `json:"infra"`
		Addresses   map[string]Address  `json:"addresses,omitempty"`
		DNS         []string            `json:"dns,omitempty"`
		DNSSearch   []string            `json:"dnsSearch,omitempty"`
		DNSOptions  []string            `json:"dnsOptions,omitempty"`
	}{p.Services, published, p.Hostname, p.AddHosts, p.Networks, p.NetworkMode, p.Infra, p.Addresses, p.DNS, p.DNSSearch, p.DNSOptions})
}

func hashOf(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic("planner: hash input does not marshal: " + err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

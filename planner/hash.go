package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/podstack/podstack/stack"
)

// containerHash covers everything that requires recreating a container.
// Replicas, deploy mode, profiles, depends_on and the pull policy are cleared first: they
// change how many containers run, or when, not what a container is. How an
// image is built (without cache, pulling its base) is not what it is (the
// build digest label says what it is), and neither is what watch does. The
// image reference is included; for a container in an infra-less pod the
// pod's hash is too, since the container then carries the pod's ports and
// aliases.
//
// The hash is of encoding/json's bytes for {"service": ..., "image": ...,
// ...}: the service with those fields cleared, then containerHashInput.
// Those bytes are written without reflection (hashjson.go);
// referenceContainerHash in the tests is the definition they must match.
func containerHash(s *stack.Stack, svc *stack.Service, pod *Pod) string {
	networks, _ := networksInto(nil, svc)
	return containerHashOf(s, svc, pod, networks)
}

// containerHashOf is containerHash given svc's networks, sorted by key.
func containerHashOf(s *stack.Stack, svc *stack.Service, pod *Pod, networks []serviceNetwork) string {
	buf := hashBuffers.Get().(*[]byte)
	b := append((*buf)[:0], `{"service":`...)
	b = appendHashedService(b, svc, networks)
	rest := containerHashRest(s, svc, pod)
	b = appendHashRest(b, &rest)
	sum := hashSum(b)
	*buf = b
	hashBuffers.Put(buf)
	return sum
}

// hashBuffers hold the bytes being hashed, which reach a few kilobytes.
var hashBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// hashSum is the hash of data: the hex of the first half of its sha256.
func hashSum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// appendHashRest appends the fields of in after "service", and closes the
// object.
func appendHashRest(b []byte, in *containerHashInput) []byte {
	o := jsonObject{b: b}
	o.str("image", in.Image)
	o.str("pod", in.Pod)
	o.strOmit("podHash", in.PodHash)
	o.stringMapOmit("volumes", in.Volumes)
	if len(in.Secrets) > 0 {
		o.key("secrets")
		o.b = appendJSONMap(o.b, in.Secrets, appendHashedSecret)
	}
	o.stringMapOmit("contents", in.Contents)
	return o.close()
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

func containerHashRest(s *stack.Stack, svc *stack.Service, pod *Pod) containerHashInput {
	in := containerHashInput{Image: ImageRef(s, svc)}
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

// podHash covers what requires recreating a pod: the JSON of
// {"services", "ports" (the published ones), "hostname", "addHosts",
// "networks", "networkMode", "infra", "addresses", "dns", "dnsSearch",
// "dnsOptions"}, the last four omitted when empty (referencePodHash in the
// tests is the definition).
func podHash(p *Pod) string {
	buf := hashBuffers.Get().(*[]byte)
	o := openObject((*buf)[:0])
	o.key("services")
	o.b = appendJSONStrings(o.b, p.Services)
	o.key("ports")
	var published []stack.Port
	for i, pt := range p.Ports {
		if pt.Published != 0 || pt.Ephemeral {
			if published == nil {
				published = make([]stack.Port, 0, len(p.Ports)-i)
			}
			published = append(published, pt)
		}
	}
	o.b = appendJSONPorts(o.b, published)
	o.str("hostname", p.Hostname)
	o.key("addHosts")
	o.b = appendJSONStrings(o.b, p.AddHosts)
	o.key("networks")
	o.b = appendJSONMap(o.b, p.Networks, appendJSONStrings)
	o.str("networkMode", p.NetworkMode)
	o.bool("infra", p.Infra)
	if len(p.Addresses) > 0 {
		o.key("addresses")
		o.b = appendJSONMap(o.b, p.Addresses, func(b []byte, a Address) []byte {
			o := openObject(b)
			o.strOmit("ipv4", a.IPv4)
			o.strOmit("ipv6", a.IPv6)
			o.strOmit("mac", a.MAC)
			o.strOmit("interface", a.Interface)
			return o.close()
		})
	}
	o.stringsOmit("dns", p.DNS)
	o.stringsOmit("dnsSearch", p.DNSSearch)
	o.stringsOmit("dnsOptions", p.DNSOptions)
	*buf = o.close()
	sum := hashSum(*buf)
	hashBuffers.Put(buf)
	return sum
}

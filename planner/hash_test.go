package planner

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/podstack/podstack/internal/testcorpus"
	"github.com/podstack/podstack/stack"
)

// referenceContainerHash is the definition of a container's configuration
// hash: sha256 of the JSON of this struct. Running containers carry it in a
// label, so containerHash must give exactly these bytes however it is
// computed, or every container is recreated after an upgrade.
func referenceContainerHash(s *stack.Stack, svc *stack.Service, pod *Pod) string {
	c := *svc
	c.Replicas = 0
	c.DeployMode = ""
	c.Profiles = nil
	c.DependsOn = nil
	c.PullPolicy = ""
	c.Source = stack.Position{}
	c.Unsupported = nil
	if svc.Build != nil {
		b := *svc.Build
		b.NoCache, b.Pull = false, false
		c.Build = &b
	}
	c.Develop = nil
	c.Keys = nil
	in := struct {
		Service  stack.Service            `json:"service"`
		Image    string                   `json:"image"`
		Pod      string                   `json:"pod"`
		PodHash  string                   `json:"podHash,omitempty"`
		Volumes  map[string]string        `json:"volumes,omitempty"`
		Secrets  map[string]*stack.Secret `json:"secrets,omitempty"`
		Contents map[string]string        `json:"contents,omitempty"`
	}{Service: c, Image: ImageRef(s, svc)}
	if pod != nil {
		in.Pod = pod.Name
		if !pod.Infra {
			in.PodHash = pod.Hash
		}
	}
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
	return hashOf(in)
}

// referencePodHash is the definition of a pod's configuration hash, as
// referenceContainerHash is a container's.
func referencePodHash(p *Pod) string {
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

// TestContainerHashIsStable: every service of the test stacks, the
// awesome-compose corpus and a generated stack hashes as the definition
// says.
func TestContainerHashIsStable(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, generatedStack(t, 100))
	files = append(files, testcorpus.AwesomeCompose(t)...)
	n := 0
	for _, f := range files {
		s := load(t, f)
		pods, err := Group(s, "")
		if err != nil {
			t.Fatal(err)
		}
		byService := podOf(pods)
		for _, p := range pods {
			if want := referencePodHash(p); p.Hash != want {
				t.Errorf("%s, pod %s: hash %s, want %s", f, p.Name, p.Hash, want)
			}
		}
		for _, name := range s.ServiceNames() {
			svc := s.Services[name]
			if got, want := containerHash(s, svc, byService[name]), referenceContainerHash(s, svc, byService[name]); got != want {
				t.Errorf("%s, service %s: hash %s, want %s", f, name, got, want)
			}
			n++
		}
	}
	if n < 150 {
		t.Errorf("hashed only %d services", n)
	}
}

// hashOf is the hash of v's encoding/json bytes: the definitions' hash.
func hashOf(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic("planner: hash input does not marshal: " + err.Error())
	}
	return hashSum(data)
}

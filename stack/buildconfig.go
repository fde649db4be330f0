package stack

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/types"
)

// BuildKeys is the table of compose's build keys, as ServiceKeys is of the
// service's: "" where `stack up` carries the key to Podman's build, else
// why it cannot. A key compose-go decodes that the table does not list is
// not carried and named in the warning too, so no build key is dropped
// silently.
var BuildKeys = map[string]string{
	"context": "", "dockerfile": "", "dockerfile_inline": "", "args": "", "target": "", "labels": "",
	"no_cache": "", "pull": "", "additional_contexts": "", "ulimits": "", "shm_size": "", "extra_hosts": "",
	"network": "", "cache_from": "", "tags": "", "platforms": "", "secrets": "",

	"ssh":             "Podman's build API forwards no SSH agent or key: RUN --mount=type=ssh steps fail",
	"privileged":      "Podman builds have no privileged RUN steps",
	"isolation":       "the Podman service chooses its builds' isolation",
	"entitlements":    "BuildKit's; Podman builds have no entitlements",
	"cache_to":        "BuildKit's cache exporters have no Podman equivalent",
	"no_cache_filter": "Podman builds can only skip the whole cache (no_cache)",
	"provenance":      "Podman builds write no provenance attestation",
	"sbom":            "Podman builds write no SBOM attestation",
}

// buildFields are the JSON keys of compose-go's build section, found once.
var buildFields = sync.OnceValue(func() []structKey {
	return structKeys(reflect.TypeFor[types.BuildConfig](), nil, func(name string) bool { return !strings.HasPrefix(name, "x-") })
})

// buildUnsupported names the build keys b sets that Podman's build does
// not carry, as "build.KEY (why)".
func buildUnsupported(b *types.BuildConfig) []string {
	var out []string
	v := reflect.ValueOf(b).Elem()
	for _, k := range buildFields() {
		if jsonEmpty(k, v.FieldByIndex(k.index)) {
			continue
		}
		why, known := BuildKeys[k.name]
		switch {
		case !known:
			out = append(out, "build."+k.name)
		case why != "":
			out = append(out, "build."+k.name+" ("+why+")")
		}
	}
	sort.Strings(out)
	return out
}

// build converts a service's build section, reporting what Podman's build
// cannot take at load time, before anything is created.
func (c *converter) build(svc types.ServiceConfig, base string) *Build {
	in := svc.Build
	base += ".build"
	b := &Build{Context: in.Context, Dockerfile: in.Dockerfile, Target: in.Target,
		Labels: map[string]string(in.Labels), NoCache: in.NoCache, Pull: in.Pull,
		DockerfileInline: in.DockerfileInline, ShmSize: int64(in.ShmSize), Network: in.Network,
		Tags: []string(in.Tags)}
	for _, v := range in.CacheFrom {
		if ref := cacheSource(v); ref != "" {
			b.CacheFrom = append(b.CacheFrom, ref)
		} else {
			c.warnings = append(c.warnings, Warning{Position: c.where(base + ".cache_from"), Service: svc.Name,
				Message: fmt.Sprintf("build.cache_from %q is ignored: Podman builds reuse layers of an image repository only (IMAGE or type=registry,ref=IMAGE)", v)})
		}
	}
	if b.DockerfileInline != "" {
		b.Dockerfile = "" // compose-go defaults it to Dockerfile only when neither is set
	}
	for k, v := range in.Args {
		if v != nil {
			if b.Args == nil {
				b.Args = map[string]string{}
			}
			b.Args[k] = *v
		}
	}
	for _, name := range sortedKeysOf(map[string]string(in.AdditionalContexts)) {
		value := in.AdditionalContexts[name]
		if b.AdditionalContexts == nil {
			b.AdditionalContexts = map[string]string{}
		}
		b.AdditionalContexts[name] = value
		if why := unsupportedContext(value); why != "" {
			c.problem(base+".additional_contexts."+name, svc.Name, fmt.Sprintf("build.additional_contexts %s: %s", name, why),
				`use a local directory, "docker-image://IMAGE", "service:NAME" or an https:// URL`)
		}
	}
	b.Ulimits = ulimits(in.Ulimits)
	c.checkUlimits(b.Ulimits, base, svc.Name)
	for host, ips := range in.ExtraHosts {
		for _, ip := range ips {
			b.ExtraHosts = append(b.ExtraHosts, host+":"+ip)
		}
	}
	sort.Strings(b.ExtraHosts)
	c.checkExtraHosts(b.ExtraHosts, base, svc.Name)
	switch b.Network {
	case "default":
		b.Network = ""
	case "", "none", "host":
	default:
		c.problem(base+".network", svc.Name, fmt.Sprintf("build.network %q: Podman builds run on the default network, none or host", b.Network),
			"write network: none, network: host, or leave it out")
	}
	if in.ShmSize < 0 {
		c.problem(base+".shm_size", svc.Name, "build.shm_size must not be negative", "use a positive size such as 256m, or leave it out")
	}
	c.buildPlatform(svc, b, base)
	for i, sec := range in.Secrets {
		id := sec.Target
		if id == "" {
			id = sec.Source
		}
		b.Secrets = append(b.Secrets, BuildSecret{ID: id, Source: sec.Source})
		if sec.UID != "" || sec.GID != "" || sec.Mode != nil {
			c.warnings = append(c.warnings, Warning{Position: c.where(fmt.Sprintf("%s.secrets.%d", base, i)), Service: svc.Name,
				Message: fmt.Sprintf("build.secrets %s: uid, gid and mode are not carried: a build secret's owner and mode are set "+
					"where a RUN step mounts it (RUN --mount=type=secret,id=%s,uid=...,gid=...,mode=...)", sec.Source, id)})
		}
		top, ok := c.project.Secrets[sec.Source]
		switch {
		case !ok:
			c.problem(fmt.Sprintf("%s.secrets.%d", base, i), svc.Name, fmt.Sprintf("build.secrets refers to undefined secret %q", sec.Source),
				fmt.Sprintf("declare it under the top-level secrets: (%s: {file: ./%s.txt} or {environment: VAR})", sec.Source, sec.Source))
		case bool(top.External):
			c.problem(fmt.Sprintf("%s.secrets.%d", base, i), svc.Name, fmt.Sprintf("build.secrets: secret %q is external: a build cannot read Podman's secret store", sec.Source),
				"give the secret a file: or environment: source for builds")
		}
	}
	return b
}

// cacheSource is the image repository a cache_from entry names: the entry
// itself, or BuildKit's type=registry,ref=IMAGE; "" for BuildKit's other
// cache types (local, gha, s3...), which Podman has no reader for.
func cacheSource(v string) string {
	if !strings.Contains(v, "=") {
		return v
	}
	kind, ref := "", ""
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		switch k {
		case "type":
			kind = val
		case "ref":
			ref = val
		}
	}
	if kind == "registry" {
		return ref
	}
	return ""
}

// unsupportedContext says why an additional context's value cannot reach a
// Podman build ("" when it can). Podman takes a directory, an image or an
// http(s) URL (of an archive, or of a Git repository ending in .git);
// compose's other Git forms and BuildKit's own schemes it has no reader for.
func unsupportedContext(v string) string {
	switch {
	case strings.HasPrefix(v, "docker-image://"):
		if strings.TrimPrefix(v, "docker-image://") == "" {
			return "docker-image:// names no image"
		}
	case strings.HasPrefix(v, "service:"):
	case strings.HasPrefix(v, "http://"), strings.HasPrefix(v, "https://"):
	case strings.HasPrefix(v, "git@"), strings.HasPrefix(v, "git://"), strings.HasPrefix(v, "ssh://"), strings.HasPrefix(v, "github.com/"):
		return fmt.Sprintf("%q: Podman builds fetch no Git repository by this address", v)
	case strings.Contains(v, "://"):
		scheme, _, _ := strings.Cut(v, "://")
		return fmt.Sprintf("%q: Podman builds have no %s:// contexts", v, scheme)
	}
	return ""
}

// buildPlatform picks the one platform Podman builds for: a build makes
// one image here, which up runs. Without build.platforms it is the
// service's platform:, as docker compose builds. Several build the one the
// service's platform: names (compose-go checks it is listed), else the
// host's, with a warning: docker compose's default builder refuses a
// multi-platform build too, and the image up runs is the host's.
func (c *converter) buildPlatform(svc types.ServiceConfig, b *Build, base string) {
	switch ps := svc.Build.Platforms; {
	case len(ps) == 0:
		b.Platform = svc.Platform // "" builds for the host
	case len(ps) == 1:
		b.Platform = ps[0]
	case len(ps) > 1 && svc.Platform != "" && slices.Contains(ps, svc.Platform):
		b.Platform = svc.Platform
	case len(ps) > 1:
		c.warnings = append(c.warnings, Warning{Position: c.where(base + ".platforms"), Service: svc.Name,
			Message: fmt.Sprintf("build.platforms lists %d platforms: Podman builds one image, for the Podman host's platform "+
				"(set the service's platform: to choose one of them)", len(ps))})
	}
}

// ServiceContexts names the services whose built images the build reads
// through "service:NAME" additional contexts, sorted: their builds go
// first.
func (b *Build) ServiceContexts() []string {
	var out []string
	for _, v := range b.AdditionalContexts {
		if name, ok := strings.CutPrefix(v, "service:"); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// buildContextProblems reports the "service:NAME" contexts that name no
// service of the stack, or one without a build section, and every cycle
// of them, with the whole path.
func (c *converter) buildContextProblems(s *Stack) Problems {
	var ps Problems
	names := s.ServiceNames()
	lookup := func(name string) *Service {
		if svc := s.Services[name]; svc != nil {
			return svc
		}
		return s.Disabled[name]
	}
	for _, name := range names {
		b := s.Services[name].Build
		if b == nil {
			continue
		}
		for _, key := range sortedKeysOf(b.AdditionalContexts) {
			target, ok := strings.CutPrefix(b.AdditionalContexts[key], "service:")
			if !ok {
				continue
			}
			path := "services." + name + ".build.additional_contexts." + key
			switch t := lookup(target); {
			case t == nil:
				p := Problem{Position: c.where(path), Service: name,
					Message: fmt.Sprintf("build.additional_contexts %s refers to undefined service %q", key, target),
					Fix:     "name a service of the stack that has a build section"}
				if sug := closest(target, slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == name })); sug != "" {
					p.Fix = fmt.Sprintf("did you mean %q?", sug)
				}
				ps = append(ps, p)
			case t.Build == nil:
				ps = append(ps, Problem{Position: c.where(path), Service: name,
					Message: fmt.Sprintf("build.additional_contexts %s refers to service %q, which has no build section", key, target),
					Fix:     fmt.Sprintf(`for its image, write "docker-image://%s"`, t.Image)})
			}
		}
	}
	for _, cycle := range buildCycles(s) {
		key := ""
		b := s.Services[cycle[0]].Build
		for _, k := range sortedKeysOf(b.AdditionalContexts) {
			if b.AdditionalContexts[k] == "service:"+cycle[1] {
				key = k
				break
			}
		}
		ps = append(ps, Problem{Position: c.where("services." + cycle[0] + ".build.additional_contexts." + key), Service: cycle[0],
			Message: "build context cycle: " + strings.Join(cycle, " -> "),
			Fix:     "each image needs the other built first: remove one of these service: contexts"})
	}
	return ps
}

// buildCycles finds each cycle of "service:NAME" build contexts once, as
// its path from its least name back to it.
func buildCycles(s *Stack) [][]string {
	var out [][]string
	seen := map[string]bool{}
	state := map[string]int{} // 1 on the path, 2 done
	var path []string
	var visit func(name string)
	visit = func(name string) {
		state[name] = 1
		path = append(path, name)
		if svc := s.Services[name]; svc != nil && svc.Build != nil {
			for _, next := range svc.Build.ServiceContexts() {
				switch state[next] {
				case 0:
					visit(next)
				case 1:
					i := slices.Index(path, next)
					cycle := slices.Clone(path[i:])
					m := slices.Index(cycle, slices.Min(cycle))
					cycle = append(cycle[m:], cycle[:m]...)
					if k := strings.Join(cycle, ","); !seen[k] {
						seen[k] = true
						out = append(out, append(cycle, cycle[0]))
					}
				}
			}
		}
		path = path[:len(path)-1]
		state[name] = 2
	}
	for _, name := range s.ServiceNames() {
		if state[name] == 0 {
			visit(name)
		}
	}
	return out
}

// resolveBuildSecrets gives each build secret what its stack secret holds
// (after resolveSecrets): a file, or an environment or inline value.
func (s *Stack) resolveBuildSecrets() {
	for _, svc := range s.Services {
		if svc.Build == nil {
			continue
		}
		for i := range svc.Build.Secrets {
			bs := &svc.Build.Secrets[i]
			if sec := s.Secrets[bs.Source]; sec != nil {
				bs.File, bs.Environment, bs.Content = sec.File, sec.Environment, sec.Content
			}
		}
	}
}

package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	units "github.com/docker/go-units"
	"github.com/sirupsen/logrus"
	"go.yaml.in/yaml/v3"
)

// loadCompose loads compose files through compose-go and converts the
// project into the model. Every problem found is returned together.
func loadCompose(ctx context.Context, files []sourceFile, env map[string]string, opts LoadOptions) (*Stack, error) {
	idx := map[string]positions{}
	var cfs []types.ConfigFile
	var problems Problems
	for _, f := range files {
		if len(bytes.TrimSpace(f.Content)) == 0 {
			problems = append(problems, Problem{Position: Position{File: f.Name}, Message: "the stack file is empty",
				Fix: "add a services: section"})
			continue
		}
		idx[f.Name] = composePositions(f)
		cf := types.ConfigFile{Filename: f.Name, Content: f.Content}
		if composeFastPaths {
			cf.Config = preParsed(f)
		}
		cfs = append(cfs, cf)
	}
	problems = append(problems, preComposeProblems(files)...)
	if err := problems.Err(); err != nil {
		return nil, err
	}

	name, explicit := opts.ProjectName, opts.ProjectName != ""
	if !explicit && env["COMPOSE_PROJECT_NAME"] != "" {
		name, explicit = env["COMPOSE_PROJECT_NAME"], true
	}
	if !explicit && composeFastPaths {
		name, explicit = nameFromFiles(files)
	}
	if !explicit {
		name = loader.NormalizeProjectName(filepath.Base(opts.WorkingDir))
	}
	profiles := opts.Profiles
	if profiles == nil && env["COMPOSE_PROFILES"] != "" {
		profiles = splitComma(env["COMPOSE_PROFILES"])
	}

	warnings := &logCapture{}
	// compose-go does not check its context while loading: await it.
	project, err := await(ctx, func() (p *types.Project, err error) {
		restore := captureLogs(warnings)
		defer restore()
		defer func() {
			// compose-go asserts types in places instead of checking them:
			// a panic there is this file's problem, not a crash.
			if r := recover(); r != nil {
				p, err = nil, Problems{{Position: Position{File: files[0].Name},
					Message: fmt.Sprintf("compose-go, which reads compose files, failed on this stack: %v", r),
					Fix:     "check the types of the values changed last; please report this input"}}
			}
		}()
		p, err = loader.LoadWithContext(ctx, types.ConfigDetails{
			WorkingDir:  opts.WorkingDir,
			ConfigFiles: cfs,
			Environment: types.Mapping(env),
		}, composeOptions(name, explicit, profiles, opts.KeepVars))
		if err != nil || len(opts.Services) == 0 {
			return p, err
		}
		// Unknown names are left for the command to report.
		return p.WithServicesEnabled(opts.Services...)
	})
	if isCancel(err) {
		return nil, err
	}
	var panicked Problems
	if errors.As(err, &panicked) {
		return nil, err
	}
	if err != nil {
		unset := unsetVariables(warnings.messages())
		err := composeProblems(err, files, idx, env, opts, unset)
		var ps Problems
		if errors.As(err, &ps) {
			return nil, explainUnset(ps, files, unset).Err()
		}
		return nil, err
	}

	c := converter{project: project, idx: idx, files: files}
	s := c.convert()
	s.warnUnsupported(func(svc *Service, key string) Position {
		return c.where("services." + svc.Name + "." + strings.Fields(key)[0])
	})
	for _, w := range warnings.messages() {
		pos := Position{File: files[0].Name}
		for _, f := range files {
			if rest, ok := strings.CutPrefix(w, f.Name+": "); ok {
				pos.File, w = f.Name, rest
			}
		}
		s.Warnings = append(s.Warnings, Warning{Position: pos, Message: w})
	}
	c.problems = append(c.problems, c.consistency(s)...)
	c.problems = append(c.problems, c.implicitReferences(s)...)
	c.runProblems(s)
	for _, f := range files {
		for svc, dups := range mountTargets(f) {
			for _, d := range dups {
				c.problems = append(c.problems, Problem{Position: Position{File: f.Name, Line: d.Line}, Service: svc,
					Message: fmt.Sprintf("two mounts target %s", d.File), Fix: "give each mount its own container path"})
			}
		}
	}
	if err := c.problems.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// composeFastPaths hands compose-go the documents podstack has parsed, and
// the project name they give, instead of letting it parse every file twice
// more (once for the model, once for the name); tests turn it off to check
// that the result is the same.
var composeFastPaths = true

// preParsed is f's document as compose-go would read it, or nil where
// compose-go must parse the file itself: what does not parse, several
// documents, and the !reset and !override tags its own parser handles.
func preParsed(f sourceFile) map[string]any {
	if f.parseErr != nil || len(f.docs) != 1 ||
		bytes.Contains(f.Content, []byte("!reset")) || bytes.Contains(f.Content, []byte("!override")) {
		return nil
	}
	var v any
	if f.docs[0].Decode(&v) != nil {
		return nil
	}
	m, _ := v.(map[string]any)
	return m
}

// nameFromFiles is the project name compose-go takes from the files' name
// keys (the last one set wins, normalized), when every file parsed and the
// name needs no interpolation; explicit is false where compose-go must look
// for itself.
func nameFromFiles(files []sourceFile) (name string, explicit bool) {
	for _, f := range files {
		if f.parseErr != nil {
			return "", false
		}
		for _, doc := range f.docs {
			if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
				continue
			}
			top := doc.Content[0].Content
			for i := 0; i+1 < len(top); i += 2 {
				if top[i].Value != "name" {
					continue
				}
				v := top[i+1]
				if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || strings.Contains(v.Value, "$") {
					return "", false
				}
				if v.Value != "" {
					name = v.Value
				}
			}
		}
	}
	name = loader.NormalizeProjectName(name)
	return name, name != ""
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// logCapture collects what compose-go logs through logrus (obsolete
// `version`, unset variables) so it becomes warnings instead of noise.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCapture) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

var (
	logMu      sync.Mutex
	logTarget  *logCapture
	logHookSet sync.Once
)

type captureHook struct{}

func (captureHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.WarnLevel, logrus.ErrorLevel}
}

func (captureHook) Fire(e *logrus.Entry) error {
	logMu.Lock()
	t := logTarget
	logMu.Unlock()
	if t != nil {
		t.mu.Lock()
		t.msgs = append(t.msgs, e.Message)
		t.mu.Unlock()
	}
	return nil
}

// captureLogs routes compose-go's log output to c until the returned
// function is called. Loads are serialized while capturing.
func captureLogs(c *logCapture) func() {
	logHookSet.Do(func() {
		logrus.AddHook(captureHook{})
		logrus.SetOutput(io.Discard)
	})
	logMu.Lock()
	logTarget = c
	logMu.Unlock()
	return func() {
		logMu.Lock()
		if logTarget == c {
			logTarget = nil
		}
		logMu.Unlock()
	}
}

var (
	yamlLineRe         = regexp.MustCompile(`line (\d+)`)
	validatingRe       = regexp.MustCompile(`^validating (.+?): (\S*) ?(.*)$`)
	addPropRe          = regexp.MustCompile(`additional propert(?:y|ies) (?:'([^']+)'|(\S+)) not allowed`)
	interpRe           = regexp.MustCompile(`error while interpolating (\S+): (.*)$`)
	decodingRe         = regexp.MustCompile(`'([^']+)' (.*)`)
	parseFileRe        = regexp.MustCompile(`(?s)^failed to parse (.+?): (.*)$`)
	undefinedRe        = regexp.MustCompile(`service "([^"]+)" (.*)$`)
	unknownFieldYAMLRe = regexp.MustCompile(`field (\S+) not found`)
	badValueRe         = regexp.MustCompile(`invalid (containerPort|hostPort|port|hostIP|proto|protocol|IP address)s?:? "?([^"\s]+)"?`)
)

func valueFix(kind string) string {
	if strings.Contains(strings.ToLower(kind), "port") {
		return `write "HOST:CONTAINER[/PROTOCOL]" with numbers, e.g. "8080:80"`
	}
	return ""
}

func lineHasTab(files []sourceFile, name string, line int) bool {
	for _, f := range files {
		if f.Name != name || line <= 0 {
			continue
		}
		lines := strings.Split(string(f.Content), "\n")
		if line <= len(lines) && strings.Contains(lines[line-1], "\t") {
			return true
		}
	}
	return false
}

// composeProblems turns a compose-go load error into positioned problems.
// A schema error is re-checked against each file on its own so that every
// schema problem is reported, not only the first.
func composeProblems(err error, files []sourceFile, idx map[string]positions, env map[string]string, opts LoadOptions, unset []string) error {
	msg := strings.TrimSpace(err.Error())
	byName := map[string]string{}
	for _, f := range files {
		byName[f.Name] = f.Name
		if abs, e := filepath.Abs(f.Name); e == nil {
			byName[abs] = f.Name
		}
		byName[filepath.Join(opts.WorkingDir, f.Name)] = f.Name
	}
	display := func(file string) string {
		if n, ok := byName[file]; ok {
			return n
		}
		return file
	}
	findPath := func(path string) (string, int) {
		for _, f := range files {
			if l := idx[f.Name].exact(path); l > 0 {
				return f.Name, l
			}
		}
		for _, f := range files {
			if l := idx[f.Name].line(path); l > 0 {
				return f.Name, l
			}
		}
		return files[0].Name, 0
	}

	if m := validatingRe.FindStringSubmatch(msg); m != nil {
		if m[2] == "" {
			var top Problems
			for _, f := range files {
				top = append(top, topLevelProblems(f, idx[f.Name])...)
			}
			if len(top) > 0 {
				return top.Err()
			}
		}
		if all := schemaProblems(files, idx, env, opts); len(all) > 0 {
			return all.Err()
		}
		file, path, rest := display(m[1]), m[2], m[3]
		return Problems{schemaProblem(file, idx[file], path, rest)}
	}
	if m := parseFileRe.FindStringSubmatch(msg); m != nil {
		f := sourceFile{Name: display(m[1])}
		for _, g := range files {
			if g.Name == f.Name {
				f = g
			}
		}
		return Problems{yamlProblem(f, strings.TrimPrefix(m[2], "yaml: "))}
	}
	var docs []namedDoc
	for _, f := range files {
		d := namedDoc{name: f.Name, content: f.Content}
		if len(f.docs) > 0 {
			d.root = f.docs[0]
		}
		docs = append(docs, d)
	}
	if ps, ok := interpolationProblems(err, docs); ok {
		return ps.Err()
	}
	if m := interpRe.FindStringSubmatch(msg); m != nil {
		path := normalizePath(m[1])
		file, line := findPath(path)
		p := Problem{Position: Position{File: file, Line: line}, Service: serviceOf(path), Message: fmt.Sprintf("%s: %s", path, m[2])}
		if strings.Contains(m[2], "required variable") {
			p.Fix = "set the variable in the environment, .env or an --env-file"
		}
		return Problems{p}
	}
	if strings.Contains(msg, "decoding failed") {
		var ps Problems
		for _, line := range strings.Split(msg, "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
			if m := decodingRe.FindStringSubmatch(line); m != nil {
				path := normalizePath(m[1])
				file, l := findPath(path)
				ps = append(ps, Problem{Position: Position{File: file, Line: l}, Service: serviceOf(path),
					Message: fmt.Sprintf("%s: %s", path, m[2])})
			}
		}
		if len(ps) > 0 {
			return ps.Err()
		}
	}
	if p, ok := placeProblem(msg, files, idx, env, unset); ok {
		return Problems{p}
	}
	if m := undefinedRe.FindStringSubmatch(msg); m != nil {
		file, line := findPath("services." + m[1])
		return Problems{{Position: Position{File: file, Line: line}, Service: m[1], Message: m[2]}}
	}
	// compose-go reports a bad port or similar value without its place:
	// find the value in the files.
	if m := badValueRe.FindStringSubmatch(msg); m != nil {
		for _, f := range files {
			path, line := findValue(f, m[2])
			if line == 0 {
				path, line = findSubstituted(f, env, m[2])
			}
			if line > 0 {
				return Problems{{Position: Position{File: f.Name, Line: line}, Service: serviceOf(path),
					Message: fmt.Sprintf("%s: invalid %s %q", path, m[1], m[2]), Fix: valueFix(m[1])}}
			}
		}
	}
	// Messages compose-go gives in other shapes still name the file.
	p := Problem{Position: Position{File: files[0].Name}, Message: msg}
	for _, f := range files {
		if strings.Contains(msg, f.Name) {
			p.File = f.Name
			p.Message = strings.ReplaceAll(msg, f.Name+": ", "")
			break
		}
	}
	if l := yamlLineRe.FindStringSubmatch(msg); l != nil {
		p.Line, _ = strconv.Atoi(l[1])
	}
	return Problems{p}
}

// schemaProblem positions one schema error (`services.web.comand additional
// properties 'comand' not allowed`).
func schemaProblem(file string, idx positions, path, rest string) Problem {
	p := Problem{Position: Position{File: file}, Service: serviceOf(path)}
	if m := addPropRe.FindStringSubmatch(rest); m != nil {
		name := m[1] + m[2]
		key := join(path, name)
		p.Line = idx.line(key)
		p.Message = fmt.Sprintf("unknown key %q in %s", name, path)
		if path == "services" {
			p.Service = name
			p.Message = fmt.Sprintf("service name %q is not valid", name)
			p.Fix = "use letters, digits, '.', '_' and '-', starting with a letter or digit"
			return p
		}
		m[1] = name
		if p.Service != "" && path == "services."+p.Service {
			p.Message = fmt.Sprintf("unknown service key %q", m[1])
			if s := closest(m[1], knownServiceKeys); s != "" {
				p.Fix = fmt.Sprintf("did you mean %q?", s)
			}
		}
		return p
	}
	p.Line = idx.line(path)
	p.Message = fmt.Sprintf("%s %s", path, rest)
	return p
}

// durationOf is a compose duration, or def when the file leaves it unset.
func durationOf(d *types.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

// composeOptions configures compose-go's loader. Its consistency check is
// skipped because podstack checks the same things itself and reports all of
// them at once, with positions.
func composeOptions(name string, explicit bool, profiles []string, keepVars bool) func(*loader.Options) {
	return func(o *loader.Options) {
		o.SetProjectName(name, explicit)
		o.Profiles = profiles
		o.SkipConsistencyCheck = true
		o.SkipInterpolation = keepVars
		o.ResolvePaths = true
	}
}

// converter turns a compose-go project into the model, collecting problems
// that compose-go does not check (or stops at the first of).
type converter struct {
	project  *types.Project
	idx      map[string]positions
	files    []sourceFile
	problems Problems
}

// where returns the last file (in merge order) that defines path, and its line.
func (c *converter) where(path string) Position {
	for i := len(c.files) - 1; i >= 0; i-- {
		f := c.files[i]
		if l := c.idx[f.Name].exact(path); l > 0 {
			return Position{File: f.Name, Line: l}
		}
	}
	for i := len(c.files) - 1; i >= 0; i-- {
		f := c.files[i]
		if l := c.idx[f.Name].line(path); l > 0 {
			return Position{File: f.Name, Line: l}
		}
	}
	return Position{File: c.files[0].Name}
}

func (c *converter) problem(path, service, msg, fix string) {
	c.problems = append(c.problems, Problem{Position: c.where(path), Service: service, Message: msg, Fix: fix})
}

func (c *converter) convert() *Stack {
	p := c.project
	s := &Stack{
		Name:       p.Name,
		Format:     FormatCompose,
		WorkingDir: p.WorkingDir,
		Services:   map[string]*Service{},
		Volumes:    map[string]*Volume{},
		Networks:   map[string]*Network{},
		Secrets:    map[string]*Secret{},
		Configs:    map[string]*Config{},
	}
	c.extension(s)
	for key, v := range p.Volumes {
		s.Volumes[key] = &Volume{Key: key, Name: v.Name, Driver: v.Driver, Options: v.DriverOpts,
			Labels: v.Labels, External: bool(v.External), Size: stringExt(v.Extensions, "x-size")}
	}
	for key, n := range p.Networks {
		nw := &Network{Key: key, Name: n.Name, Driver: n.Driver, Options: n.DriverOpts, Internal: n.Internal,
			IPv6: n.EnableIPv6 != nil && *n.EnableIPv6, IPAMDriver: n.Ipam.Driver, Labels: n.Labels, External: bool(n.External),
			Source: c.where("networks." + key)}
		for _, pool := range n.Ipam.Config {
			if pool != nil && pool.Subnet != "" {
				nw.Subnets = append(nw.Subnets, Subnet{Subnet: pool.Subnet, Gateway: pool.Gateway, IPRange: pool.IPRange})
			}
		}
		s.Networks[key] = nw
	}
	for key, sc := range p.Secrets {
		s.Secrets[key] = &Secret{Key: key, Name: sc.Name, File: sc.File, Environment: sc.Environment,
			Content: sc.Content, External: bool(sc.External)}
	}
	for key, cf := range p.Configs {
		s.Configs[key] = &Config{Key: key, Name: cf.Name, File: cf.File, Environment: cf.Environment,
			Content: cf.Content, External: bool(cf.External)}
	}
	profiles := map[string]bool{}
	for name, svc := range p.Services {
		s.Services[name] = c.service(svc)
		for _, pr := range svc.Profiles {
			profiles[pr] = true
		}
	}
	if len(p.DisabledServices) > 0 {
		s.Disabled = map[string]*Service{}
		for name, svc := range p.DisabledServices {
			s.Disabled[name] = c.service(svc)
			for _, pr := range svc.Profiles {
				profiles[pr] = true
			}
		}
	}
	for pr := range profiles {
		s.Profiles = append(s.Profiles, pr)
	}
	sort.Strings(s.Profiles)
	if len(s.Services) == 0 && len(s.Disabled) == 0 {
		c.problem("services", "", "the stack defines no services", "add a services: section with at least one service")
	}
	return s
}

// extension decodes the top-level x-podstack block strictly.
func (c *converter) extension(s *Stack) {
	raw, ok := c.project.Extensions["x-podstack"]
	if !ok {
		return
	}
	data, err := yaml.Marshal(raw)
	if err != nil {
		c.problem("x-podstack", "", fmt.Sprintf("x-podstack: %v", err), "")
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s.Options); err != nil {
		msg := err.Error()
		if m := unknownFieldYAMLRe.FindStringSubmatch(msg); m != nil {
			c.problem("x-podstack."+m[1], "", fmt.Sprintf("unknown key %q in x-podstack", m[1]),
				"valid keys are pods, volume-size, secret-env, plain-env")
			return
		}
		c.problem("x-podstack", "", "invalid x-podstack: "+strings.TrimPrefix(msg, "yaml: "), "")
		return
	}
	if s.Options.Pods != "" && !slices.Contains(PodPolicies, s.Options.Pods) {
		c.problem("x-podstack.pods", "", fmt.Sprintf("invalid x-podstack.pods %q", s.Options.Pods),
			PodPolicyFix)
	}
}

func stringExt(ext types.Extensions, key string) string {
	if v, ok := ext[key].(string); ok {
		return v
	}
	return ""
}

func (c *converter) service(svc types.ServiceConfig) *Service {
	base := "services." + svc.Name
	out := &Service{
		Name:          svc.Name,
		Image:         svc.Image,
		PullPolicy:    svc.PullPolicy,
		WorkingDir:    svc.WorkingDir,
		User:          svc.User,
		Hostname:      svc.Hostname,
		ContainerName: svc.ContainerName,
		NetworkMode:   svc.NetworkMode,
		StopSignal:    svc.StopSignal,
		Tty:           svc.Tty,
		StdinOpen:     svc.StdinOpen,
		Privileged:    svc.Privileged,
		ReadOnly:      svc.ReadOnly,
		CapAdd:        svc.CapAdd,
		CapDrop:       svc.CapDrop,
		Profiles:      svc.Profiles,
		Labels:        map[string]string(svc.Labels),
		Replicas:      1,
		Source:        c.where(base),
	}
	if svc.Entrypoint != nil {
		out.Entrypoint = []string(svc.Entrypoint)
	}
	if svc.Command != nil {
		out.Command = []string(svc.Command)
	}
	if svc.Init != nil {
		out.Init = *svc.Init
	}
	if len(svc.Environment) > 0 {
		out.Environment = map[string]string{}
		for k, v := range svc.Environment {
			if v != nil {
				out.Environment[k] = *v
			}
		}
	}
	if svc.Build != nil {
		b := &Build{Context: svc.Build.Context, Dockerfile: svc.Build.Dockerfile, Target: svc.Build.Target,
			Labels: map[string]string(svc.Build.Labels), NoCache: svc.Build.NoCache, Pull: svc.Build.Pull}
		for k, v := range svc.Build.Args {
			if v != nil {
				if b.Args == nil {
					b.Args = map[string]string{}
				}
				b.Args[k] = *v
			}
		}
		out.Build = b
	}
	if out.Image == "" && out.Build == nil {
		c.problem(base, svc.Name, "has neither image nor build", "add image: NAME or a build: section")
	}
	if pod, ok := svc.Extensions["x-pod"]; ok {
		name, isString := pod.(string)
		if !isString || name == "" {
			c.problem(base+".x-pod", svc.Name, fmt.Sprintf("x-pod must be a pod name (a string), got %v", pod), `write x-pod: NAME`)
		}
		out.Pod = name
	}
	for k := range svc.Extensions {
		if k != "x-pod" && strings.HasPrefix(k, "x-podstack") {
			c.problem(base+"."+k, svc.Name, fmt.Sprintf("unknown podstack extension %q", k), "the service-level extension is x-pod")
		}
	}

	for i, port := range svc.Ports {
		path := fmt.Sprintf("%s.ports.%d", base, i)
		if port.Target == 0 || port.Target > 65535 {
			c.problem(path, svc.Name, fmt.Sprintf("invalid container port %d", port.Target), "ports are 1-65535")
			continue
		}
		pub, err := parsePublished(port.Published)
		if err != nil {
			c.problem(path, svc.Name, fmt.Sprintf("invalid published port %q: %v", port.Published, err), `write "HOST:CONTAINER", e.g. "8080:80"`)
			continue
		}
		proto := port.Protocol
		if proto == "" {
			proto = "tcp"
		}
		out.Ports = append(out.Ports, Port{Target: uint16(port.Target), Published: pub, Ephemeral: pub == 0,
			HostIP: port.HostIP, Protocol: proto, Name: port.Name})
	}
	for i, e := range svc.Expose {
		n, err := strconv.ParseUint(strings.SplitN(e, "/", 2)[0], 10, 16)
		if err != nil || n == 0 {
			c.problem(fmt.Sprintf("%s.expose.%d", base, i), svc.Name, fmt.Sprintf("invalid expose port %q", e), "ports are 1-65535")
			continue
		}
		out.Expose = append(out.Expose, uint16(n))
	}
	if len(svc.Networks) > 0 {
		out.Networks = map[string]*ServiceNetwork{}
		for name, n := range svc.Networks {
			sn := &ServiceNetwork{}
			if n != nil {
				sn.Aliases = n.Aliases
				sn.IPv4Address = n.Ipv4Address
				sn.IPv6Address = n.Ipv6Address
				sn.MACAddress = n.MacAddress
				sn.InterfaceName = n.InterfaceName
				// podman-compose's spellings, from before the spec had them.
				if sn.MACAddress == "" {
					sn.MACAddress = stringExt(n.Extensions, "x-podman.mac_address")
				}
				if sn.InterfaceName == "" {
					sn.InterfaceName = stringExt(n.Extensions, "x-podman.interface_name")
				}
			}
			out.Networks[name] = sn
		}
	}
	if svc.MacAddress != "" && svc.NetworkMode == "" {
		// The service-level mac_address is for its primary network.
		primary := "default"
		if keys := sortedKeysOf(out.Networks); len(keys) > 0 {
			primary = keys[0]
		}
		if out.Networks == nil {
			out.Networks = map[string]*ServiceNetwork{}
		}
		if out.Networks[primary] == nil {
			out.Networks[primary] = &ServiceNetwork{}
		}
		if out.Networks[primary].MACAddress == "" {
			out.Networks[primary].MACAddress = svc.MacAddress
		}
	}
	for host, ips := range svc.ExtraHosts {
		for _, ip := range ips {
			out.ExtraHosts = append(out.ExtraHosts, host+":"+ip)
		}
	}
	sort.Strings(out.ExtraHosts)
	out.DNS = []string(svc.DNS)

	for _, v := range svc.Volumes {
		m := Mount{Type: MountType(v.Type), Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeBind:
			if v.Bind != nil {
				m.SELinux = v.Bind.SELinux
			}
		case types.VolumeTypeVolume:
			if v.Volume != nil {
				m.SubPath = v.Volume.Subpath
			}
		case types.VolumeTypeTmpfs:
			if v.Tmpfs != nil {
				m.TmpfsSize = int64(v.Tmpfs.Size)
			}
		default:
			out.Unsupported = append(out.Unsupported, "volumes (type "+v.Type+")")
			continue
		}
		out.Mounts = append(out.Mounts, m)
	}
	for _, t := range svc.Tmpfs {
		target, opts, _ := strings.Cut(t, ":")
		m := Mount{Type: MountTmpfs, Target: target}
		for _, o := range strings.Split(opts, ",") {
			if size, ok := strings.CutPrefix(o, "size="); ok {
				if n, err := units.RAMInBytes(size); err == nil {
					m.TmpfsSize = n
				}
			}
		}
		out.Mounts = append(out.Mounts, m)
	}
	for _, sec := range svc.Secrets {
		out.Secrets = append(out.Secrets, fileRef(types.FileReferenceConfig(sec), "/run/secrets/"))
	}
	for _, cf := range svc.Configs {
		out.Configs = append(out.Configs, fileRef(types.FileReferenceConfig(cf), "/"))
	}
	out.Health = c.health(svc, base)
	if len(svc.DependsOn) > 0 {
		out.DependsOn = map[string]Dependency{}
		for name, d := range svc.DependsOn {
			cond := Condition(d.Condition)
			if cond == "" {
				cond = ConditionStarted
			}
			out.DependsOn[name] = Dependency{Condition: cond, Required: d.Required, Restart: d.Restart}
		}
	}
	out.Restart = c.restart(svc, base)
	if svc.StopGracePeriod != nil {
		d := time.Duration(*svc.StopGracePeriod)
		out.StopGracePeriod = &d
	}
	out.Resources = resources(svc)
	out.PID, out.IPC, out.UsernsMode = svc.Pid, svc.Ipc, svc.UserNSMode
	out.SecurityOpt = svc.SecurityOpt
	out.ShmSize = int64(svc.ShmSize)
	out.GroupAdd = svc.GroupAdd
	out.DNSSearch, out.DNSOptions = []string(svc.DNSSearch), svc.DNSOpts
	out.OomScoreAdj = int(svc.OomScoreAdj)
	if svc.Logging != nil && (svc.Logging.Driver != "" || len(svc.Logging.Options) > 0) {
		out.Logging = &Logging{Driver: svc.Logging.Driver, Options: svc.Logging.Options}
	}
	c.namespaces(out, base)
	for _, dep := range out.NamespaceOwners() {
		// Joining another service's namespace needs it started first, as
		// compose's implicit dependency has it.
		if dep == svc.Name {
			continue
		}
		if out.DependsOn == nil {
			out.DependsOn = map[string]Dependency{}
		}
		if _, set := out.DependsOn[dep]; !set {
			out.DependsOn[dep] = Dependency{Condition: ConditionStarted, Required: true}
		}
	}
	if svc.Deploy != nil {
		out.DeployMode = svc.Deploy.Mode
	}
	if svc.Deploy != nil && svc.Deploy.Replicas != nil {
		out.Replicas = *svc.Deploy.Replicas
	} else if svc.Scale != nil {
		out.Replicas = *svc.Scale
	}
	if out.Replicas < 0 {
		c.problem(base, svc.Name, fmt.Sprintf("replicas must not be negative, got %d", out.Replicas), "use 0 or more")
	}
	if len(svc.Ulimits) > 0 {
		out.Ulimits = map[string]Ulimit{}
		for k, u := range svc.Ulimits {
			if u == nil {
				continue
			}
			if u.Single != 0 {
				out.Ulimits[k] = Ulimit{Soft: int64(u.Single), Hard: int64(u.Single)}
			} else {
				out.Ulimits[k] = Ulimit{Soft: int64(u.Soft), Hard: int64(u.Hard)}
			}
		}
	}
	if len(svc.Sysctls) > 0 {
		out.Sysctls = map[string]string(svc.Sysctls)
	}
	for _, d := range svc.Devices {
		dev := d.Source
		if d.Target != "" {
			dev += ":" + d.Target
		}
		if d.Permissions != "" {
			dev += ":" + d.Permissions
		}
		out.Devices = append(out.Devices, dev)
	}
	c.develop(svc, out, base)
	out.Keys = setKeys(svc)
	out.Unsupported = append(out.Unsupported, unsupported(svc, out.Keys)...)
	sort.Strings(out.Unsupported)
	c.checkService(svc, out, base)
	return out
}

func fileRef(f types.FileReferenceConfig, dir string) FileRef {
	r := FileRef{Source: f.Source, Target: f.Target, UID: f.UID, GID: f.GID}
	if r.Target == "" {
		r.Target = dir + f.Source
	} else if !strings.HasPrefix(r.Target, "/") {
		r.Target = dir + r.Target
	}
	if f.Mode != nil {
		m := uint32(*f.Mode)
		r.Mode = &m
	}
	return r
}

func parsePublished(p string) (uint16, error) {
	if p == "" {
		return 0, nil
	}
	if strings.Contains(p, "-") {
		lo, hi, _ := strings.Cut(p, "-")
		if lo == hi {
			p = lo
		} else {
			return 0, fmt.Errorf("port ranges are not supported")
		}
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("not a port number")
	}
	return uint16(n), nil
}

func (c *converter) health(svc types.ServiceConfig, base string) *HealthCheck {
	h := svc.HealthCheck
	if h == nil || h.Disable {
		return nil
	}
	test := []string(h.Test)
	if len(test) == 0 && h.Interval == nil && h.Timeout == nil && h.Retries == nil && h.StartPeriod == nil && h.StartInterval == nil {
		return nil // nothing set: the image's own healthcheck, as without the key
	}
	// No test with timings is valid compose: the image's test, run with
	// these timings (HealthCheck.InheritsTest).
	first := ""
	if len(test) > 0 {
		first = test[0]
	}
	switch first {
	case "":
	case "NONE":
		return nil
	case "CMD", "CMD-SHELL":
		if len(test) < 2 || strings.TrimSpace(strings.Join(test[1:], "")) == "" {
			c.problem(base+".healthcheck.test", svc.Name, "healthcheck test has no command", `write test: ["CMD", "pg_isready"]`)
			return nil
		}
	default:
		c.problem(base+".healthcheck.test", svc.Name, fmt.Sprintf("healthcheck test must start with CMD, CMD-SHELL or NONE, got %q", first),
			`write test: ["CMD", "argv0", ...] or test: "shell command"`)
		return nil
	}
	for _, d := range []struct {
		key string
		v   *types.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start_period", h.StartPeriod}, {"start_interval", h.StartInterval}} {
		if d.v != nil && *d.v < 0 {
			c.problem(base+".healthcheck."+d.key, svc.Name, fmt.Sprintf("healthcheck %s must not be negative, got %v", d.key, time.Duration(*d.v)),
				"use a positive duration such as 5s, or leave it out for the default")
		}
	}
	out := &HealthCheck{
		Test:          test,
		Interval:      durationOf(h.Interval, DefaultHealthInterval),
		Timeout:       durationOf(h.Timeout, DefaultHealthTimeout),
		StartPeriod:   durationOf(h.StartPeriod, 0),
		StartInterval: durationOf(h.StartInterval, DefaultStartInterval),
		Retries:       DefaultHealthRetries,
	}
	if h.Retries != nil {
		out.Retries = int(*h.Retries)
	}
	// Zero would make Podman 4.x fail every probe; compose treats 0 as "default".
	if out.Interval <= 0 {
		out.Interval = DefaultHealthInterval
	}
	if out.Timeout <= 0 {
		out.Timeout = DefaultHealthTimeout
	}
	if out.Retries <= 0 {
		out.Retries = DefaultHealthRetries
	}
	return out
}

var restartRe = regexp.MustCompile(`^(no|always|unless-stopped|on-failure(:\d+)?)$`)

func (c *converter) restart(svc types.ServiceConfig, base string) RestartPolicy {
	r := svc.Restart
	if r == "" && svc.Deploy != nil && svc.Deploy.RestartPolicy != nil {
		switch svc.Deploy.RestartPolicy.Condition {
		case "none":
			r = "no"
		case "on-failure":
			r = "on-failure"
			if mx := svc.Deploy.RestartPolicy.MaxAttempts; mx != nil {
				r = fmt.Sprintf("on-failure:%d", *mx)
			}
		case "any", "":
			r = "always"
		}
	}
	if r == "" {
		return ""
	}
	if !restartRe.MatchString(r) {
		c.problem(base+".restart", svc.Name, fmt.Sprintf("invalid restart policy %q", r), `use "no", "always", "on-failure[:N]" or "unless-stopped"`)
		return ""
	}
	return RestartPolicy(r)
}

func resources(svc types.ServiceConfig) Resources {
	var r Resources
	if svc.Deploy != nil {
		if l := svc.Deploy.Resources.Limits; l != nil {
			r.CPUs = float64(l.NanoCPUs)
			r.MemoryBytes = int64(l.MemoryBytes)
			r.Pids = l.Pids
		}
		if q := svc.Deploy.Resources.Reservations; q != nil {
			r.CPUsReservation = float64(q.NanoCPUs)
			r.MemoryReservation = int64(q.MemoryBytes)
		}
	}
	if r.CPUs == 0 && svc.CPUS > 0 {
		r.CPUs = float64(svc.CPUS)
	}
	if r.MemoryBytes == 0 && svc.MemLimit > 0 {
		r.MemoryBytes = int64(svc.MemLimit)
	}
	if r.MemoryReservation == 0 && svc.MemReservation > 0 {
		r.MemoryReservation = int64(svc.MemReservation)
	}
	if r.Pids == 0 && svc.PidsLimit > 0 {
		r.Pids = svc.PidsLimit
	}
	r.CPUShares = svc.CPUShares
	r.CPUSet = svc.CPUSet
	return r
}

// namespaces checks pid, ipc, userns_mode and security_opt, which Podman
// would otherwise refuse only when the container is created.
func (c *converter) namespaces(svc *Service, base string) {
	check := func(key, v string, plain ...string) {
		if v == "" {
			return
		}
		for _, p := range plain {
			if v == p {
				return
			}
		}
		if kind, name, ok := strings.Cut(v, ":"); ok && name != "" && (kind == "service" || kind == "container") {
			_, enabled := c.project.Services[name]
			_, disabled := c.project.DisabledServices[name]
			if kind == "service" && !enabled && !disabled {
				c.problem(base+"."+key, svc.Name, fmt.Sprintf("%s %s: no such service", key, v), "name a service of this stack")
			}
			return
		}
		c.problem(base+"."+key, svc.Name, fmt.Sprintf("%s %q is not supported", key, v),
			fmt.Sprintf("use %s, service:NAME or container:NAME", strings.Join(plain, ", ")))
	}
	check("pid", svc.PID, "host", "private")
	check("ipc", svc.IPC, "host", "private", "shareable", "none")
	userns := svc.UsernsMode
	for _, prefix := range []string{"keep-id:", "auto:", "ns:"} {
		if strings.HasPrefix(userns, prefix) {
			userns = "" // Podman's own forms with options; it checks those
		}
	}
	check("userns_mode", userns, "host", "private", "keep-id", "auto", "nomap")
	for i, opt := range svc.SecurityOpt {
		if _, err := ParseSecurityOpt(opt); err != nil {
			c.problem(fmt.Sprintf("%s.security_opt.%d", base, i), svc.Name, err.Error(),
				"use no-new-privileges, label=..., seccomp=..., apparmor=..., mask=... or unmask=...")
		}
	}
}

// SecurityOption is one parsed security_opt entry.
type SecurityOption struct {
	Key, Value string
}

// ParseSecurityOpt reads a docker-style security_opt entry ("label=disable",
// "label:disable", "no-new-privileges", "no-new-privileges:true",
// "seccomp=unconfined", "apparmor=unconfined", "mask=/x", "unmask=ALL").
func ParseSecurityOpt(opt string) (SecurityOption, error) {
	key, value, ok := strings.Cut(opt, "=")
	if !ok {
		key, value, _ = strings.Cut(opt, ":")
	}
	switch key {
	case "no-new-privileges":
		if value == "" {
			value = "true"
		}
		if value != "true" && value != "false" {
			return SecurityOption{}, fmt.Errorf("security_opt %q: no-new-privileges takes true or false", opt)
		}
	case "label", "seccomp", "apparmor", "mask", "unmask":
		if value == "" {
			return SecurityOption{}, fmt.Errorf("security_opt %q has no value", opt)
		}
	default:
		return SecurityOption{}, fmt.Errorf("security_opt %q is not supported", opt)
	}
	return SecurityOption{Key: key, Value: value}, nil
}

// knownServiceKeys is for "did you mean" suggestions: every key the table
// of service keys lists.
var knownServiceKeys = func() []string {
	var keys []string
	for k := range ServiceKeys {
		if !strings.HasPrefix(k, "deploy.") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}()

// warnUnsupported adds a warning for every key a service sets that
// podstack does not carry out, at the position where gives: the loader
// warns, so every command that loads says so, once, and before anything
// runs.
func (s *Stack) warnUnsupported(where func(svc *Service, key string) Position) {
	for _, name := range s.ServiceNames() {
		svc := s.Services[name]
		for _, key := range svc.Unsupported {
			s.Warnings = append(s.Warnings, Warning{Position: where(svc, key), Service: name,
				Message: key + " is not supported by podstack and is ignored"})
		}
	}
}

// unsupported lists what svc sets that `stack up` does not carry out: keys
// the table says Podman does not carry, and podman-compose's own x-podman
// extensions (named rather than ignored like any other x- key).
func unsupported(svc types.ServiceConfig, keys []string) []string {
	out := (&Service{Keys: keys}).NotCarried(PodmanKeys)
	for k := range svc.Extensions {
		if strings.HasPrefix(k, "x-podman") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// consistency checks references across the project, reporting all at once
// (compose-go's own check stops at the first).
func (c *converter) consistency(s *Stack) Problems {
	var ps Problems
	names := s.ServiceNames()
	for _, name := range names {
		svc := s.Services[name]
		base := "services." + name
		pos := func(path string) Position { return c.where(path) }
		for _, dep := range sortedDeps(svc.DependsOn) {
			if _, ok := s.Services[dep]; ok {
				continue
			}
			if _, ok := s.Disabled[dep]; ok {
				continue // the planner says which profile enables it
			}
			if pos(base+".depends_on").Line == pos(base).Line {
				continue // implied by network_mode, links or volumes_from: reported there
			}
			p := Problem{Position: pos(base + ".depends_on." + dep), Service: name,
				Message: fmt.Sprintf("depends on undefined service %q", dep)}
			if sug := closest(dep, names); sug != "" {
				p.Fix = fmt.Sprintf("did you mean %q?", sug)
			}
			if p.Line == 0 {
				p.Position = pos(base + ".depends_on")
			}
			ps = append(ps, p)
		}
		if target, ok := strings.CutPrefix(svc.NetworkMode, "service:"); ok {
			if _, ok := s.Services[target]; !ok {
				if _, dis := s.Disabled[target]; !dis {
					p := Problem{Position: pos(base + ".network_mode"), Service: name,
						Message: fmt.Sprintf("network_mode refers to undefined service %q", target)}
					if sug := closest(target, names); sug != "" {
						p.Fix = fmt.Sprintf("did you mean %q?", sug)
					}
					ps = append(ps, p)
				}
			}
		}
		for i, m := range svc.Mounts {
			if m.Type == MountVolume && m.Source != "" {
				if _, ok := s.Volumes[m.Source]; !ok {
					ps = append(ps, Problem{Position: pos(fmt.Sprintf("%s.volumes.%d", base, i)), Service: name,
						Message: fmt.Sprintf("refers to undefined volume %q", m.Source),
						Fix:     fmt.Sprintf("declare it under the top-level volumes: (%s: {})", m.Source)})
				}
			}
		}
		for _, n := range sortedKeysOf(svc.Networks) {
			if _, ok := s.Networks[n]; !ok {
				ps = append(ps, Problem{Position: pos(base + ".networks." + n), Service: name,
					Message: fmt.Sprintf("refers to undefined network %q", n),
					Fix:     fmt.Sprintf("declare it under the top-level networks: (%s: {})", n)})
			}
		}
		for i, sec := range svc.Secrets {
			if _, ok := s.Secrets[sec.Source]; !ok {
				ps = append(ps, Problem{Position: pos(fmt.Sprintf("%s.secrets.%d", base, i)), Service: name,
					Message: fmt.Sprintf("refers to undefined secret %q", sec.Source),
					Fix:     fmt.Sprintf("declare it under the top-level secrets: (%s: {file: ./%s.txt})", sec.Source, sec.Source)})
			}
		}
		for i, cf := range svc.Configs {
			if _, ok := s.Configs[cf.Source]; !ok {
				ps = append(ps, Problem{Position: pos(fmt.Sprintf("%s.configs.%d", base, i)), Service: name,
					Message: fmt.Sprintf("refers to undefined config %q", cf.Source),
					Fix:     "declare it under the top-level configs:"})
			}
		}
	}
	return ps
}

func sortedDeps(m map[string]Dependency) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// closest returns the candidate nearest to s by edit distance, if it is
// close enough to be a likely typo.
func closest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := levenshtein(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

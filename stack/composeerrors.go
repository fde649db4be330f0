package stack

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"go.yaml.in/yaml/v3"
)

// Translation of compose-go's errors that name neither a file nor a line.

// findSubstituted finds the first scalar of f that holds a ${VAR} and,
// substituted with env, contains v: compose-go names the substituted value
// of a bad port ("invalid hostPort: 80a"), which the file does not hold.
func findSubstituted(f sourceFile, env map[string]string, v string) (string, int) {
	if len(f.docs) == 0 || v == "" {
		return "", 0
	}
	lookup := func(k string) (string, bool) {
		val, ok := env[k]
		return val, ok
	}
	return findScalar(f.docs[0], func(value string) bool {
		if !strings.Contains(value, "$") {
			return false
		}
		out, err := template.Substitute(value, lookup)
		return err == nil && strings.Contains(out, v)
	})
}

var (
	constructRe  = lazyRegexp(`line (\d+): mapping key "([^"]*)" already defined at line (\d+)`)
	offsetRe     = lazyRegexp(`offset (\d+): (.*)$`)
	refFileRe    = lazyRegexp(`^(env|label) file (\S+) not found`)
	openMissing  = lazyRegexp(`^open (\S+): no such file or directory$`)
	leadingPath  = lazyRegexp(`^((?:services|volumes|networks|secrets|configs|include|models)(?:\.[^\s:]+)*)(?::\s*| )(.*)$`)
	extendsRe    = lazyRegexp(`^cannot extend service "([^"]+)" in (\S+): service "([^"]+)" not found$`)
	portErrorRe  = lazyRegexp(`^invalid (containerPort|hostPort|port|hostIP|proto|protocol|IP address)s?:?\s*"?([^"\s]*)"?$`)
	topLevelKeys = []string{"version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models"}
)

// yamlProblem positions a YAML syntax error of f, which yaml reports by
// line, by offset, or (duplicate keys) as "construct errors" whose first
// line is the document's.
func yamlProblem(f sourceFile, detail string) Problem {
	p := Problem{Position: Position{File: f.Name}, Message: "invalid YAML: " + detail}
	switch m := constructRe().FindStringSubmatch(detail); {
	case m != nil:
		p.Line, _ = strconv.Atoi(m[1])
		p.Message = fmt.Sprintf("invalid YAML: key %q is defined twice (first at line %s)", m[2], m[3])
		p.Fix = "remove one of them"
		return p
	case offsetRe().MatchString(detail):
		m := offsetRe().FindStringSubmatch(detail)
		if off, err := strconv.Atoi(m[1]); err == nil && off <= len(f.Content) {
			p.Line = bytes.Count(f.Content[:off], []byte("\n")) + 1
			p.Message = "invalid YAML: " + m[2]
		}
		return p
	}
	if l := yamlLineRe().FindStringSubmatch(detail); l != nil {
		p.Line, _ = strconv.Atoi(l[1])
	}
	if strings.Contains(detail, "tab character") || lineHasTab([]sourceFile{f}, f.Name, p.Line) {
		p.Fix = "indent with spaces, not tabs"
	}
	return p
}

// topLevelProblems explains unknown top-level keys: an old version-1 file
// (services at the top, no services: key) gets that said; any other key a
// did-you-mean.
func topLevelProblems(f sourceFile, idx positions) Problems {
	if len(f.docs) == 0 || len(f.docs[0].Content) == 0 || f.docs[0].Content[0].Kind != yaml.MappingNode {
		return nil
	}
	top := f.docs[0].Content[0].Content
	hasServices := false
	var unknown, serviceLike []string
	for i := 0; i+1 < len(top); i += 2 {
		k, v := top[i].Value, top[i+1]
		switch {
		case k == "services":
			hasServices = true
		case slices.Contains(topLevelKeys, k) || strings.HasPrefix(k, "x-"):
		default:
			unknown = append(unknown, k)
			if v.Kind == yaml.MappingNode && (nodeAt(v, "image") != nil || nodeAt(v, "build") != nil) {
				serviceLike = append(serviceLike, k)
			}
		}
	}
	if !hasServices && len(serviceLike) > 0 {
		return Problems{{Position: Position{File: f.Name, Line: idx.line(serviceLike[0])},
			Message: fmt.Sprintf("no services: section; %s look like services in the old version-1 format", quoteList(serviceLike)),
			Fix:     "put them under a top-level services: key (indent them one level)"}}
	}
	var ps Problems
	for _, k := range unknown {
		p := Problem{Position: Position{File: f.Name, Line: idx.line(k)}, Message: fmt.Sprintf("unknown top-level key %q", k),
			Fix: "top-level keys are " + strings.Join(topLevelKeys, ", ") + " and x-*"}
		if s := closest(k, topLevelKeys); s != "" {
			p.Fix = fmt.Sprintf("did you mean %q?", s)
		}
		ps = append(ps, p)
	}
	return ps
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// placeProblem positions the compose-go messages that name a path or a
// file but no line; ok is false for any other message.
func placeProblem(msg string, files []sourceFile, idx map[string]positions, env map[string]string, unset []string) (Problem, bool) {
	find := func(path string) Position {
		for _, f := range files {
			if l := idx[f.Name].exact(path); l > 0 {
				return Position{File: f.Name, Line: l}
			}
		}
		for _, f := range files {
			if l := idx[f.Name].line(path); l > 0 {
				return Position{File: f.Name, Line: l}
			}
		}
		return Position{File: files[0].Name}
	}
	// underKey finds a scalar naming file below services or include, and
	// returns it as written.
	underKey := func(key, file string) (Position, string, string) {
		base := filepath.Base(file)
		for _, f := range files {
			if len(f.docs) == 0 {
				continue
			}
			for _, scope := range []string{"services", "include"} {
				n := nodeAt(f.docs[0], scope)
				if n == nil {
					continue
				}
				if path, line := findValueIn(n, base); line > 0 && (key == "" || strings.Contains(path, key)) {
					written := file
					if v := nodeAt(n, path); v != nil {
						written = v.Value
					}
					return Position{File: f.Name, Line: line}, join(scope, path), written
				}
			}
		}
		return Position{File: files[0].Name}, "", file
	}
	switch {
	case extendsRe().MatchString(msg):
		m := extendsRe().FindStringSubmatch(msg)
		p := Problem{Position: find("services." + m[1] + ".extends.service"), Service: m[1],
			Message: fmt.Sprintf("extends service %q, which %s does not define", m[3], m[2])}
		var names []string
		for _, f := range files {
			if len(f.docs) > 0 {
				if svcs := nodeAt(f.docs[0], "services"); svcs != nil && svcs.Kind == yaml.MappingNode {
					for i := 0; i < len(svcs.Content); i += 2 {
						names = append(names, svcs.Content[i].Value)
					}
				}
			}
		}
		if sug := closest(m[3], names); sug != "" && sug != m[1] {
			p.Fix = fmt.Sprintf("did you mean %q?", sug)
		}
		return p, true
	case refFileRe().MatchString(msg):
		m := refFileRe().FindStringSubmatch(msg)
		pos, path, written := underKey(m[1]+"_file", m[2])
		p := Problem{Position: pos, Service: serviceOf(path), Message: fmt.Sprintf("%s file %s: no such file", m[1], written),
			Fix: "create it, or correct the path (relative to the stack file's directory)"}
		if m[1] == "env" {
			p.Fix += "; an optional one is written {path: FILE, required: false}"
		}
		return p, true
	case openMissing().MatchString(msg):
		file := openMissing().FindStringSubmatch(msg)[1]
		pos, path, written := underKey("", file)
		return Problem{Position: pos, Service: serviceOf(path), Message: fmt.Sprintf("%s: no such file", written),
			Fix: "correct the path of the extends or include entry (relative to the stack file's directory)"}, true
	case portErrorRe().MatchString(msg):
		m := portErrorRe().FindStringSubmatch(msg)
		for _, f := range files {
			path, line := findPortEntry(f, env, m[2], unset)
			if line == 0 {
				continue
			}
			p := Problem{Position: Position{File: f.Name, Line: line}, Service: serviceOf(path),
				Message: fmt.Sprintf("%s: invalid %s %q", path, m[1], m[2]), Fix: valueFix(m[1])}
			return p, true
		}
	case leadingPath().MatchString(msg):
		m := leadingPath().FindStringSubmatch(msg)
		path := normalizePath(m[1])
		rest := m[2]
		if !strings.Contains(msg, m[1]+":") {
			rest = strings.TrimPrefix(msg, m[1]+" ")
		}
		return Problem{Position: find(path), Service: serviceOf(path), Message: path + ": " + rest}, true
	}
	return Problem{}, false
}

// findPortEntry finds the ports entry a port error is about: one holding
// the value, or one whose substitution does; for an empty value, the first
// entry that uses an unset variable.
func findPortEntry(f sourceFile, env map[string]string, value string, unset []string) (string, int) {
	if len(f.docs) == 0 {
		return "", 0
	}
	services := nodeAt(f.docs[0], "services")
	if services == nil || services.Kind != yaml.MappingNode {
		return "", 0
	}
	for i := 0; i+1 < len(services.Content); i += 2 {
		name := services.Content[i].Value
		ports := nodeAt(services.Content[i+1], "ports")
		if ports == nil {
			continue
		}
		base := "services." + name + ".ports"
		if value != "" {
			if path, line := findValueIn(ports, value); line > 0 {
				return join(base, path), line
			}
			sub := sourceFile{docs: []*yaml.Node{ports}}
			if path, line := findSubstituted(sub, env, value); line > 0 {
				return join(base, path), line
			}
			continue
		}
		for _, v := range unset {
			if path, line := findValueIn(ports, "${"+v); line > 0 {
				return join(base, path), line
			}
			if path, line := findValueIn(ports, "$"+v); line > 0 {
				return join(base, path), line
			}
		}
	}
	return "", 0
}

var unsetVarRe = lazyRegexp(`^The "([^"]+)" variable is not set`)

// unsetVariables reads the names out of compose-go's "variable is not
// set" warnings.
func unsetVariables(warnings []string) []string {
	var out []string
	for _, w := range warnings {
		if m := unsetVarRe().FindStringSubmatch(w); m != nil && !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// explainUnset puts first, in each problem, the unset variables used on
// its line: a value that is invalid only because a variable is missing
// says so before what compose-go made of it.
func explainUnset(ps Problems, files []sourceFile, unset []string) Problems {
	if len(unset) == 0 {
		return ps
	}
	for i, p := range ps {
		if p.Line == 0 {
			continue
		}
		var used []string
		for _, f := range files {
			if f.Name != p.File {
				continue
			}
			lines := strings.Split(string(f.Content), "\n")
			if p.Line > len(lines) {
				continue
			}
			for _, v := range unset {
				if refersTo(lines[p.Line-1], v) {
					used = append(used, v)
				}
			}
		}
		if len(used) == 0 {
			continue
		}
		verb := "is"
		if len(used) > 1 {
			verb = "are"
		}
		ps[i].Message = fmt.Sprintf("%s %s not set (substituted as empty): %s", strings.Join(used, ", "), verb, p.Message)
		fix := fmt.Sprintf("set %s in the environment, .env or an --env-file, or give a default: ${%s:-VALUE}", used[0], used[0])
		if p.Fix != "" {
			fix += "; " + p.Fix
		}
		ps[i].Fix = fix
	}
	return ps
}

// refersTo reports whether line refers to variable v ($v or ${v...}).
func refersTo(line, v string) bool {
	for _, m := range varExpr().FindAllStringSubmatch(line, -1) {
		if m[1] == v || m[3] == v {
			return true
		}
	}
	return false
}

var canonicalInt = lazyRegexp(`^[-+]?(0|[1-9][0-9]*)$`)

// preComposeProblems finds, before compose-go reads the files, values on
// which compose-go panics instead of returning an error: a ulimit soft or
// hard limit that is not a plain integer (048 reads as a float, and
// compose-go v2.16 asserts an int).
func preComposeProblems(files []sourceFile) Problems {
	var ps Problems
	for _, f := range files {
		if len(f.docs) == 0 {
			continue
		}
		services := nodeAt(f.docs[0], "services")
		if services == nil || services.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(services.Content); i += 2 {
			name := services.Content[i].Value
			ulimits := nodeAt(services.Content[i+1], "ulimits")
			if ulimits == nil || ulimits.Kind != yaml.MappingNode {
				continue
			}
			for j := 0; j+1 < len(ulimits.Content); j += 2 {
				limit, v := ulimits.Content[j].Value, ulimits.Content[j+1]
				check := func(what string, n *yaml.Node) {
					if n == nil || n.Kind != yaml.ScalarNode || strings.Contains(n.Value, "$") || canonicalInt().MatchString(n.Value) {
						return
					}
					ps = append(ps, Problem{Position: Position{File: f.Name, Line: n.Line}, Service: name,
						Message: fmt.Sprintf("ulimit %s: %s must be a whole number, got %q", limit, what, n.Value),
						Fix:     "write a number without leading zeros, e.g. 65536"})
				}
				if v.Kind == yaml.MappingNode {
					check("soft", nodeAt(v, "soft"))
					check("hard", nodeAt(v, "hard"))
				} else {
					check("the limit", v)
				}
			}
		}
	}
	return ps
}

var (
	yamlLineRe         = lazyRegexp(`line (\d+)`)
	validatingRe       = lazyRegexp(`^validating (.+?): (\S*) ?(.*)$`)
	addPropRe          = lazyRegexp(`additional propert(?:y|ies) (?:'([^']+)'|(\S+)) not allowed`)
	interpRe           = lazyRegexp(`error while interpolating (\S+): (.*)$`)
	decodingRe         = lazyRegexp(`'([^']+)' (.*)`)
	parseFileRe        = lazyRegexp(`(?s)^failed to parse (.+?): (.*)$`)
	undefinedRe        = lazyRegexp(`service "([^"]+)" (.*)$`)
	unknownFieldYAMLRe = lazyRegexp(`field (\S+) not found`)
	badValueRe         = lazyRegexp(`invalid (containerPort|hostPort|port|hostIP|proto|protocol|IP address)s?:? "?([^"\s]+)"?`)
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

	if m := validatingRe().FindStringSubmatch(msg); m != nil {
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
	if m := parseFileRe().FindStringSubmatch(msg); m != nil {
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
	if m := interpRe().FindStringSubmatch(msg); m != nil {
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
			if m := decodingRe().FindStringSubmatch(line); m != nil {
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
	if m := undefinedRe().FindStringSubmatch(msg); m != nil {
		file, line := findPath("services." + m[1])
		return Problems{{Position: Position{File: file, Line: line}, Service: m[1], Message: m[2]}}
	}
	// compose-go reports a bad port or similar value without its place:
	// find the value in the files.
	if m := badValueRe().FindStringSubmatch(msg); m != nil {
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
	if l := yamlLineRe().FindStringSubmatch(msg); l != nil {
		p.Line, _ = strconv.Atoi(l[1])
	}
	return Problems{p}
}

// schemaProblem positions one schema error (`services.web.comand additional
// properties 'comand' not allowed`).
func schemaProblem(file string, idx positions, path, rest string) Problem {
	p := Problem{Position: Position{File: file}, Service: serviceOf(path)}
	if m := addPropRe().FindStringSubmatch(rest); m != nil {
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

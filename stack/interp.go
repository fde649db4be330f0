package stack

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"go.yaml.in/yaml/v3"
)

// compose-go's interpolation reports every failing value, joined, each
// with a path whose list indexes are "[]" (services.web.ports.[]). These
// become one problem each, at the line of the scalar that holds the
// failing expression.

var interpLeafRe = lazyRegexp(`^(?:error while interpolating (\S+): |invalid interpolation format for (\S+?)\.\n)`)

// interpolationProblems turns an interpolation error into positioned
// problems, searching docs (file name -> parsed document) in order; ok is
// false when err holds no interpolation error.
func interpolationProblems(err error, docs []namedDoc) (Problems, bool) {
	var out Problems
	for _, leaf := range leafErrs(err) {
		m := interpLeafRe().FindStringSubmatch(leaf.Error())
		if m == nil {
			continue
		}
		pattern := m[1] + m[2]
		var needle, msg, fix string
		var missing *template.MissingRequiredError
		var invalid *template.InvalidTemplateError
		switch {
		case errors.As(leaf, &missing):
			needle = "${" + missing.Variable
			msg = "required variable " + missing.Variable + " is missing a value"
			if missing.Reason != "" {
				msg += ": " + missing.Reason
			}
			fix = "set the variable in the environment, .env or an --env-file"
		case errors.As(leaf, &invalid):
			needle = invalid.Template
			msg = fmt.Sprintf("invalid interpolation %q", invalid.Template)
			fix = "close the ${...}, or write $$ for a literal $"
		default:
			msg = strings.TrimPrefix(leaf.Error(), m[0])
		}
		p := Problem{Message: pattern + ": " + msg, Fix: fix}
		for _, d := range docs {
			if d.root == nil {
				continue
			}
			if path, line := findPattern(d.root, pattern, needle); line > 0 {
				p.File, p.Line, p.Message = d.name, line, path+": "+msg
				p.Service = serviceOf(path)
				break
			}
		}
		if p.File == "" && len(docs) > 0 {
			// No parsed node holds it (the file did not parse as YAML 1.1
			// the way compose-go read it): find the text.
			p.File = docs[0].name
			p.Service = serviceOf(pattern)
			for _, d := range docs {
				if i := bytes.Index(d.content, []byte(needle)); needle != "" && i >= 0 {
					p.File, p.Line = d.name, bytes.Count(d.content[:i], []byte("\n"))+1
					break
				}
			}
		}
		out = append(out, p)
	}
	return out, len(out) > 0
}

// namedDoc is a parsed document and the file it is from (root is nil
// when the file did not parse).
type namedDoc struct {
	name    string
	root    *yaml.Node
	content []byte
}

// leafErrs flattens errors.Join trees.
func leafErrs(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrs(e)...)
		}
		return out
	}
	if u := errors.Unwrap(err); u != nil {
		if _, ok := u.(interface{ Unwrap() []error }); ok {
			return leafErrs(u)
		}
	}
	return []error{err}
}

// findPattern finds the first scalar (or mapping key) under root whose
// path matches pattern ("[]" matches any list index) and whose text
// contains needle ("" matches any), and returns its path and line.
func findPattern(root *yaml.Node, pattern, needle string) (string, int) {
	parts := strings.Split(pattern, ".")
	var walk func(n *yaml.Node, i int, path string) (string, int)
	walk = func(n *yaml.Node, i int, path string) (string, int) {
		if n.Kind == yaml.DocumentNode {
			if len(n.Content) == 0 {
				return "", 0
			}
			return walk(n.Content[0], i, path)
		}
		if i == len(parts) {
			if _, line := findValueIn(n, needle); line > 0 {
				return path, line
			}
			return "", 0
		}
		switch n.Kind {
		case yaml.MappingNode:
			for k := 0; k+1 < len(n.Content); k += 2 {
				if n.Content[k].Value == parts[i] {
					if p, l := walk(n.Content[k+1], i+1, join(path, parts[i])); l > 0 {
						return p, l
					}
				}
			}
		case yaml.SequenceNode:
			for k, c := range n.Content {
				if parts[i] == "[]" || parts[i] == strconv.Itoa(k) {
					if p, l := walk(c, i+1, join(path, strconv.Itoa(k))); l > 0 {
						return p, l
					}
				}
			}
		}
		return "", 0
	}
	return walk(root, 0, "")
}

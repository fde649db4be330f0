package stack

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// positions maps a dotted path in one YAML file (services.web.ports.1) to
// the line it starts on. compose-go reports many errors by path only; this
// index puts a line number on them.
type positions map[string]int

// composePositions records the line of every mapping key and sequence item
// of a compose file (its first document).
func composePositions(f sourceFile) positions {
	if len(f.docs) == 0 {
		return positions{}
	}
	return indexNode(f.docs[0])
}

// indexNode records the line of every mapping key and sequence item below n.
func indexNode(root *yaml.Node) positions {
	idx := positions{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := join(path, k.Value)
				idx[p] = k.Line
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := join(path, strconv.Itoa(i))
				idx[p] = c.Line
				walk(c, p)
			}
		case yaml.AliasNode:
			if n.Alias != nil {
				walk(n.Alias, path)
			}
		}
	}
	walk(root, "")
	return idx
}

// lineOfKey returns the first line of a key with this last path segment.
func (p positions) lineOfKey(key string) int {
	best := 0
	for path, line := range p {
		if path == key || strings.HasSuffix(path, "."+key) {
			if best == 0 || line < best {
				best = line
			}
		}
	}
	return best
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// line returns the line of path, or of its nearest ancestor that has one.
func (p positions) line(path string) int {
	for path != "" {
		if l, ok := p[path]; ok {
			return l
		}
		i := strings.LastIndex(path, ".")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// exact returns the line of path itself, 0 when the file does not have it.
func (p positions) exact(path string) int {
	return p[path]
}

var bracketPath = lazyRegexp(`\[([^\]]+)\]`)

// normalizePath turns compose-go's services[web].healthcheck into
// services.web.healthcheck.
func normalizePath(p string) string {
	p = bracketPath().ReplaceAllString(p, ".$1")
	return strings.Trim(p, "'\". ")
}

// serviceOf returns the service a path is under ("" for none).
func serviceOf(path string) string {
	parts := strings.Split(path, ".")
	if len(parts) >= 2 && parts[0] == "services" {
		return parts[1]
	}
	return ""
}

// nodeAt returns the node at a dotted path below root (mapping keys and
// sequence indexes), or nil. It does not follow aliases.
func nodeAt(root *yaml.Node, path string) *yaml.Node {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, part := range strings.Split(path, ".") {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part {
					next = n.Content[i+1]
					break
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(part); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// findValue returns the path and line of the first scalar in f whose
// value contains v, for errors that name a value but not its place.
func findValue(f sourceFile, v string) (string, int) {
	if len(f.docs) == 0 {
		return "", 0
	}
	return findValueIn(f.docs[0], v)
}

// findValueIn is findValue over a parsed node.
func findValueIn(root *yaml.Node, v string) (string, int) {
	return findScalar(root, func(value string) bool { return strings.Contains(value, v) })
}

// findScalar returns the path and line of the first scalar under root,
// in document order, whose value match accepts.
func findScalar(root *yaml.Node, match func(value string) bool) (string, int) {
	var foundPath string
	var foundLine int
	var walk func(n *yaml.Node, path string) bool
	walk = func(n *yaml.Node, path string) bool {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				if walk(c, path) {
					return true
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if walk(n.Content[i+1], join(path, n.Content[i].Value)) {
					return true
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if walk(c, join(path, strconv.Itoa(i))) {
					return true
				}
			}
		case yaml.ScalarNode:
			if match(n.Value) {
				foundPath, foundLine = path, n.Line
				return true
			}
		}
		return false
	}
	walk(root, "")
	return foundPath, foundLine
}

// mountTargets returns, per service, the container paths its volumes entries
// mount to, with their lines, straight from one file: compose-go merges
// entries with the same target silently, which hides a likely mistake.
func mountTargets(f sourceFile) map[string][]Position {
	var doc struct {
		Services map[string]struct {
			Volumes []yaml.Node `yaml:"volumes"`
		} `yaml:"services"`
	}
	if len(f.docs) == 0 || f.docs[0].Decode(&doc) != nil {
		return nil
	}
	out := map[string][]Position{}
	for name, svc := range doc.Services {
		seen := map[string]bool{}
		for _, n := range svc.Volumes {
			target := ""
			switch n.Kind {
			case yaml.ScalarNode:
				parts := strings.Split(n.Value, ":")
				switch {
				case len(parts) == 1:
					target = parts[0]
				case len(parts) >= 2:
					target = parts[1]
				}
			case yaml.MappingNode:
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == "target" {
						target = n.Content[i+1].Value
					}
				}
			}
			if target == "" {
				continue
			}
			if seen[target] {
				out[name] = append(out[name], Position{File: target, Line: n.Line})
			}
			seen[target] = true
		}
	}
	return out
}

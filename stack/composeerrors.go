package stack

import (
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
			if !strings.Contains(n.Value, "$") {
				return false
			}
			if out, err := template.Substitute(n.Value, lookup); err == nil && strings.Contains(out, v) {
				foundPath, foundLine = path, n.Line
				return true
			}
		}
		return false
	}
	walk(f.docs[0], "")
	return foundPath, foundLine
}

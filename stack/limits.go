package stack

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Limits on one stack file, checked on the parsed YAML before compose-go,
// the Kubernetes loader or the position index see it. A YAML alias is a
// pointer: nine nested levels of nine aliases each make a 400-byte file
// that expands to 43 million nodes, and every reader that follows aliases
// (compose-go, the position index, a JSON round trip) then needs gigabytes.
// Real stacks are far below both limits: a generated 1000-service file is
// 0.2 MB and under 40 thousand nodes.
const (
	// MaxFileBytes is the largest stack file read: parsing costs up to
	// about 120 bytes of memory per byte of a file of tiny nodes.
	MaxFileBytes = 4 << 20
	// MaxYAMLNodes bounds the nodes of one file with every alias expanded
	// (all its documents together): loading costs about 1 KB per node.
	MaxYAMLNodes = 250_000
)

// expansionProblem returns a problem when the documents of f, with their
// aliases expanded, have more than limit nodes, or an alias contains
// itself. It counts without expanding: each anchored node's size is
// computed once, so the check is linear in the file.
func expansionProblem(f sourceFile, limit int) *Problem {
	sizes := map[*yaml.Node]int{}
	visiting := map[*yaml.Node]bool{}
	var cyclic *yaml.Node
	// size is the node count below n with aliases expanded, saturating
	// at limit+1 so that deep nesting cannot overflow.
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if n == nil || cyclic != nil {
			return 0
		}
		if s, ok := sizes[n]; ok {
			return s
		}
		if visiting[n] {
			cyclic = n
			return 0
		}
		visiting[n] = true
		total := 1
		if n.Kind == yaml.AliasNode {
			total = size(n.Alias)
		}
		for _, c := range n.Content {
			total = min(total+size(c), limit+1)
		}
		delete(visiting, n)
		sizes[n] = total
		return total
	}
	// Walk the literal tree in document order, adding each alias's
	// expansion, so the problem names the alias that passes the limit.
	total := 0
	var over *yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || over != nil || cyclic != nil {
			return
		}
		if n.Kind == yaml.AliasNode {
			total = min(total+size(n.Alias), limit+1)
		} else {
			total++
		}
		if total > limit {
			over = n
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, d := range f.docs {
		walk(d)
	}
	switch {
	case cyclic != nil:
		return &Problem{Position: Position{File: f.Name, Line: aliasLine(f, cyclic)},
			Message: fmt.Sprintf("YAML alias *%s refers to a node that contains it: the value never ends", cyclic.Anchor),
			Fix:     "point the alias at a node outside the anchored one"}
	case over != nil && over.Kind == yaml.AliasNode:
		return &Problem{Position: Position{File: f.Name, Line: over.Line},
			Message: fmt.Sprintf("YAML aliases expand to more than %d nodes (passed at alias *%s)", limit, over.Value),
			Fix:     "write the repeated values out, or nest fewer anchors"}
	case over != nil:
		return &Problem{Position: Position{File: f.Name, Line: over.Line},
			Message: fmt.Sprintf("the file has more than %d YAML nodes, more than podstack reads", limit),
			Fix:     "split the stack into several files"}
	}
	return nil
}

// aliasLine is the line of the first alias to the anchored node n.
func aliasLine(f sourceFile, n *yaml.Node) int {
	line := 0
	var walk func(c *yaml.Node, depth int)
	walk = func(c *yaml.Node, depth int) {
		if c == nil || line > 0 || depth > 10000 {
			return
		}
		if c.Kind == yaml.AliasNode {
			if c.Alias == n {
				line = c.Line
			}
			return
		}
		for _, x := range c.Content {
			walk(x, depth+1)
		}
	}
	for _, d := range f.docs {
		walk(d, 0)
	}
	if line == 0 {
		line = n.Line
	}
	return line
}

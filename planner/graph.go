package planner

import (
	"fmt"
	"io"
	"strings"

	"github.com/podstack/podstack/stack"
)

// Graph writes the dependency graph of services, grouped by pod, as
// Graphviz DOT ("dot") or a Mermaid flowchart ("mermaid"). Edges point from
// a service to what it depends on and are labelled with the condition.
func Graph(s *stack.Stack, pods []*Pod, format string, w io.Writer) error {
	switch format {
	case "dot":
		return graphDOT(s, pods, w)
	case "mermaid":
		return graphMermaid(s, pods, w)
	}
	return fmt.Errorf("unknown graph format %q: use dot or mermaid", format)
}

func conditionLabel(c stack.Condition) string {
	switch c {
	case stack.ConditionHealthy:
		return "healthy"
	case stack.ConditionCompleted:
		return "completed"
	}
	return "started"
}

func graphDOT(s *stack.Stack, pods []*Pod, w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n", s.Name)
	for i, p := range pods {
		fmt.Fprintf(&b, "  subgraph cluster_%d {\n    label=%q;\n", i, "pod "+p.Name)
		for _, svc := range p.Services {
			label := svc
			if sv := s.Services[svc]; sv != nil && sv.Health != nil {
				label += "\\n(healthcheck)"
			}
			fmt.Fprintf(&b, "    %q [label=\"%s\"];\n", svc, label)
		}
		b.WriteString("  }\n")
	}
	for _, name := range s.ServiceNames() {
		svc := s.Services[name]
		for _, dep := range sortedKeys(svc.DependsOn) {
			d := svc.DependsOn[dep]
			style := ""
			if !d.Required {
				style = ", style=dashed"
			}
			fmt.Fprintf(&b, "  %q -> %q [label=%q%s];\n", name, dep, conditionLabel(d.Condition), style)
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func mermaidID(s string) string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(s)
}

func graphMermaid(s *stack.Stack, pods []*Pod, w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, p := range pods {
		fmt.Fprintf(&b, "  subgraph pod_%s[\"pod %s\"]\n", mermaidID(p.Key), p.Name)
		for _, svc := range p.Services {
			fmt.Fprintf(&b, "    %s[\"%s\"]\n", mermaidID(svc), svc)
		}
		b.WriteString("  end\n")
	}
	for _, name := range s.ServiceNames() {
		svc := s.Services[name]
		for _, dep := range sortedKeys(svc.DependsOn) {
			d := svc.DependsOn[dep]
			arrow := "-->"
			if !d.Required {
				arrow = "-.->"
			}
			fmt.Fprintf(&b, "  %s %s|%s| %s\n", mermaidID(name), arrow, conditionLabel(d.Condition), mermaidID(dep))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

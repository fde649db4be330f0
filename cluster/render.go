package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// String is the plan's stable text form: one line per step, and under an
// Apply that changes an object, one line per field it changes:
//
//	#4 Apply Deployment/web <- #2: 1 field changed
//	    ~ spec.replicas: 1 -> 3
//
// Golden tests and `stack plan --target kube --format text` use it.
func (p *Plan) String() string {
	var b strings.Builder
	for _, st := range p.Steps {
		b.WriteString(st.String())
		b.WriteByte('\n')
		for _, c := range st.Changes {
			fmt.Fprintf(&b, "    %s\n", c)
		}
	}
	return b.String()
}

// WriteTable prints the plan for people: the steps as aligned columns,
// then the fields each change touches, then the warnings.
func (p *Plan) WriteTable(w io.Writer) error {
	if !p.Writes() && len(p.Steps) == 0 {
		_, err := fmt.Fprintf(w, "Nothing to do: %s is up to date (%d objects).\n", p.Target, len(p.Unchanged))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tACTION\tOBJECT\tAFTER\tCAUSE")
	for _, st := range p.Steps {
		after := make([]string, len(st.Deps))
		for i, d := range st.Deps {
			after[i] = fmt.Sprintf("#%d", d)
		}
		fmt.Fprintf(tw, "#%d\t%s\t%s\t%s\t%s\n", st.ID, st.Kind, st.Object, strings.Join(after, ","), st.Cause)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range p.Steps {
		if len(st.Changes) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", st.Object)
		for _, c := range st.Changes {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	if len(p.Unchanged) > 0 {
		names := make([]string, len(p.Unchanged))
		for i, r := range p.Unchanged {
			names[i] = r.String()
		}
		fmt.Fprintf(w, "\nUnchanged: %s\n", strings.Join(names, ", "))
	}
	return nil
}

// JSON is the plan as one JSON document.
func (p *Plan) JSON() ([]byte, error) {
	q := *p
	if q.Steps == nil {
		q.Steps = []*Step{} // "steps": [], never null, for jq and scripts
	}
	return json.MarshalIndent(&q, "", "  ")
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// machine is where a run happened.
type machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Kernel string `json:"kernel"`
	Podman string `json:"podman"`
	Stack  string `json:"stack"`
	Date   string `json:"date"`
}

func (m machine) String() string {
	return fmt.Sprintf("%d cores (%s), Linux %s, Podman %s, stack %s, %s", m.Cores, m.CPU, m.Kernel, m.Podman, m.Stack, m.Date)
}

// result is one tool's samples on one row, in seconds.
type result struct {
	Row      string    `json:"row"`
	Title    string    `json:"title"`
	Services int       `json:"services"`
	Linear   bool      `json:"linear,omitempty"`
	Tool     string    `json:"tool"`
	Samples  []float64 `json:"samples"`
	Median   float64   `json:"median"`
	Err      string    `json:"error,omitempty"`
}

// pass is every row measured in one mode.
type pass struct {
	Mode       string   `json:"mode"`
	Start      string   `json:"start"`
	LoadBefore string   `json:"loadBefore"`
	LoadAfter  string   `json:"loadAfter"`
	Results    []result `json:"results"`
}

type report struct {
	Machine  machine        `json:"machine"`
	Rounds   int            `json:"rounds"`
	Requests []requestCount `json:"requests,omitempty"`
	Passes   []pass         `json:"passes"`
}

// line is one row of a pass's table.
type line struct {
	title string
	by    map[string]result
}

func (p pass) lines() []line {
	var out []line
	idx := map[string]int{}
	for _, r := range p.Results {
		i, ok := idx[r.Row]
		if !ok {
			i = len(out)
			idx[r.Row] = i
			out = append(out, line{title: r.Title, by: map[string]result{}})
		}
		out[i].by[r.Tool] = r
	}
	return out
}

func cell(r result, ok bool) string {
	switch {
	case !ok:
		return "—"
	case r.Err != "":
		return "failed"
	}
	return fmt.Sprintf("%.3f s", r.Median)
}

func ratio(a, b result, aok, bok bool) string {
	if !aok || !bok || a.Err != "" || b.Err != "" || b.Median == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a.Median/b.Median)
}

// markdown is the pass as a Markdown table: medians and ratios.
func (p pass) markdown(w io.Writer) {
	fmt.Fprintf(w, "| work (%s; load %s → %s) | stack | bare REST | kube play | stack ÷ REST | stack ÷ kube |\n|---|---|---|---|---|---|\n",
		p.Mode, p.LoadBefore, p.LoadAfter)
	for _, l := range p.lines() {
		s, sok := l.by["stack"]
		r, rok := l.by["rest"]
		k, kok := l.by["kube"]
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", l.title, cell(s, sok), cell(r, rok), cell(k, kok), ratio(s, r, sok, rok), ratio(s, k, sok, kok))
	}
	for _, l := range p.lines() {
		for _, t := range tools {
			if r, ok := l.by[t]; ok && r.Err != "" {
				fmt.Fprintf(w, "\n%s, %s failed: %s\n", l.title, t, r.Err)
			}
		}
	}
}

func (p pass) print(w io.Writer) {
	fmt.Fprintln(w)
	p.markdown(w)
}

func (rep report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# stack beside its peers\n\nWritten by `make bench` (internal/peerbench): medians of %d interleaved rounds on %s.\n"+
		"`stack` is the built binary; bare REST is the fewest libpod calls doing the same work, from a process of its own; kube play is `podman kube play` / `kube down` of one Pod per service (no health gating).\n",
		rep.Rounds, rep.Machine)
	for _, p := range rep.Passes {
		md.WriteString("\n")
		p.markdown(&md)
	}
	if len(rep.Requests) > 0 {
		md.WriteString("\n")
		writeRequests(&md, rep.Requests, 40)
	}
	// The plot only where the run measured its rows (-rows may leave
	// them out): an empty chart would read as a result.
	svg := filepath.Join(dir, "linearity.svg")
	if rep.linear() {
		md.WriteString("\n![up + down time against the number of services](linearity.svg)\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	if !rep.linear() {
		if err := os.Remove(svg); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	return os.WriteFile(svg, []byte(plot(rep)), 0o644)
}

// linear reports whether any pass measured a row of the plot.
func (rep report) linear() bool {
	for _, p := range rep.Passes {
		for _, r := range p.Results {
			if r.Linear && r.Err == "" && r.Median > 0 {
				return true
			}
		}
	}
	return false
}

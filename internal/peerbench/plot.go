package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"math"
	"os"
	"sort"
	"strings"
)

var toolNames = map[string]string{"stack": "stack", "rest": "bare REST", "kube": "podman kube play"}
var toolColors = map[string]string{"stack": "#1f6fb4", "rest": "#2a9d3c", "kube": "#d1452f"}

// plot draws the linear rows, up + down time against the number of
// services, one line per tool and pass (busy dashed), as an SVG document.
func plot(rep report) string {
	const w, h = 720, 440
	const left, right, top, bottom = 70, 190, 50, 60
	type series struct {
		tool, mode string
		xs, ys     []float64
	}
	var all []series
	maxX, maxY := 0.0, 0.0
	for _, p := range rep.Passes {
		for _, t := range tools {
			s := series{tool: t, mode: p.Mode}
			for _, r := range p.Results {
				if r.Linear && r.Tool == t && r.Err == "" && r.Median > 0 {
					s.xs = append(s.xs, float64(r.Services))
					s.ys = append(s.ys, r.Median)
					maxX, maxY = math.Max(maxX, float64(r.Services)), math.Max(maxY, r.Median)
				}
			}
			if len(s.xs) > 0 {
				all = append(all, s)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">up + down of N independent services (median of %d)</text>`+"\n", left, rep.Rounds)
	fmt.Fprintf(&b, `<text x="%d" y="39" fill="#555">%s</text>`+"\n", left, html.EscapeString(fmt.Sprintf("%d cores, Podman %s, %s", rep.Machine.Cores, rep.Machine.Podman, rep.Machine.Date)))
	if len(all) == 0 {
		b.WriteString(`<text x="100" y="200">no linear rows measured</text></svg>` + "\n")
		return b.String()
	}
	maxX = niceCeil(maxX)
	maxY = niceCeil(maxY)
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	px := func(x float64) float64 { return float64(left) + x/maxX*pw }
	py := func(y float64) float64 { return float64(top) + ph - y/maxY*ph }
	// Axes, grid and ticks.
	for i := 0; i <= 5; i++ {
		y := maxY * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, py(y), w-right, py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, py(y)+4, trimFloat(y))
		x := maxX * float64(i) / 5
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(x), h-bottom+18, trimFloat(x))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, top, left, h-bottom)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">services</text>`+"\n", float64(left)+pw/2, h-bottom+40)
	fmt.Fprintf(&b, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">seconds</text>`+"\n", float64(top)+ph/2)
	// Lines and legend.
	for i, s := range all {
		idx := make([]int, len(s.xs))
		for k := range idx {
			idx[k] = k
		}
		sort.Slice(idx, func(a, c int) bool { return s.xs[idx[a]] < s.xs[idx[c]] })
		var pts []string
		for _, k := range idx {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.xs[k]), py(s.ys[k])))
		}
		dash := ""
		if s.mode != "quiet" {
			dash = ` stroke-dasharray="6 4"`
		}
		color := toolColors[s.tool]
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), color, dash)
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], color)
		}
		ly := top + 10 + i*20
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", w-right+12, ly, w-right+40, ly, color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s, %s</text>`+"\n", w-right+46, ly+4, toolNames[s.tool], s.mode)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}

// plotMain is `peerbench plot -in results.json -out linearity.svg`: it
// redraws the plot of a saved run.
func plotMain(args []string) error {
	fs := flag.NewFlagSet("plot", flag.ContinueOnError)
	in := fs.String("in", "results.json", "a saved run")
	out := fs.String("out", "linearity.svg", "where to write the plot")
	if err := fs.Parse(args); err != nil {
		return err
	}
	data, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	return os.WriteFile(*out, []byte(plot(rep)), 0o644)
}

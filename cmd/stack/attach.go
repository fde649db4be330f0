package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
)

// logPrinter writes container log lines with a `service-1 | ` prefix,
// coloured per container when the output is a terminal.
type logPrinter struct {
	w       io.Writer
	width   int
	color   bool
	prefix  bool
	project string
	colors  map[string]string
}

var palette = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

func newLogPrinter(g *globalOptions, project string, names []string, noColor, noPrefix bool) *logPrinter {
	p := &logPrinter{w: g.streams.out, prefix: !noPrefix, project: project, colors: map[string]string{}}
	p.color = !noColor && g.ansiOn(g.streams.out)
	p.size(names)
	return p
}

// size fits the prefixes to names and gives each its colour.
func (p *logPrinter) size(names []string) {
	for i, n := range names {
		if l := len(p.short(n)); l > p.width {
			p.width = l
		}
		p.colors[n] = palette[i%len(palette)]
	}
}

// short drops the project prefix: demo-web-1 -> web-1.
func (p *logPrinter) short(name string) string {
	return strings.TrimPrefix(name, planner.Name(p.project, ""))
}

func (p *logPrinter) print(l ops.LogLine) {
	if !p.prefix {
		fmt.Fprintln(p.w, l.Text)
		return
	}
	prefix := fmt.Sprintf("%-*s |", p.width, p.short(l.Container))
	if p.color {
		prefix = "\x1b[" + p.colors[l.Container] + "m" + prefix + "\x1b[0m"
	}
	fmt.Fprintf(p.w, "%s %s\n", prefix, l.Text)
}

func newLogsCommand(g *globalOptions) *cobra.Command {
	var (
		follow, timestamps, noColor, noPrefix bool
		tail                                  int
		since, until                          string
	)
	cmd := &cobra.Command{
		Use:   "logs [SERVICE...]",
		Short: "Show the services' output, multiplexed with service prefixes",
		Example: `  stack logs -f
  stack -f dev.yaml logs -f web
  stack logs --tail 20 api db
  stack logs --since 10m --timestamps web`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			names, err := p.LogNames(ctx, args)
			if err != nil {
				return err
			}
			pr := newLogPrinter(g, p.Name, names, noColor, noPrefix)
			return p.Logs(ctx, args, ops.LogOptions{Follow: follow, Tail: tail, Since: since, Until: until, Timestamps: timestamps}, pr.print)
		}),
	}
	f := cmd.Flags()
	// -f after `logs` is rewritten to --follow by followShorthand, since the
	// global -f names the stack file.
	f.BoolVar(&follow, "follow", false, "keep following the output (also across restarts); -f after logs")
	f.IntVarP(&tail, "tail", "n", -1, "show only the last N lines of each container (-1: all)")
	f.StringVar(&since, "since", "", "show logs since a timestamp (2026-01-02T15:04:05) or a duration (10m)")
	f.StringVar(&until, "until", "", "show logs before a timestamp or duration")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	f.BoolVar(&noColor, "no-color", false, "no colours in the prefixes")
	f.BoolVar(&noPrefix, "no-log-prefix", false, "print the lines without the service prefix")
	return cmd
}

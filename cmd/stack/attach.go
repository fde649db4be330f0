package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/internal/display"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/podmanapi"
	"github.com/podstack/podstack/stack"
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
	if f, ok := g.streams.out.(*os.File); ok && display.IsTerminal(f) && !noColor && g.getenv("NO_COLOR") == "" && g.getenv("TERM") != "dumb" {
		p.color = true
	}
	for i, n := range names {
		if l := len(p.short(n)); l > p.width {
			p.width = l
		}
		p.colors[n] = palette[i%len(palette)]
	}
	return p
}

// short drops the project prefix: demo-web-1 -> web-1.
func (p *logPrinter) short(name string) string {
	return strings.TrimPrefix(name, planner.Name(p.project, ""))
}

func (p *logPrinter) print(l podmanapi.LogLine) {
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

// attach follows the services' logs until Ctrl-C, then stops the stack in
// reverse dependency order; a second Ctrl-C kills it instead.
func attach(ctx context.Context, g *globalOptions, c *podmanapi.Client, s *stack.Stack, opts planner.Options) error {
	names, err := serviceContainers(ctx, c, s.Name, opts.Services)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.streams.err, "Attaching to %s (Ctrl+C stops the stack)\n", strings.Join(names, ", "))
	p := newLogPrinter(g, s.Name, names, false, false)
	logErr := c.StreamLogs(ctx, names, podmanapi.LogOptions{Follow: true, Tail: -1}, p.print)
	if ctx.Err() == nil {
		return logErr
	}
	fmt.Fprintln(g.streams.err, "Gracefully stopping... (press Ctrl+C again to force)")
	stopCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-g.force:
			cancel()
		case <-stopCtx.Done():
		}
	}()
	r, err := g.renderer()
	if err != nil {
		return err
	}
	_, err = planner.Down(stopCtx, c, s.Name, s, planner.DownOptions{Services: opts.Services, StopOnly: true}, planner.ExecOptions{}, r)
	if stopCtx.Err() != nil {
		// Forced: stop with no grace period, which kills at once.
		_, err = planner.Down(context.Background(), c, s.Name, s, planner.DownOptions{Services: opts.Services, StopOnly: true, Timeout: time.Nanosecond}, planner.ExecOptions{}, r)
	}
	r.Close()
	if err != nil {
		return err
	}
	return silentExit{exitInterrupted}
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
		RunE: g.withSession(func(ctx context.Context, ss *session, args []string) error {
			names, err := ss.containers(ctx, args)
			if err != nil {
				return err
			}
			project, c := ss.project, ss.c
			p := newLogPrinter(g, project, names, noColor, noPrefix)
			err = c.StreamLogs(ctx, names, podmanapi.LogOptions{Follow: follow, Tail: tail, Since: since, Until: until, Timestamps: timestamps}, p.print)
			if ctx.Err() != nil {
				return nil
			}
			return err
		}),
	}
	f := cmd.Flags()
	// -f after `logs` is rewritten to --follow by followShorthand, since the
	// global -f names the stack file.
	f.BoolVar(&follow, "follow", false, "keep following the output (also across restarts); -f after logs")
	f.IntVar(&tail, "tail", -1, "show only the last N lines of each container (-1: all)")
	f.StringVar(&since, "since", "", "show logs since a timestamp (2026-01-02T15:04:05) or a duration (10m)")
	f.StringVar(&until, "until", "", "show logs before a timestamp or duration")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	f.BoolVar(&noColor, "no-color", false, "no colours in the prefixes")
	f.BoolVar(&noPrefix, "no-log-prefix", false, "print the lines without the service prefix")
	return cmd
}

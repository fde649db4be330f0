package main

import (
	"os"

	"github.com/podstack/podstack/internal/display"
)

// terminal reports whether stdin and stdout are both a terminal: then exec
// and run allocate one, as docker compose does.
func (g *globalOptions) terminal() bool {
	in, ok := g.streams.in.(*os.File)
	if !ok || !display.IsTerminal(in) {
		return false
	}
	out, ok := g.streams.out.(*os.File)
	return ok && display.IsTerminal(out)
}

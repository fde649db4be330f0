// Package ops carries out what users ask of a project (a stack on a
// container engine): up, down, start, stop, ps, logs, exec, run and the
// rest, each a method taking an options struct, over an Engine that
// podmanapi implements and tests fake, so the CLI only turns flags into
// options and makes one call.
package ops

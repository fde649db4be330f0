package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/podstack/podstack/stack"
)

// Exit codes. Scripts rely on them, so they never change meaning.
const (
	exitOK          = 0
	exitFailure     = 1
	exitInvalid     = 2
	exitInterrupted = 130
)

func main() {
	os.Exit(run(os.Args[1:], streams{in: os.Stdin, out: os.Stdout, err: os.Stderr}))
}

// streams are the command's standard streams: stdout is for data, stderr for
// progress and status.
type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

// run executes one command line and maps its outcome to an exit code. It is
// the only place that decides exit codes and the only place signals are
// caught: the first SIGINT/SIGTERM cancels the command's context, a second one
// closes the force channel (for `up`, whose graceful stop it cuts short).
func run(args []string, s streams) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	force := make(chan struct{})
	interrupted := false
	go func() {
		n := 0
		for range sig {
			n++
			interrupted = true
			switch n {
			case 1:
				cancel()
			case 2:
				close(force)
			}
		}
	}()

	red := &redactingWriter{w: s.err}
	s.err = red
	root := newRootCommand(s, force)
	root.SetArgs(followShorthand(root, args))
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errSilentExit) {
		var se silentExit
		if errors.As(err, &se) {
			return se.code
		}
		return exitFailure
	}
	fmt.Fprintf(s.err, "Error: %v\n", err)
	switch {
	case interrupted || errors.Is(err, context.Canceled):
		return exitInterrupted
	case isUsageError(err) || stack.IsInvalid(err) || strings.HasPrefix(err.Error(), "unknown command"):
		return exitInvalid
	default:
		return exitFailure
	}
}

// redactingWriter hides the stack's credential values (see
// stack.CredentialValues) in all that is written to it. Progress, warnings
// and errors reach stderr through it, so an error that quotes an
// environment value or a container's last log lines cannot show a password.
type redactingWriter struct {
	mu     sync.Mutex
	w      io.Writer
	values []string
}

func (r *redactingWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.values) == 0 {
		return r.w.Write(p)
	}
	if _, err := io.WriteString(r.w, stack.Redact(string(p), r.values)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// hide adds values to what is redacted.
func (r *redactingWriter) hide(values []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values = append(r.values, values...)
	sort.Slice(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
}

// followShorthand gives a letter the global flags use (-f, the stack file;
// -p, the project name) its docker compose meaning after some subcommands:
// `logs -f` is --follow, `rm -f` --force, `run -p` --publish. Before the
// subcommand the letter keeps its global meaning (`stack -f a.yaml logs
// -f`). Which flags take a value (so that the word after them is no command
// or argument) comes from cobra's own flag sets: a list kept by hand here
// once missed --pod.
var shorthands = map[string]shorthand{
	"logs": {"-f", "--follow", false},
	"rm":   {"-f", "--force", false},
	"run":  {"-p", "--publish", true},
}

type shorthand struct {
	letter, long string
	// command: the words after the first argument are a container's
	// command (`run web nc -l -p 80`), never rewritten.
	command bool
}

func followShorthand(root *cobra.Command, args []string) []string {
	global := valueFlags(root.PersistentFlags())
	out := append([]string(nil), args...)
	for i := 0; i < len(out); i++ {
		switch a := out[i]; {
		case global[a]:
			i++ // skip the flag's value
		case shorthands[a].letter != "":
			rewriteShorthand(root, a, out[i+1:])
			return out
		case !strings.HasPrefix(a, "-"):
			return out // another command
		}
	}
	return out
}

// rewriteShorthand rewrites the shorthand of subcommand name in its
// arguments rest.
func rewriteShorthand(root *cobra.Command, name string, rest []string) {
	sh := shorthands[name]
	takes := valueFlags(root.PersistentFlags())
	if sub, _, err := root.Find([]string{name}); err == nil && sub != root {
		for k := range valueFlags(sub.LocalNonPersistentFlags()) {
			takes[k] = true
		}
	}
	for j := 0; j < len(rest); j++ {
		switch a := rest[j]; {
		case a == sh.letter:
			rest[j] = sh.long
			j++ // its value
		case strings.HasPrefix(a, sh.letter+"="):
			rest[j] = sh.long + strings.TrimPrefix(a, sh.letter)
		case a == "--":
			return
		case takes[a]:
			j++
		case sh.command && !strings.HasPrefix(a, "-"):
			return
		}
	}
}

// valueFlags are the spellings (--name, -n) of the flags in fs that take
// a separate value.
func valueFlags(fs *pflag.FlagSet) map[string]bool {
	out := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.NoOptDefVal != "" {
			return // a bool (or a flag with a default when bare) takes no separate value
		}
		out["--"+f.Name] = true
		if f.Shorthand != "" {
			out["-"+f.Shorthand] = true
		}
	})
	return out
}

// usageError marks a bad command line (unknown flag, wrong arguments, bad
// flag value): exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error {
	return usageError{fmt.Errorf(format, a...)}
}

func isUsageError(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// errSilentExit ends a command with a given code without printing an error,
// for commands whose exit code is data (`exec`, `wait`).
var errSilentExit = errors.New("exit")

type silentExit struct{ code int }

// exitCode ends a command with code (a command's own exit status, as for
// exec, run and wait) without printing an error.
func exitCode(code int) error {
	if code == 0 {
		return nil
	}
	return silentExit{code}
}

func (e silentExit) Error() string { return fmt.Sprintf("exit status %d", e.code) }
func (e silentExit) Is(target error) bool {
	return target == errSilentExit
}

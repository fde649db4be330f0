package stack

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with the input. Load and validation collect every
// problem they find and return them together, so a user fixes a file in one
// pass rather than one error per run.
type Problem struct {
	Position
	// Service is the service (or pod, for kube input) the problem is about; "" for top-level ones.
	Service string
	Message string
	// Fix says what to change, when there is an obvious answer.
	Fix string
}

// Error renders `file:line: service "web": message (fix: ...)`.
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Service != "" {
		fmt.Fprintf(&b, "service %q: ", p.Service)
	}
	b.WriteString(p.Message)
	if p.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(p.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// Problems is an error made of one or more Problems. It is the error type of
// every invalid-input failure, which the CLI maps to exit code 2.
type Problems []Problem

func (ps Problems) Error() string {
	if len(ps) == 1 {
		return ps[0].Error()
	}
	lines := make([]string, 0, len(ps)+1)
	lines = append(lines, fmt.Sprintf("%d problems:", len(ps)))
	for _, p := range ps {
		lines = append(lines, "  "+p.Error())
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by file, line, service and message, so output is stable.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Message < b.Message
	})
}

// Err returns nil for no problems, else the sorted list as an error.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	ps.Sort()
	return ps
}

// ErrNoStackFile is returned (wrapped) by Load when no -f is given and
// discovery finds none of DefaultFileNames. Commands that can work from the
// project name alone (down, ps) check for it.
var ErrNoStackFile = errors.New("no stack file found")

// ErrInvalid marks invalid input (exit code 2) that is not a Problems list,
// such as a bad flag value.
var ErrInvalid = errors.New("invalid input")

// IsInvalid reports whether err is an invalid-input error. No stack file
// is one: the command line named nothing to work on (docker compose exits
// with a usage error too).
func IsInvalid(err error) bool {
	var ps Problems
	var p Problem
	return errors.As(err, &ps) || errors.As(err, &p) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrNoStackFile)
}

package stack

import (
	"regexp"
	"sync"
)

// lazyRegexp compiles expr on its first use. Most of this package's
// patterns read compose-go's error messages, which a good file never
// produces: compiled as the binary started, they cost every run (a no-op
// up, whose own work is a few milliseconds, most of all).
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

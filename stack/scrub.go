package stack

import (
	"errors"
	"net/url"
	"sort"
	"strings"
)

// No message prints a credential's value. Problems and warnings are built
// from substituted values (compose-go reports "invalid hostPort: <the
// value>"), so before Load returns them every value of a credential
// variable (the rule in credentials.go) is put back as the source text that
// brought it in, ${NAME}. A quoted start of such a value (compose-go quotes
// the part it parsed: parsing "S3cr3") is replaced too. Of a URL that is a
// credential only for its password, the password is replaced as well; its
// other parts (postgres, the host) are common words and stay.

// scrubber replaces credential values with their ${NAME}.
type scrubber struct {
	values  []string          // longest first
	names   map[string]string // value -> ${NAME}
	partial map[string]bool   // a quoted start of the value is replaced too
}

// plainValues are too common to replace wherever they appear; a variable
// holding one hides nothing.
var plainValues = map[string]bool{"true": true, "false": true, "null": true, "none": true, "yes": true, "no": true, "on": true, "off": true}

// newScrubber collects the credential values of env, plus the variables
// secretEnv names (x-podstack.secret-env).
func newScrubber(env map[string]string, secretEnv []string) *scrubber {
	s := &scrubber{names: map[string]string{}, partial: map[string]bool{}}
	extra := map[string]bool{}
	for _, n := range secretEnv {
		extra[n] = true
	}
	add := func(v, name string, partial bool) {
		if len(v) < 4 || plainValues[strings.ToLower(v)] {
			return
		}
		if _, dup := s.names[v]; !dup {
			s.names[v] = name
			s.values = append(s.values, v)
		}
		s.partial[v] = s.partial[v] || partial
	}
	for _, k := range sortedKeysOf(env) {
		v := env[k]
		switch {
		case extra[k] || IsCredentialName(k):
			add(v, "${"+k+"}", true)
		case HasURLPassword(v):
			add(v, "${"+k+"}", false)
			if u, err := url.Parse(strings.TrimSpace(v)); err == nil {
				pw, _ := u.User.Password()
				add(pw, "<the password in ${"+k+"}>", true)
			}
		}
	}
	sort.SliceStable(s.values, func(i, j int) bool { return len(s.values[i]) > len(s.values[j]) })
	return s
}

var quotedRe = lazyRegexp(`"([^"\\]|\\.)*"|'[^']*'`)

// text scrubs one message.
func (s *scrubber) text(msg string) string {
	if s == nil || len(s.values) == 0 {
		return msg
	}
	for _, v := range s.values {
		msg = strings.ReplaceAll(msg, v, s.names[v])
	}
	return quotedRe().ReplaceAllStringFunc(msg, func(q string) string {
		inner := q[1 : len(q)-1]
		if len(inner) < 4 {
			return q
		}
		for _, v := range s.values {
			if s.partial[v] && strings.HasPrefix(v, inner) {
				return q[:1] + s.names[v] + q[len(q)-1:]
			}
		}
		return q
	})
}

// err scrubs an error: each Problem's message and fix, or the text of any
// other error (which still unwraps to the original).
func (s *scrubber) err(err error) error {
	if err == nil || s == nil || len(s.values) == 0 {
		return err
	}
	var ps Problems
	if errors.As(err, &ps) {
		out := make(Problems, len(ps))
		for i, p := range ps {
			p.Message, p.Fix = s.text(p.Message), s.text(p.Fix)
			out[i] = p
		}
		return out
	}
	var p Problem
	if errors.As(err, &p) {
		p.Message, p.Fix = s.text(p.Message), s.text(p.Fix)
		return p
	}
	if msg := s.text(err.Error()); msg != err.Error() {
		return scrubbedError{msg: msg, err: err}
	}
	return err
}

// Scrub returns text with every credential value of the stack replaced:
// a value a credential variable brought in by its ${NAME}, any other
// (environment values, inline secrets) by Redacted. Code that builds
// messages from the stack's values (planner validation) passes them here.
func (s *Stack) Scrub(text string) string {
	if s == nil {
		return text
	}
	return Redact(s.scrub.text(text), s.CredentialValues())
}

type scrubbedError struct {
	msg string
	err error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return e.err }

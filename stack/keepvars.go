package stack

import (
	"sort"
	"strconv"
	"strings"
)

// Placeholders let `convert --keep-vars` keep ${VAR} expressions in its
// output although compose-go parses typed fields (ports, counts) while
// loading: each variable resolves to a unique number, which is valid in a
// string and in a numeric position alike, and Restore swaps the numbers in
// the output back for the original expressions.
type Placeholders struct {
	byToken map[string]string // token -> ${VAR...} as first written
	byVar   map[string]string // VAR -> token
}

var varExpr = lazyRegexp(`\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// placeholderBase is far from common port numbers and counts; tokens that
// occur in the source text are skipped.
const placeholderBase = 61000

func newPlaceholders(files []sourceFile) *Placeholders {
	p := &Placeholders{byToken: map[string]string{}, byVar: map[string]string{}}
	var all strings.Builder
	for _, f := range files {
		all.Write(f.Content)
	}
	text := all.String()
	next := placeholderBase
	for _, m := range varExpr().FindAllStringSubmatch(text, -1) {
		name := m[1]
		if name == "" {
			name = m[3]
		}
		if _, ok := p.byVar[name]; ok {
			continue
		}
		for strings.Contains(text, strconv.Itoa(next)) {
			next++
		}
		token := strconv.Itoa(next)
		next++
		p.byVar[name] = token
		p.byToken[token] = m[0]
	}
	return p
}

// env is the interpolation mapping: every variable resolves to its token.
func (p *Placeholders) env() map[string]string {
	out := map[string]string{}
	for v, t := range p.byVar {
		out[v] = t
	}
	return out
}

// Restore replaces the tokens in data with the original expressions.
func (p *Placeholders) Restore(data []byte) []byte {
	if p == nil || len(p.byToken) == 0 {
		return data
	}
	tokens := make([]string, 0, len(p.byToken))
	for t := range p.byToken {
		tokens = append(tokens, t)
	}
	sort.Strings(tokens)
	pairs := make([]string, 0, 2*len(tokens))
	for _, t := range tokens {
		pairs = append(pairs, t, p.byToken[t])
	}
	return []byte(strings.NewReplacer(pairs...).Replace(string(data)))
}

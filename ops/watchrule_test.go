package ops

import (
	"sort"
	"testing"

	"github.com/podstack/podstack/stack"
)

// TestWatchRuleMatch: a rule maps host paths under it to the container,
// with ignore and include patterns relative to its path.
func TestWatchRuleMatch(t *testing.T) {
	svc := &stack.Service{Name: "web"}
	r, err := newWatchRule(svc, stack.WatchRule{Path: "/src/web", Action: stack.WatchSync, Target: "/app",
		Ignore: []string{"node_modules/", "**/*.test.js"}, Include: []string{"*.js", "lib/"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"/src/web/main.js":             "/app/main.js",
		"/src/web/lib/x/y.go":          "/app/lib/x/y.go",
		"/src/web/readme.md":           "", // not included
		"/src/web/node_modules/a.js":   "", // ignored
		"/src/web/lib/a.test.js":       "", // ignored
		"/src/webapp/main.js":          "", // a sibling, not under the path
		"/src/web/.git/objects/ab.js":  "",
		"/src/web/lib/.idea/workspace": "",
	}
	var got []string
	for p, want := range cases {
		target, ok := r.match(p)
		if ok != (want != "") || target != want {
			got = append(got, p+" -> "+target)
		}
	}
	sort.Strings(got)
	if len(got) > 0 {
		t.Errorf("wrong matches: %v", got)
	}
}

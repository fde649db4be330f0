package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// noLine are the corpus cases whose problem has no line to name, and why.
// A case file can also say so itself with a `# no-line: REASON` line.
var noLine = map[string]string{
	"invalid-empty.yaml": "an empty file has no lines",
}

var (
	problemCount = regexp.MustCompile(`^\d+ problems:$`)
	fileLine     = regexp.MustCompile(`^(\S+?):(\d+): `)
)

// TestEveryInvalidInputNamesItsPlace walks a corpus of broken stacks, the
// loader's (stack/testdata/invalid-*) and the planner's
// (testdata/invalid), through `stack validate` as a user runs it: each
// exits 2, and every problem printed names its file and line, unless the
// case says no line exists.
func TestEveryInvalidInputNamesItsPlace(t *testing.T) {
	var cases []string
	for _, pattern := range []string{"../../stack/testdata/invalid-*", "testdata/invalid/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, m...)
	}
	sort.Strings(cases)
	if len(cases) < 100 {
		t.Fatalf("only %d cases; the corpus has more than 100", len(cases))
	}
	for _, c := range cases {
		abs, err := filepath.Abs(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(c), func(t *testing.T) {
			var stderr string
			var code int
			wantFile := abs
			if st, err := os.Stat(abs); err == nil && st.IsDir() {
				_, stderr, code = runCLI(t, abs, "validate")
				wantFile = filepath.Join(abs, "compose.yaml")
			} else {
				_, stderr, code = runCLI(t, filepath.Dir(abs), "validate", "-f", abs)
			}
			if code != exitInvalid {
				t.Fatalf("exit %d, want %d\n%s", code, exitInvalid, stderr)
			}
			reason := noLine[filepath.Base(c)]
			if data, err := os.ReadFile(wantFile); err == nil {
				for _, l := range strings.Split(string(data), "\n") {
					if r, ok := strings.CutPrefix(l, "# no-line:"); ok {
						reason = strings.TrimSpace(r)
					}
				}
			}
			for _, p := range printedProblems(stderr) {
				if !strings.Contains(p, filepath.Dir(abs)) {
					t.Errorf("problem does not name the file:\n%s", p)
					continue
				}
				if reason == "" && !fileLine.MatchString(p) {
					t.Errorf("problem has no line:\n%s", p)
				}
			}
		})
	}
}

// printedProblems splits what `stack` printed after "Error: " into one
// string per problem.
func printedProblems(stderr string) []string {
	_, after, ok := strings.Cut(stderr, "Error: ")
	if !ok {
		return nil
	}
	lines := strings.Split(strings.TrimRight(after, "\n"), "\n")
	if !problemCount.MatchString(lines[0]) {
		return []string{after}
	}
	var out []string
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "    ") {
			out = append(out, strings.TrimPrefix(l, "  "))
		} else if len(out) > 0 {
			out[len(out)-1] += "\n" + l
		}
	}
	return out
}

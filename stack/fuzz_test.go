package stack

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for loading: any input either loads or is refused with
// problems that name a file (exit 2); nothing panics, hangs or takes
// unbounded memory. `make fuzz` runs each for minutes, `make fuzz-short`
// for seconds. Crashers found are kept in testdata/fuzz/<target>/ and run
// as seeds by every `go test`.

const (
	// fuzzDeadline is far above any load of a fuzz-sized input; one that
	// takes longer hangs.
	fuzzDeadline = 20 * time.Second
	// fuzzAllocLimit bounds what loading one input may allocate.
	fuzzAllocLimit = 512 << 20
)

// fuzzSecret is a credential value the fuzzed inputs may bring in with
// ${DB_PASS}; no message may print it.
const fuzzSecret = "Zq8secretVx3"

func fuzzEnviron() []string {
	return []string{"DB_PASS=" + fuzzSecret, "TAG=1.2", "PORT=8080", "EMPTY="}
}

// seedFiles adds the content of every file matching the patterns.
func seedFiles(f *testing.F, patterns ...string) {
	f.Helper()
	n := 0
	for _, p := range patterns {
		matches, err := filepath.Glob(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil {
				continue // a directory
			}
			f.Add(data)
			n++
		}
	}
	if n == 0 {
		f.Fatalf("no seed files match %v", patterns)
	}
}

// checkLoad loads data as the stack file on stdin and checks the outcome.
func checkLoad(t *testing.T, dir string, data []byte, env func() []string) (*Stack, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fuzzDeadline)
	defer cancel()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := Load(ctx, LoadOptions{Files: []string{"-"}, WorkingDir: dir, ProjectName: "fuzz",
		Stdin: bytes.NewReader(data), Environ: env})
	runtime.ReadMemStats(&after)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("load did not finish within %v", fuzzDeadline)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > fuzzAllocLimit {
		t.Fatalf("load allocated %d MB", alloc>>20)
	}
	if err == nil {
		if s == nil {
			t.Fatal("no stack and no error")
		}
		return s, nil
	}
	if !IsInvalid(err) {
		t.Fatalf("an input problem that is not an invalid-input error (exit 2): %T %v", err, err)
	}
	var ps Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			if p.File == "" || p.Message == "" {
				t.Fatalf("problem without a file or a message: %#v", p)
			}
		}
	}
	if strings.Contains(err.Error(), fuzzSecret) && !bytes.Contains(data, []byte(fuzzSecret)) {
		t.Fatalf("the message prints a credential's value:\n%v", err)
	}
	return nil, err
}

// FuzzLoadCompose: compose files, seeded with the awesome-compose corpus,
// the examples and every valid and broken test stack.
func FuzzLoadCompose(f *testing.F) {
	seedFiles(f, "../testdata/awesome-compose/*/compose.y*ml", "../testdata/awesome-compose/*/docker-compose.y*ml",
		"../examples/*/compose*.yaml", "testdata/valid-*.yaml", "testdata/invalid-*.yaml", "../cmd/stack/testdata/invalid/*.yaml")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoad(t, dir, data, fuzzEnviron)
	})
}

// FuzzLoadKube: Kubernetes YAML, seeded with the Kubernetes examples and
// test stacks.
func FuzzLoadKube(f *testing.F) {
	seedFiles(f, "../examples/kube-pod/*.yaml", "testdata/valid-kube-*.yaml", "testdata/invalid-kube-*.yaml")
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: x\n      ports: [{containerPort: 80, hostPort: '${PORT}'}]\n      env: [{name: A, value: '${DB_PASS}'}]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoad(t, dir, data, fuzzEnviron)
	})
}

// FuzzInterpolation: an env file and a value holding ${...} expressions,
// substituted into a compose service's ports, image and environment and
// into a Kubernetes container; the credential DB_PASS never shows.
func FuzzInterpolation(f *testing.F) {
	for _, seed := range []struct{ env, expr string }{
		{"A=1\nB=${A}-x\n", "${B}"},
		{"DB_PASS=other\n", "${DB_PASS}:80"},
		{"X=\"unterminated\n", "${X:-8080}"},
		{"export Y='q'\n# c\nZ=${Y:?need}\n", "${Z}${Y}"},
		{"P=80\n", "${P:?set P}:${P:-81}/${PROTO}"},
		{"", "$${ESCAPED} ${UNSET:+alt} ${DB_PASS:0:3}"},
		{"K=v", "${"},
	} {
		f.Add([]byte(seed.env), seed.expr)
	}
	f.Fuzz(func(t *testing.T, envFile []byte, expr string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ".env"), envFile, 0o600); err != nil {
			t.Fatal(err)
		}
		q := yamlQuote(expr)
		compose := "services:\n  a:\n    image: x:" + q + "\n    ports: [" + q + "]\n    environment:\n      V: " + q + "\n"
		checkLoad(t, dir, []byte(compose), fuzzEnviron)
		kube := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: x\n" +
			"      ports: [{containerPort: 80, hostPort: " + q + "}]\n      env: [{name: V, value: " + q + "}]\n"
		checkLoad(t, dir, []byte(kube), fuzzEnviron)
	})
}

// yamlQuote writes s as a double-quoted YAML scalar.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == 0xfeff || (r >= 0x80 && r < 0xa0):
			b.WriteString(`\u`)
			b.WriteString(strings.ToUpper(strings.TrimPrefix(hex4(r), "0x")))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func hex4(r rune) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf]})
}

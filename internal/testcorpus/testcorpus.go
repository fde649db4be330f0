package testcorpus

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
)

// PeerEnv names the directory of podman-compose's fixtures (its tests/
// integration folder). Unset, the tests look beside the repository.
const PeerEnv = "PODSTACK_PEER_CORPUS"

// RequirePeerEnv, when set to 1, makes a missing peer suite a test failure
// instead of a skip: CI sets it, so the peer suite cannot silently stop running.
const RequirePeerEnv = "PODSTACK_REQUIRE_PEER"

// PeerReportEnv names a file that Report appends the number of peer tests
// not run to: go test hides a passing package's output, so the Makefile
// collects the counts and says them after the run.
const PeerReportEnv = "PODSTACK_PEER_REPORT"

// defaultPeerDir is where the peer suite sits relative to the repository root.
const defaultPeerDir = "../shared/corpus/podman-compose"

// Root returns the repository root (the directory holding go.mod).
func Root() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testcorpus: no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AwesomeComposeDir is the repository's copy of docker/awesome-compose.
func AwesomeComposeDir() string {
	return filepath.Join(Root(), "testdata", "awesome-compose")
}

// AwesomeCompose returns every compose file of the awesome-compose copy
// (compose.yaml or compose.yml, one per project directory), sorted. It fails
// tb when the copy is missing or incomplete.
func AwesomeCompose(tb testing.TB) []string {
	tb.Helper()
	files, err := awesomeCompose()
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

func awesomeCompose() ([]string, error) {
	dir := AwesomeComposeDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("awesome-compose corpus: %w", err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		for _, name := range []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"} {
			p := filepath.Join(dir, e.Name(), name)
			if _, err := os.Stat(p); err == nil {
				files = append(files, p)
				break
			}
		}
	}
	sort.Strings(files)
	if len(files) < 39 {
		return nil, fmt.Errorf("awesome-compose corpus at %s has %d compose files, want 39", dir, len(files))
	}
	return files, nil
}

// Project is a corpus file's project directory name (its test name).
func Project(file string) string {
	return filepath.Base(filepath.Dir(file))
}

var (
	skipped atomic.Int64
	sayOnce sync.Once
)

// PeerDir returns the directory of podman-compose's fixtures, or "" when it
// is absent.
func PeerDir() string {
	dir := os.Getenv(PeerEnv)
	if dir == "" {
		dir = filepath.Join(Root(), defaultPeerDir)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return ""
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	return abs
}

// Peer returns the peer fixture directory sub (e.g. "deps"), for a test
// that runs it. When the peer suite is absent the test is skipped and
// counted (Report says how many), or fails when RequirePeerEnv is set.
func Peer(t testing.TB, sub string) string {
	t.Helper()
	root := PeerDir()
	if root == "" {
		if os.Getenv(RequirePeerEnv) == "1" {
			t.Fatalf("podman-compose's fixtures are required (%s=1) but not found: set %s to their directory", RequirePeerEnv, PeerEnv)
		}
		skipped.Add(1)
		t.Skipf("peer suite absent: podman-compose's fixtures not found (set %s)", PeerEnv)
	}
	dir := filepath.Join(root, sub)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("peer fixture %s missing: %v", dir, err)
	}
	return dir
}

// Report prints, once and loudly, how many peer tests did not run because
// the peer suite is absent. Call it from TestMain after m.Run.
func Report() {
	n := skipped.Load()
	if n == 0 {
		return
	}
	sayOnce.Do(func() {
		if path := os.Getenv(PeerReportEnv); path != "" {
			if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				fmt.Fprintln(f, n)
				f.Close()
			}
		}
		where := os.Getenv(PeerEnv)
		if where == "" {
			where = filepath.Join(Root(), defaultPeerDir)
		}
		fmt.Fprintf(os.Stderr, "\n*** %d peer tests NOT RUN: podman-compose's fixtures were not found at %s.\n"+
			"*** Set %s to their directory (podman-compose's tests/integration) to run them.\n\n",
			n, where, PeerEnv)
	})
}

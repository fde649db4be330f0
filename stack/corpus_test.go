package stack

import (
	"bufio"
	"context"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/podstack/podstack/internal/testcorpus"
)

var update = flag.Bool("update", false, "rewrite golden files and expectation lists")

func TestMain(m *testing.M) {
	code := m.Run()
	testcorpus.Report()
	os.Exit(code)
}

// noEnv is an empty process environment, so corpus results never depend on
// the machine running the tests.
func noEnv() []string { return nil }

// TestAwesomeComposeCorpus loads every compose file of docker/awesome-compose:
// real-world files must all load.
func TestAwesomeComposeCorpus(t *testing.T) {
	for _, f := range testcorpus.AwesomeCompose(t) {
		name := testcorpus.Project(f)
		t.Run(name, func(t *testing.T) {
			s, err := Load(context.Background(), LoadOptions{Files: []string{f}, Environ: noEnv})
			if err != nil {
				t.Fatalf("load %s: %v", f, err)
			}
			if len(s.Services) == 0 {
				t.Fatalf("%s: no services loaded", f)
			}
			for _, svc := range s.Services {
				if svc.Image == "" && svc.Build == nil {
					t.Errorf("service %s has neither image nor build", svc.Name)
				}
				if svc.Replicas < 1 {
					t.Errorf("service %s: replicas %d", svc.Name, svc.Replicas)
				}
			}
		})
	}
}

// podmanComposeFiles lists every compose file in podman-compose's fixtures,
// relative to the fixture root.
func podmanComposeFiles(t *testing.T, root string) []string {
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := d.Name()
		ext := filepath.Ext(base)
		if (ext == ".yaml" || ext == ".yml") && (strings.Contains(base, "compose")) {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

const podmanComposeFailures = "testdata/podman-compose-failures.txt"

// TestPodmanComposeFixtures loads a peer's whole fixture suite and compares
// the files that fail with a checked-in list of expected failures, each with
// its reason. Any change (a new failure, or a listed one that now loads)
// fails the test, so behaviour changes are noticed and explained.
func TestPodmanComposeFixtures(t *testing.T) {
	root := testcorpus.Peer(t, ".")
	files := podmanComposeFiles(t, root)
	if len(files) < 50 {
		t.Fatalf("found only %d fixture files", len(files))
	}
	got := map[string]string{}
	for _, rel := range files {
		_, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join(root, rel)}, Environ: noEnv})
		if err != nil {
			got[rel] = strings.ReplaceAll(err.Error(), "\n", " ")
		}
	}

	want := readExpectedFailures(t)
	if *update {
		writeExpectedFailures(t, got, want)
		return
	}
	for rel, msg := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("%s: fails but is not in %s: %s", rel, podmanComposeFailures, msg)
		}
	}
	for rel := range want {
		if _, ok := got[rel]; !ok {
			t.Errorf("%s: listed in %s as failing, but it loads now: remove it from the list", rel, podmanComposeFailures)
		}
	}
}

func readExpectedFailures(t *testing.T) map[string]string {
	f, err := os.Open(podmanComposeFailures)
	if err != nil {
		if os.IsNotExist(err) {
			return map[string]string{}
		}
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		path, reason, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(reason) == "" {
			t.Fatalf("%s: line %q needs a reason after a tab", podmanComposeFailures, line)
		}
		out[path] = reason
	}
	return out
}

// writeExpectedFailures keeps the hand-written reasons of entries that still
// fail and marks new ones for a human to explain.
func writeExpectedFailures(t *testing.T, got, want map[string]string) {
	var b strings.Builder
	b.WriteString("# podman-compose fixtures that podstack refuses to load, and why.\n")
	b.WriteString("# path<TAB>reason. Checked by TestPodmanComposeFixtures; -update rewrites it.\n")
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		reason := want[k]
		if reason == "" {
			reason = "TODO explain: " + got[k]
		}
		b.WriteString(k + "\t" + reason + "\n")
	}
	if err := os.WriteFile(podmanComposeFailures, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

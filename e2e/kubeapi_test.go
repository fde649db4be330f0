package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/podstack/podstack/internal/testcorpus"
)

// The tests named TestKubeAPI* need a real Kubernetes API server: `make
// test-kube` starts one (scripts/kube-apiserver.sh: kube-apiserver and etcd
// built from the Go module proxy, cached per machine) and sets these.
const (
	// kubeconfigEnv names the kubeconfig of the test API server.
	kubeconfigEnv = "PODSTACK_TEST_KUBECONFIG"
	// kubectlEnv names the kubectl built with it (default: kubectl on PATH).
	kubectlEnv = "PODSTACK_KUBECTL"
	// requireKubeEnv=1 (make test-kube) makes a missing server a failure;
	// other runs (make e2e) skip these tests, which make test-kube runs.
	requireKubeEnv = "PODSTACK_REQUIRE_KUBE"
)

// kube runs kubectl against the test API server.
type kube struct {
	kubectl, config string
}

// requireKubeAPI skips under -short, fails when make test-kube runs without
// a server, and otherwise skips with the command that runs these tests.
func requireKubeAPI(t *testing.T) *kube {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Kubernetes API server (make test-kube)")
	}
	cfg := os.Getenv(kubeconfigEnv)
	if cfg == "" {
		if os.Getenv(requireKubeEnv) == "1" {
			t.Fatalf("%s is not set: make test-kube starts the API server (scripts/kube-apiserver.sh start) and sets it", kubeconfigEnv)
		}
		t.Skipf("needs a Kubernetes API server: these tests run in make test-kube (%s unset)", kubeconfigEnv)
	}
	if stackBin == "" {
		t.Fatal("STACK_BIN is not set and no binary was built: make test-kube sets it")
	}
	k := &kube{kubectl: os.Getenv(kubectlEnv), config: cfg}
	if k.kubectl == "" {
		k.kubectl = "kubectl"
	}
	return k
}

// run runs kubectl with stdin and returns stdout, stderr and its error.
func (k *kube) run(stdin string, args ...string) (string, string, error) {
	cmd := exec.Command(k.kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.config)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func (k *kube) must(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errs, err := k.run(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errs)
	}
	return out
}

// namespace creates a namespace of its own for the test. No namespace
// controller runs, so a deleted namespace would stay Terminating: it is
// left for the server's stop, which wipes etcd.
func (k *kube) namespace(t *testing.T, name string) string {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	ns := fmt.Sprintf("%s-%s", name, hex.EncodeToString(b))
	k.must(t, "", "create", "namespace", ns)
	return ns
}

// kubeExports writes every export the dry run checks, one file each, and
// returns their paths: into dir/kube export kube of each example in each
// of its environments (--all-envs) and of each awesome-compose project,
// both as Deployments and as Pods; into dir/convert convert of the compose
// ones.
func kubeExports(t *testing.T, dir string) []string {
	t.Helper()
	type source struct{ name, dir, file string }
	var sources []source
	for _, ex := range []string{"demo/compose.yaml", "webstack/compose.yaml", "kube-pod/pod.yaml"} {
		abs, _ := filepath.Abs(filepath.Join("..", "examples", ex))
		sources = append(sources, source{"example-" + filepath.Base(filepath.Dir(abs)), filepath.Dir(abs), abs})
	}
	for _, f := range testcorpus.AwesomeCompose(t) {
		sources = append(sources, source{"corpus-" + testcorpus.Project(f), filepath.Dir(f), f})
	}
	var files []string
	for _, src := range sources {
		args := func(more ...string) []string {
			if src.file != "" {
				return append([]string{"-f", src.file}, more...)
			}
			return more
		}
		for _, typ := range []string{"deployment", "pod"} {
			out := filepath.Join(dir, "kube", src.name+"-"+typ)
			mustStack(t, src.dir, args("export", "kube", "--all-envs", "--type", typ, "-o", out)...)
			found, _ := filepath.Glob(filepath.Join(out, "*.yaml"))
			if len(found) == 0 {
				t.Fatalf("%s: export wrote nothing", out)
			}
			files = append(files, found...)
		}
		if !strings.HasSuffix(src.name, "kube-pod") {
			out := filepath.Join(dir, "convert", src.name+".yaml")
			os.MkdirAll(filepath.Dir(out), 0o755)
			mustStack(t, src.dir, args("convert", "-o", out)...)
			files = append(files, out)
		}
	}
	sort.Strings(files)
	return files
}

// TestKubeAPIServerSideDryRun: every export of the examples (each
// environment) and of the awesome-compose corpus, as Deployments, as Pods
// and converted, is accepted by a real kube-apiserver's validation and
// admission (kubectl apply --dry-run=server): 0 rejections.
func TestKubeAPIServerSideDryRun(t *testing.T) {
	k := requireKubeAPI(t)
	ns := k.namespace(t, "dryrun")
	dir := t.TempDir()
	files := kubeExports(t, dir)
	accepted := 0
	for _, sub := range []string{"kube", "convert"} {
		// One kubectl per kind of export: it sends every object, goes on
		// past a rejection and names the file of each.
		out, errs, err := k.run("", "apply", "--dry-run=server", "-n", ns, "-R", "-f", filepath.Join(dir, sub), "-o", "name")
		if err != nil {
			t.Errorf("the API server rejected %s objects (%v):\n%s", sub, err, strings.ReplaceAll(errs, dir+"/", ""))
		}
		for _, line := range strings.Split(strings.TrimSpace(errs), "\n") {
			// Converted pods are named <service>.<project> so that podman
			// kube play resolves them (their hostname is set apart): the
			// server only warns about dots in a Pod name.
			if line == "" || err != nil || (sub == "convert" && strings.Contains(line, "a DNS label is recommended: [must not contain dots]")) {
				continue
			}
			t.Errorf("%s: the API server warns: %s", sub, line)
		}
		accepted += len(strings.Fields(out))
	}
	if accepted < 3*len(files) {
		t.Errorf("only %d objects accepted from %d files: the exports are suspiciously small", accepted, len(files))
	}
	t.Logf("%d exports, %d objects accepted by the server", len(files), accepted)
}

// TestKubeAPIApplyAndDelete: the production export of the webstack example
// is really created (Deployments with their replicas, Services, claim,
// ConfigMap and Secrets), then deleted, leaving nothing of it.
func TestKubeAPIApplyAndDelete(t *testing.T) {
	k := requireKubeAPI(t)
	ns := k.namespace(t, "apply")
	web, _ := filepath.Abs("../examples/webstack")
	stack := mustStack(t, web, "--env", "prod", "export", "kube", "--namespace", ns).stdout
	k.must(t, stack, "apply", "-f", "-")
	var list struct {
		Items []struct {
			Kind     string
			Metadata struct{ Name string }
			Spec     struct {
				Replicas *int
			}
		}
	}
	out := k.must(t, "", "get", "deployments,services,persistentvolumeclaims,configmaps,secrets", "-n", ns,
		"-l", "app.kubernetes.io/part-of=webstack", "-o", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, it := range list.Items {
		got[it.Kind+"/"+it.Metadata.Name] = true
		if it.Kind == "Deployment" && it.Metadata.Name == "app" && (it.Spec.Replicas == nil || *it.Spec.Replicas != 3) {
			t.Errorf("deployment app: replicas %v, want 3 (compose.prod.yaml)", it.Spec.Replicas)
		}
	}
	for _, want := range []string{"Deployment/web", "Deployment/app", "Deployment/db", "Deployment/cache", "Deployment/migrate",
		"Deployment/monitor", "Service/web", "Service/app", "Service/db", "Service/cache", "PersistentVolumeClaim/webstack-pgdata",
		"ConfigMap/webstack-prod-env", "Secret/webstack-db-password"} {
		if !got[want] {
			t.Errorf("%s was not created (have %v)", want, got)
		}
	}
	k.must(t, stack, "delete", "--wait=false", "-f", "-")
	left := k.must(t, "", "get", "deployments,services,persistentvolumeclaims,configmaps,secrets", "-n", ns,
		"-l", "app.kubernetes.io/part-of=webstack", "-o", "name")
	if strings.TrimSpace(left) != "" {
		t.Errorf("left after delete:\n%s", left)
	}
}

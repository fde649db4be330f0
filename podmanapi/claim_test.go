package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// podman runs the podman CLI against the test's service: the "other
// client" whose requests land while podstack is creating.
func podman(t *testing.T, c *Client, args ...string) string {
	t.Helper()
	out, err := exec.Command("podman", append([]string{"--url", c.URL()}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func labelArgs(labels map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(labels) {
		out = append(out, "--label", k+"="+labels[k])
	}
	return out
}

// TestCreateMeetsItsNameHeld: a create whose name is already held (a create
// of a killed `stack up` that the service finished after the next run had
// observed) adopts the project's container of the same configuration,
// replaces one of another configuration, and refuses, untouched, one that
// is not the project's. Pods likewise.
func TestCreateMeetsItsNameHeld(t *testing.T) {
	c := testClient(t)
	ctx := context.Background()
	project := fmt.Sprintf("itclaim%d", time.Now().UnixNano()%1000000)
	s := &stack.Stack{Name: project, Services: map[string]*stack.Service{
		"web": {Name: "web", Image: "localhost/busybox:test", Replicas: 1, Command: []string{"sleep", "600"}},
	}}
	pods, err := planner.Group(s, planner.PolicyAuto)
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 1 {
		t.Fatalf("pods %+v", pods)
	}
	pod := pods[0]
	ct := planner.Containers(s, pods)[0]
	t.Cleanup(func() {
		exec.Command("podman", "--url", c.URL(), "rm", "-f", "-t", "0", ct.Name).Run()
		exec.Command("podman", "--url", c.URL(), "pod", "rm", "-f", "-t", "0", pod.Name).Run()
	})
	inspect := func(name string) (id, hash string) {
		t.Helper()
		out := podman(t, c, "container", "inspect", "--format", `{{.ID}} {{index .Config.Labels "`+planner.LabelConfigHash+`"}}`, name)
		id, hash, _ = strings.Cut(out, " ")
		return id, hash
	}
	outOfBand := func(labels map[string]string) string {
		t.Helper()
		args := append([]string{"create", "--name", ct.Name, "--pod", pod.Name}, labelArgs(labels)...)
		return podman(t, c, append(args, "localhost/busybox:test", "sleep", "600")...)
	}

	// The pod first: one of the same labels, made by "the killed run".
	podman(t, c, append(append([]string{"pod", "create", "--name", pod.Name}, labelArgs(pod.Labels)...), "--infra=false")...)
	podID := podman(t, c, "pod", "inspect", "--format", "{{.ID}}", pod.Name)
	if err := c.CreatePod(ctx, pod, s); err != nil {
		t.Fatalf("create of a pod that landed late: %v, want it adopted", err)
	}
	if got := podman(t, c, "pod", "inspect", "--format", "{{.ID}}", pod.Name); got != podID {
		t.Errorf("the pod was made again (%s, was %s), want it adopted", got, podID)
	}

	t.Run("same configuration is adopted", func(t *testing.T) {
		id := outOfBand(ct.Labels)
		if err := c.CreateContainer(ctx, ct, pod, s); err != nil {
			t.Fatalf("create of a container that landed late: %v, want it adopted", err)
		}
		if got, _ := inspect(ct.Name); got != id {
			t.Errorf("container made again (%s, was %s), want it adopted", got, id)
		}
		if err := c.StartContainer(ctx, ct.Name); err != nil {
			t.Errorf("the adopted container does not start: %v", err)
		}
		podman(t, c, "rm", "-f", "-t", "0", ct.Name)
	})

	t.Run("another configuration is replaced", func(t *testing.T) {
		old := map[string]string{}
		for k, v := range ct.Labels {
			old[k] = v
		}
		old[planner.LabelConfigHash] = "an-older-hash"
		id := outOfBand(old)
		if err := c.CreateContainer(ctx, ct, pod, s); err != nil {
			t.Fatalf("create over the project's container of another configuration: %v, want it replaced", err)
		}
		got, hash := inspect(ct.Name)
		if got == id || hash != ct.Hash {
			t.Errorf("container %s hash %q, want a new one (not %s) with hash %q", got, hash, id, ct.Hash)
		}
		podman(t, c, "rm", "-f", "-t", "0", ct.Name)
	})

	t.Run("a leftover only in storage is replaced", func(t *testing.T) {
		// buildah's working containers are what a service that died
		// mid-create leaves: in storage, unknown to Podman, holding the name.
		if _, err := exec.LookPath("buildah"); err != nil {
			t.Skip("buildah is not installed: no way to make a container only in storage")
		}
		if out, err := exec.Command("buildah", "from", "--name", ct.Name, "localhost/busybox:test").CombinedOutput(); err != nil {
			t.Skipf("buildah cannot make a container in this service's storage: %v: %s", err, out)
		}
		defer exec.Command("buildah", "rm", ct.Name).Run()
		defer func(p time.Duration) { claimPatience = p }(claimPatience)
		claimPatience = time.Second
		if err := c.CreateContainer(ctx, ct, pod, s); err != nil {
			t.Fatalf("create over a leftover in storage: %v, want it replaced", err)
		}
		if _, hash := inspect(ct.Name); hash != ct.Hash {
			t.Errorf("hash %q, want %q", hash, ct.Hash)
		}
		podman(t, c, "rm", "-f", "-t", "0", ct.Name)
	})

	t.Run("a foreign container is refused and untouched", func(t *testing.T) {
		id := outOfBand(map[string]string{"made.by": "hand"})
		err := c.CreateContainer(ctx, ct, pod, s)
		if err == nil {
			t.Fatal("create over a foreign container succeeded")
		}
		for _, want := range []string{ct.Name, "did not create", "podman rm " + ct.Name} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if got, _ := inspect(ct.Name); got != id {
			t.Errorf("the foreign container was replaced: %s, was %s", got, id)
		}
		podman(t, c, "rm", "-f", "-t", "0", ct.Name)
	})

	t.Run("another project's pod is refused and untouched", func(t *testing.T) {
		podman(t, c, "pod", "rm", "-f", "-t", "0", pod.Name)
		other := planner.Labels(project+"-other", "", planner.LabelPod, pod.Key, planner.LabelConfigHash, pod.Hash)
		podman(t, c, append(append([]string{"pod", "create", "--name", pod.Name}, labelArgs(other)...), "--infra=false")...)
		id := podman(t, c, "pod", "inspect", "--format", "{{.ID}}", pod.Name)
		err := c.CreatePod(ctx, pod, s)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("of project %q", project+"-other")) || !strings.Contains(err.Error(), "podman pod rm") {
			t.Fatalf("create over another project's pod: %v, want a refusal naming it and the fix", err)
		}
		if got := podman(t, c, "pod", "inspect", "--format", "{{.ID}}", pod.Name); got != id {
			t.Errorf("the other project's pod was replaced: %s, was %s", got, id)
		}
	})
}

// TestCreateSecretAndVolumeMeetTheirNameHeld: a secret met at create is
// adopted when it is the project's with the content wanted, replaced when
// its content differs, refused when it is not the project's; a volume (or
// network) is adopted when it is the project's and refused, untouched,
// when it is not.
func TestCreateSecretAndVolumeMeetTheirNameHeld(t *testing.T) {
	c := testClient(t)
	ctx := context.Background()
	project := fmt.Sprintf("itclaims%d", time.Now().UnixNano()%1000000)
	dir := t.TempDir()
	file := dir + "/pw"
	if err := os.WriteFile(file, []byte("hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &stack.Stack{Name: project, Secrets: map[string]*stack.Secret{"pw": {Key: "pw", File: file}}}
	sec := &planner.SecretSpec{Name: project + "_pw", Kind: "secret", Key: "pw", Digest: "d1"}
	vol := &stack.Volume{Key: "data", Name: project + "_data"}
	t.Cleanup(func() {
		exec.Command("podman", "--url", c.URL(), "secret", "rm", sec.Name).Run()
		exec.Command("podman", "--url", c.URL(), "volume", "rm", "-f", vol.Name).Run()
	})
	labels := func(digest string) map[string]string {
		return planner.Labels(project, "", planner.LabelSecret, "secret/pw", planner.LabelConfigHash, digest)
	}
	secretID := func() string {
		return podman(t, c, "secret", "inspect", "--format", "{{.ID}}", sec.Name)
	}
	outOfBand := func(l map[string]string) string {
		t.Helper()
		podman(t, c, append(append([]string{"secret", "create"}, labelArgs(l)...), sec.Name, file)...)
		return secretID()
	}

	id := outOfBand(labels("d1"))
	if err := c.CreateSecret(ctx, sec, s, labels("d1")); err != nil {
		t.Fatalf("create of a secret that landed late: %v, want it adopted", err)
	}
	if got := secretID(); got != id {
		t.Errorf("secret made again (%s, was %s), want it adopted", got, id)
	}
	podman(t, c, "secret", "rm", sec.Name)

	id = outOfBand(labels("d0"))
	if err := c.CreateSecret(ctx, sec, s, labels("d1")); err != nil {
		t.Fatalf("create over the project's secret of other content: %v, want it replaced", err)
	}
	if got := secretID(); got == id {
		t.Errorf("secret of other content kept (%s), want it replaced", got)
	}
	podman(t, c, "secret", "rm", sec.Name)

	id = outOfBand(map[string]string{"made.by": "hand"})
	if err := c.CreateSecret(ctx, sec, s, labels("d1")); !errors.Is(err, planner.ErrNameHeld) || !strings.Contains(err.Error(), "podman secret rm "+sec.Name) {
		t.Errorf("create over a foreign secret: %v, want a refusal naming it and the fix", err)
	}
	if got := secretID(); got != id {
		t.Errorf("the foreign secret was replaced: %s, was %s", got, id)
	}

	podman(t, c, append(append([]string{"volume", "create"}, labelArgs(map[string]string{"made.by": "hand"})...), vol.Name)...)
	if err := c.CreateVolume(ctx, vol, planner.Labels(project, "", planner.LabelVolume, "data")); !errors.Is(err, planner.ErrNameHeld) {
		t.Errorf("create over a foreign volume: %v, want a refusal", err)
	}
	if got := podman(t, c, "volume", "inspect", "--format", `{{index .Labels "made.by"}}`, vol.Name); got != "hand" {
		t.Errorf("the foreign volume was touched: made.by=%q", got)
	}
}

// TestRetryVanished: a container list that failed on a container which
// vanished under it (another client's create or removal in the same
// storage) is tried again; any other failure is not.
func TestRetryVanished(t *testing.T) {
	defer func(w time.Duration) { vanishedWait = w }(vanishedWait)
	vanishedWait = time.Millisecond
	tries := 0
	err := retryVanished(context.Background(), func() error {
		if tries++; tries < 3 {
			return errors.New("determining buildah container for container 0ebc2b1b21f7: container not known")
		}
		return nil
	})
	if err != nil || tries != 3 {
		t.Errorf("after %d tries: %v, want success on the third", tries, err)
	}
	tries = 0
	err = retryVanished(context.Background(), func() error { tries++; return errors.New("no such network") })
	if err == nil || tries != 1 {
		t.Errorf("another failure was tried %d times (%v), want once", tries, err)
	}
}

// TestRetryInterfaceRace: a network create that failed because a network
// interface went while Podman read the host's interfaces (another
// project's container or network torn down at that moment; seen on
// rootless 4.3.1 with projects coming and going side by side) is tried
// again; any other failure is not.
func TestRetryInterfaceRace(t *testing.T) {
	defer func(w time.Duration) { vanishedWait = w }(vanishedWait)
	vanishedWait = time.Millisecond
	tries := 0
	err := retryInterfaceRace(context.Background(), func() error {
		if tries++; tries < 3 {
			return errors.New("route ip+net: no such network interface")
		}
		return nil
	})
	if err != nil || tries != 3 {
		t.Errorf("after %d tries: %v, want success on the third", tries, err)
	}
	tries = 0
	err = retryInterfaceRace(context.Background(), func() error { tries++; return errors.New("subnet 10.89.0.0/24 is already used") })
	if err == nil || tries != 1 {
		t.Errorf("another failure was tried %d times (%v), want once", tries, err)
	}
}

// TestRetryPodInfraRace: a start that failed because the pod's infra
// container was caught between states by another member's start is tried
// again; any other failure is not, and the tries are bounded.
func TestRetryPodInfraRace(t *testing.T) {
	defer func(w time.Duration) { vanishedWait = w }(vanishedWait)
	vanishedWait = time.Millisecond
	race := errors.New("cannot get namespace path unless container 4d21 is running: container is stopped")
	tries := 0
	if err := retryPodInfraRace(context.Background(), func() error {
		if tries++; tries < 2 {
			return race
		}
		return nil
	}); err != nil || tries != 2 {
		t.Errorf("after %d tries: %v, want success on the second", tries, err)
	}
	tries = 0
	if err := retryPodInfraRace(context.Background(), func() error { tries++; return race }); err == nil || tries != vanishedRetries+1 {
		t.Errorf("an infra container that stays down: %d tries, %v", tries, err)
	}
	tries = 0
	if err := retryPodInfraRace(context.Background(), func() error { tries++; return errors.New("OCI runtime error") }); err == nil || tries != 1 {
		t.Errorf("another failure was tried %d times (%v), want once", tries, err)
	}
}

package podmanapi

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	entitiesTypes "github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/podstack/podstack/internal/notrun"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// TestObserveLeftovers: a container left only in storage is observed
// whenever it may hold a name the stack wants (Lookup.Containers names one
// the project's labelled containers do not hold, or Lookup.Containers is
// not given), and not looked for when every wanted name is held, which
// spares a no-op `up` the dear listing of every container in storage.
func TestObserveLeftovers(t *testing.T) {
	c := testClient(t)
	if _, err := exec.LookPath("buildah"); err != nil {
		t.Skip("buildah is not installed: no way to make a container only in storage")
	}
	ctx := context.Background()
	project := fmt.Sprintf("itleft%d", time.Now().UnixNano()%1000000)
	web, db := project+"-web-1", project+"-db-1"
	t.Cleanup(func() {
		exec.Command("podman", "--url", c.URL(), "rm", "-f", "-t", "0", web).Run()
		exec.Command("buildah", "rm", db).Run()
	})
	podman(t, c, "create", "--name", web, "--label", planner.LabelProject+"="+project, "localhost/busybox:test", "sleep", "600")
	if out, err := exec.Command("buildah", "from", "--name", db, "localhost/busybox:test").CombinedOutput(); err != nil {
		t.Skipf("buildah cannot make a container in this service's storage: %v: %s", err, out)
	}
	for _, tc := range []struct {
		wanted []string
		want   []string
	}{
		{nil, []string{db + ":storage", web + ":created"}},
		{[]string{web, db}, []string{db + ":storage", web + ":created"}},
		{[]string{web}, []string{web + ":created"}},
		{[]string{}, []string{web + ":created"}},
	} {
		o, err := c.Observe(ctx, project, &planner.Lookup{Containers: tc.wanted})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ct := range o.Containers {
			got = append(got, ct.Name+":"+ct.State)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("wanted %q: observed %v, want %v", tc.wanted, got, tc.want)
		}
	}
}

// TestPodsFromContainersAgainstPodman: the pods worked out from the
// container listing (planner.PodExpectation.FromContainers) are the pods
// Podman lists, ID, state and labels, in the states a stack goes through:
// Podman gives an infra container its pod's labels, lists a pod's name and
// ID with each container, and works out a pod's state from its
// containers' (the infra one included) as the planner does. Where a pod
// the stack has holds no container, they are not worked out (and Observe
// lists them); a pod made by hand that holds none is not seen.
func TestPodsFromContainersAgainstPodman(t *testing.T) {
	c := testClient(t)
	ctx := context.Background()
	project := fmt.Sprintf("itpods%d", time.Now().UnixNano()%1000000)
	dir := t.TempDir()
	run := `["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]`
	compose := "name: " + project + `
services:
  web: {image: localhost/busybox:test, command: ` + run + `, x-pod: front}
  proxy: {image: localhost/busybox:test, command: ` + run + `, x-pod: front}
  api: {image: localhost/busybox:test, command: ` + run + `}
  job: {image: localhost/busybox:test, command: ["true"]}
`
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := stack.Load(ctx, stack.LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml")}, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		planner.Down(context.WithoutCancel(ctx), c, project, s, planner.DownOptions{Volumes: true, RemoveOrphans: true, Timeout: time.Second},
			planner.ExecOptions{}, planner.NoEvents)
		exec.Command("podman", "--url", c.URL(), "pod", "rm", "-f", project+"-gone").Run()
	})
	if _, err := planner.Up(ctx, c, s, planner.Options{}, planner.UpOptions{}, planner.ExecOptions{}, planner.NoEvents); err != nil {
		t.Fatal(err)
	}
	if code, err := c.WaitExit(ctx, project+"-job-1"); err != nil || code != 0 {
		t.Fatalf("job: %d, %v", code, err)
	}
	x := planner.ExpectPods(s, "")
	filter := map[string][]string{"label": {planner.LabelProject + "=" + project}}
	// check compares the pods worked out with Podman's list of them, but
	// for unseen; derived says whether they can be worked out.
	check := func(state string, derived bool, unseen string) {
		t.Helper()
		all := true
		list, err := containers.List(c.ctx(ctx), &containers.ListOptions{All: &all, Filters: filter})
		if err != nil {
			t.Fatal(err)
		}
		var listed []planner.ListedContainer
		for _, ct := range list {
			listed = append(listed, listedOf(ct))
		}
		podmanPods, err := c.listPods(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(podmanPods, func(i, j int) bool { return podmanPods[i].Name < podmanPods[j].Name })
		want := slices.DeleteFunc(slices.Clone(podmanPods), func(p planner.ObservedPod) bool { return p.Name == unseen })
		got, ok := x.FromContainers(project, listed)
		if ok != derived || ok && !reflect.DeepEqual(got, want) {
			t.Errorf("%s: worked out (%v, want %v)\n%+v\nPodman lists\n%+v", state, ok, derived, got, want)
		}
		look := planner.LookupFor(s)
		look.Pods = x
		o, err := c.Observe(ctx, project, look)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			want = podmanPods // listed after all
		}
		if !reflect.DeepEqual(o.Pods, want) {
			t.Errorf("%s: Observe\n%+v\nPodman lists\n%+v", state, o.Pods, want)
		}
	}
	check("up", true, "")
	podman(t, c, "stop", "-t", "0", project+"-web-1")
	check("a member of a pod with an infra container stopped", true, "")
	if k, err := c.Capabilities(ctx); err != nil {
		t.Fatal(err)
	} else if err := k.Freezer(); err != nil {
		notrun.Record(t, "the pods worked out with a paused container", err)
	} else {
		podman(t, c, "pause", project+"-api-1")
		check("paused", true, "")
		podman(t, c, "unpause", project+"-api-1")
	}
	podman(t, c, "pod", "stop", "-t", "0", project+"-front")
	check("a pod with an infra container stopped", true, "")
	podman(t, c, "pod", "create", "--infra=false", "--label", planner.LabelProject+"="+project, project+"-gone")
	check("a pod made by hand holding nothing", true, project+"-gone")
	podman(t, c, "rm", "-f", "-t", "0", project+"-api-1")
	check("a container removed by hand", false, "")
}

// TestPrefetchTakenOnce: the listing `up` starts while its stack loads is
// the first observation of that project and of nothing else: the next
// Observe of the project takes it (without listing again), nothing takes
// it twice, an Observe of another project or DropPrefetch (the lock it was
// made under released) forgets it.
func TestPrefetchTakenOnce(t *testing.T) {
	c := &Client{}
	ready := func(project string, names ...string) *prefetch {
		p := &prefetch{project: project, done: make(chan struct{})}
		for _, n := range names {
			p.list = append(p.list, entitiesTypes.ListContainer{Names: []string{n}})
		}
		close(p.done)
		return p
	}
	c.pre = ready("p", "p-web-1")
	list, err := c.listProject(context.Background(), "p", nil, []string{"p-web-1"})
	if err != nil || len(list) != 1 || list[0].Names[0] != "p-web-1" {
		t.Fatalf("the observation did not take the prefetched listing: %v, %v", list, err)
	}
	if c.takePrefetch("p") != nil {
		t.Error("a prefetched listing was taken twice")
	}
	c.pre = ready("q")
	if c.takePrefetch("p") != nil {
		t.Error("another project's listing was taken")
	}
	if c.takePrefetch("q") != nil {
		t.Error("a listing outlived an observation of another project")
	}
	c.pre = ready("p")
	c.DropPrefetch()
	if c.takePrefetch("p") != nil {
		t.Error("a dropped listing was taken")
	}
}

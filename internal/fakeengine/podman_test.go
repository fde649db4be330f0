package fakeengine_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// created is a small stack planned (not run): its pods and containers to
// feed the engine's create calls one by one.
type created struct {
	s *stack.Stack
	p *planner.Plan
}

func plan(t *testing.T, f *fixture, project string) created {
	t.Helper()
	s := f.load(project)
	p, err := planner.Reconcile(s, nil, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return created{s, p}
}

func (c created) container(name string) *planner.Container {
	for _, ct := range c.p.Containers {
		if ct.Name == name {
			return ct
		}
	}
	return nil
}

func (c created) create(e *fakeengine.Engine, name string) error {
	ct := c.container(name)
	return e.CreateContainer(context.Background(), ct, c.p.PodOf(ct.Service), c.s)
}

const pairStack = `name: pr
services:
  a:
    image: busybox
    x-pod: both
    secrets: [tok]
  b:
    image: busybox
    x-pod: both
    pid: service:a
  solo:
    image: busybox
    volumes: [data:/d, /anon, ./src:/src]
secrets:
  tok: {file: ./dbpass.txt}
volumes:
  data: {}
`

// TestCreateChecksWhatPodmanChecks: a create fails, changing nothing,
// where Podman's would, with the error podmanapi would return.
func TestCreateChecksWhatPodmanChecks(t *testing.T) {
	f := newFixture(t, pairStack)
	c := plan(t, f, "")
	ctx := context.Background()
	e := f.e
	pod := c.p.PodOf("a")

	// No image: Podman's "image not known" maps to no sentinel.
	err := c.create(e, "pr-solo-1")
	if err == nil || !strings.Contains(err.Error(), "busybox: image not known") || errors.Is(err, fakeengine.ErrNotFound) {
		t.Errorf("create without the image: %v", err)
	}
	e.AddImages("busybox")
	if err := c.create(e, "pr-a-1"); !errors.Is(err, fakeengine.ErrNotFound) || !strings.Contains(err.Error(), "no such pod") {
		t.Errorf("create in a missing pod: %v", err)
	}
	if err := e.CreatePod(ctx, pod, c.s); err == nil || !strings.Contains(err.Error(), "network not found") {
		t.Errorf("pod on a missing network: %v", err)
	}
	e.CreateNetwork(ctx, c.s.Networks["default"], nil)
	if err := e.CreatePod(ctx, pod, c.s); err != nil {
		t.Fatal(err)
	}
	// A create whose name is held is settled as podmanapi settles it
	// (planner.ClaimName): the project's pod of the same configuration is
	// adopted.
	if err := e.CreatePod(ctx, pod, c.s); err != nil || len(e.Pods()) != 1 {
		t.Errorf("a second pod of that name: %v, pods %v; want the first adopted", err, e.Pods())
	}
	if err := c.create(e, "pr-a-1"); !errors.Is(err, fakeengine.ErrNotFound) || !strings.Contains(err.Error(), "no such secret") {
		t.Errorf("create without its secret: %v", err)
	}
	if err := c.create(e, "pr-b-1"); !errors.Is(err, fakeengine.ErrNotFound) || !strings.Contains(err.Error(), `"pr-a-1" found`) {
		t.Errorf("create before its pid namespace owner: %v", err)
	}
	e.AddSecret(fakeengine.Secret{Name: "pr_tok", Data: []byte("x")})
	for _, name := range []string{"pr-a-1", "pr-b-1"} {
		if err := c.create(e, name); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() (out []string) {
		for _, ct := range e.Containers() {
			out = append(out, ct.ID)
		}
		return out
	}
	before := ids()
	if err := c.create(e, "pr-a-1"); err != nil || !slices.Equal(ids(), before) {
		t.Errorf("a second container of that name: %v; want the first adopted", err)
	}
	// Pods and containers share one namespace of names: a container never
	// stands in for a pod.
	clash := *pod
	clash.Name = "pr-a-1"
	if err := e.CreatePod(ctx, &clash, c.s); !errors.Is(err, planner.ErrNameHeld) || !strings.Contains(err.Error(), "held by container") {
		t.Errorf("a pod named like a container: %v", err)
	}

	// Removing a namespace owner is refused while b joins it (Podman
	// says "container already exists"); removing the pod takes both.
	if err := e.RemoveContainer(ctx, "pr-a-1", false); !errors.Is(err, fakeengine.ErrExists) || !strings.Contains(err.Error(), "dependent containers") {
		t.Errorf("remove of a namespace owner: %v", err)
	}
	infra := ""
	for _, ct := range e.Containers() {
		if ct.Infra {
			infra = ct.Name
		}
	}
	if err := e.RemoveContainer(ctx, infra, false); err == nil || !strings.Contains(err.Error(), "infra container") {
		t.Errorf("remove of the infra container: %v", err)
	}
	if err := e.RemoveNetwork(ctx, "pr_default"); !errors.Is(err, fakeengine.ErrInUse) {
		t.Errorf("remove of a network in use: %v", err)
	}
	if err := e.RemovePod(ctx, "pr-both"); err != nil {
		t.Fatal(err)
	}
	if left := e.Containers(); len(left) != 0 {
		t.Errorf("left after removing the pod: %v", left)
	}
	if err := e.RemoveNetwork(ctx, "pr_default"); err != nil {
		t.Errorf("remove of a network no longer used: %v", err)
	}
	if err := e.RemoveNetwork(ctx, "podman"); err == nil {
		t.Error("Podman's default network was removed")
	}

	// Missing objects are fine to remove.
	for op, err := range map[string]error{
		"container": e.RemoveContainer(ctx, "nope", true), "pod": e.RemovePod(ctx, "nope"),
		"volume": e.RemoveVolume(ctx, "nope"), "network": e.RemoveNetwork(ctx, "nope"), "secret": e.RemoveSecret(ctx, "nope"),
		"stop": e.StopContainer(ctx, "nope", 0),
	} {
		if err != nil {
			t.Errorf("%s of a missing object: %v", op, err)
		}
	}
}

// TestVolumes: a create makes the named volumes it mounts that are missing
// (unlabelled, as Podman does) and anonymous ones, which go with the
// container when asked; a forced volume removal takes its containers.
func TestVolumes(t *testing.T) {
	f := newFixture(t, pairStack)
	c := plan(t, f, "")
	ctx := context.Background()
	e := f.e
	e.AddImages("busybox")
	e.CreateNetwork(ctx, c.s.Networks["default"], nil)
	e.CreatePod(ctx, c.p.PodOf("solo"), c.s)
	src := filepath.Join(f.dir, "src")
	e.AddMissingDirectories(src)
	if err := c.create(e, "pr-solo-1"); !errors.Is(err, fakeengine.ErrNotFound) || !strings.Contains(err.Error(), "statfs "+src) {
		t.Errorf("create with a missing bind-mount source: %v", err)
	}
	if len(e.Volumes()) != 0 {
		t.Errorf("a failed create made volumes: %v", e.Volumes())
	}
	e.CreateDirectory(ctx, src)
	if err := c.create(e, "pr-solo-1"); err != nil {
		t.Fatal(err)
	}
	vols := e.Volumes()
	if len(vols) != 2 || vols[0].Anonymous == vols[1].Anonymous {
		t.Fatalf("volumes %+v, want pr_data and one anonymous", vols)
	}
	for _, v := range vols {
		if v.Name == "pr_data" && len(v.Labels) != 0 {
			t.Errorf("a volume made by a create has labels %v", v.Labels)
		}
	}
	if err := e.RemoveContainer(ctx, "pr-solo-1", true); err != nil {
		t.Fatal(err)
	}
	if vols := e.Volumes(); len(vols) != 1 || vols[0].Name != "pr_data" {
		t.Errorf("after rm -v: %+v", vols)
	}
	if err := c.create(e, "pr-solo-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveVolume(ctx, "pr_data"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Container("pr-solo-1"); ok {
		t.Error("a forced volume removal left the container using it")
	}
}

// TestSecretsAndExistingObjects: a secret, network or volume met at create
// is settled as podmanapi settles it (planner.ClaimName): a secret that is
// not the project's is refused, the project's of the same content adopted
// and of other content replaced; a network or volume of the project is
// accepted as it is, one of no project refused and left as it was.
func TestSecretsAndExistingObjects(t *testing.T) {
	f := newFixture(t, shopStack)
	s := f.load("")
	ctx := context.Background()
	e := f.e
	spec := &planner.SecretSpec{Name: "shop_dbpass", Kind: "secret", Key: "dbpass"}
	mine := func(digest string) map[string]string {
		return planner.Labels("shop", "", planner.LabelConfigHash, digest)
	}
	if err := e.CreateSecret(ctx, spec, s, map[string]string{"a": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateSecret(ctx, spec, s, mine("d1")); !errors.Is(err, planner.ErrNameHeld) || !strings.Contains(err.Error(), "podman secret rm shop_dbpass") {
		t.Errorf("a secret over one of no project: %v", err)
	}
	e.RemoveSecret(ctx, spec.Name)
	if err := e.CreateSecret(ctx, spec, s, mine("d0")); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateSecret(ctx, spec, s, mine("d0")); err != nil {
		t.Errorf("a secret over the project's of the same content: %v", err)
	}
	if err := e.CreateSecret(ctx, spec, s, mine("d1")); err != nil {
		t.Errorf("a secret over the project's of other content: %v", err)
	}
	if got := e.Secrets(); len(got) != 1 || got[0].Labels[planner.LabelConfigHash] != "d1" {
		t.Errorf("secrets %+v, want the one of content d1", got)
	}

	e.AddNetwork(fakeengine.Network{Name: "shop_default", Labels: map[string]string{"mine": "yes"}})
	if err := e.CreateNetwork(ctx, s.Networks["default"], map[string]string{planner.LabelProject: "shop"}); !errors.Is(err, planner.ErrNameHeld) {
		t.Errorf("create over a network of no project: %v", err)
	}
	if n := e.Networks(); !slices.ContainsFunc(n, func(n fakeengine.Network) bool { return n.Name == "shop_default" && n.Labels["mine"] == "yes" }) {
		t.Errorf("the existing network changed: %+v", n)
	}
	e.AddVolume(fakeengine.Volume{Name: "shop_data", Labels: map[string]string{"mine": "yes"}})
	if err := e.CreateVolume(ctx, s.Volumes["data"], map[string]string{planner.LabelProject: "shop"}); !errors.Is(err, planner.ErrNameHeld) {
		t.Errorf("create over a volume of no project: %v", err)
	}
	if v := e.Volumes(); len(v) != 1 || v[0].Labels["mine"] != "yes" || v[0].Labels[planner.LabelProject] != "" {
		t.Errorf("the existing volume changed: %+v", v)
	}
	e.RemoveVolume(ctx, "shop_data")
	e.AddVolume(fakeengine.Volume{Name: "shop_data", Labels: map[string]string{planner.LabelProject: "shop", "mine": "yes"}})
	if err := e.CreateVolume(ctx, s.Volumes["data"], map[string]string{planner.LabelProject: "shop"}); err != nil {
		t.Errorf("create over the project's volume: %v", err)
	}
	if v := e.Volumes(); len(v) != 1 || v[0].Labels["mine"] != "yes" {
		t.Errorf("the project's volume changed: %+v", v)
	}
}

// TestPortTakenByAnotherProject: a second stack publishing the same host
// port fails to start, as Podman's bind fails, until the first is down.
func TestPortTakenByAnotherProject(t *testing.T) {
	f := newFixture(t, shopStack)
	f.up("", planner.Options{})
	_, err := f.tryUp("other", planner.Options{Services: []string{"web"}})
	if err == nil || !strings.Contains(err.Error(), "8081: bind: address already in use") {
		t.Fatalf("second project on the same port: %v", err)
	}
	f.down("", planner.DownOptions{})
	f.up("other", planner.Options{Services: []string{"web"}})
}

// TestStartStartsThePodFirst: starting a pod member starts its infra
// container (and so the pod), as Podman does.
func TestStartStartsThePodFirst(t *testing.T) {
	f := newFixture(t, shopStack)
	f.up("", planner.Options{NoStart: true})
	if p, _ := f.e.Pod("shop-app"); p.State != "Created" {
		t.Errorf("pod before any start: %s", p.State)
	}
	if err := f.e.StartContainer(context.Background(), "shop-proxy-1"); err != nil {
		t.Fatal(err)
	}
	if p, _ := f.e.Pod("shop-app"); p.State != "Degraded" {
		t.Errorf("pod with infra and proxy running, api created: %s, want Degraded", p.State)
	}
	f.e.StartContainer(context.Background(), "shop-api-1")
	if p, _ := f.e.Pod("shop-app"); p.State != "Running" {
		t.Errorf("pod with everything running: %s", p.State)
	}
	f.e.StopContainer(context.Background(), "shop-api-1", 0)
	f.e.StopContainer(context.Background(), "shop-proxy-1", 0)
	if p, _ := f.e.Pod("shop-app"); p.State != "Degraded" {
		t.Errorf("pod with only its infra running: %s, want Degraded (as Podman shows it)", p.State)
	}
}

// TestCreateSettlesAHeldName: as podmanapi, a create whose name is held
// replaces the project's container of another configuration and refuses,
// untouched, one that is not the project's.
func TestCreateSettlesAHeldName(t *testing.T) {
	f := newFixture(t, pairStack)
	c := plan(t, f, "")
	e := f.e
	e.AddImages("busybox")
	ct := c.container("pr-solo-1")
	e.CreateNetwork(context.Background(), c.s.Networks["default"], nil)
	if err := e.CreatePod(context.Background(), c.p.PodOf("solo"), c.s); err != nil {
		t.Fatal(err)
	}
	old := planner.Labels("pr", "", planner.LabelConfigHash, "an-older-hash")
	e.AddContainer(fakeengine.Container{Name: ct.Name, Image: "busybox", Pod: ct.Pod, State: "exited", Labels: old})
	if err := c.create(e, ct.Name); err != nil {
		t.Fatalf("create over the project's container of another configuration: %v", err)
	}
	if got, _ := e.Container(ct.Name); got.Labels[planner.LabelConfigHash] != ct.Hash || got.State != "created" {
		t.Errorf("not replaced: %+v", got)
	}
	if err := e.RemoveContainer(context.Background(), ct.Name, false); err != nil {
		t.Fatal(err)
	}
	foreign := e.AddContainer(fakeengine.Container{Name: ct.Name, Image: "busybox", State: "running", Labels: map[string]string{"made.by": "hand"}})
	err := c.create(e, ct.Name)
	if !errors.Is(err, planner.ErrNameHeld) || !strings.Contains(err.Error(), "podman rm "+ct.Name) {
		t.Errorf("create over a foreign container: %v", err)
	}
	if got, _ := e.Container(ct.Name); got.ID != foreign.ID || got.State != "running" {
		t.Errorf("the foreign container was touched: %+v", got)
	}
}

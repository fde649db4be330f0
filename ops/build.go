package ops

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/podstack/podstack/planner"
)

// resolveBuilds gives the builds a plan may act on their digests (see
// stack.Build.ContextDigest), so the plan rebuilds an image whose inputs
// changed: with --no-deps only the named services', else every one's.
func (p *Project) resolveBuilds(opts planner.Options) error {
	var names []string
	if opts.NoDeps && len(opts.Services) > 0 {
		names = opts.Services
	}
	if opts.OneOff != "" && opts.NoDeps {
		names = []string{opts.OneOff}
	}
	return p.Stack.ResolveBuildDigests(names...)
}

// needImages fails when the project has no stack file: the images are
// its services'.
func (p *Project) needImages(what string) error {
	if p.Stack == nil {
		return fmt.Errorf("%s %w (the images are its services'): run it beside the stack file or name it with -f", what, ErrNoStack)
	}
	return nil
}

// BuildOptions tune Build.
type BuildOptions struct {
	// Build says what to build and how: services (none: all with a build
	// section), --with-dependencies, --no-cache, --pull, --build-arg.
	Build planner.BuildOptions
	// Exec tunes how the builds run (how many at once).
	Exec planner.ExecOptions
}

// Build builds the services' images, each build's output going to Progress
// as it comes, holding the project's lock (an up building the same image
// would race for its name). The images carry the digest of the stack's
// inputs, so up finds them current and recreates the containers made from
// the images before. It reports how many images it built.
func (p *Project) Build(ctx context.Context, o BuildOptions) (int, error) {
	if err := p.needImages("build"); err != nil {
		return 0, err
	}
	err := p.Stack.ResolveBuildDigests()
	if err != nil {
		return 0, err
	}
	if o.Build.Host, err = planner.BuildHost(ctx, p.Engine, p.Stack); err != nil {
		return 0, err
	}
	plan, err := planner.PlanBuild(p.Stack, o.Build)
	if err != nil {
		return 0, err
	}
	if len(plan.Steps) == 0 {
		p.say("Nothing to build: no service named has a build section")
		return 0, nil
	}
	release, err := p.lock(ctx, "build")
	if err != nil {
		return 0, err
	}
	defer release()
	return len(plan.Steps), planner.Execute(ctx, plan, p.Engine, p.events(), o.Exec)
}

// PullOptions tune Pull.
type PullOptions struct {
	Pull planner.PullOptions
	Exec planner.ExecOptions
}

// Pull pulls the services' images, all at once unless Exec says otherwise,
// with Podman's progress lines going to Progress. Services it pulls nothing
// for are said on Status with why. Without IgnoreFailures the first image
// that cannot be pulled fails it (the pulls already running finish).
func (p *Project) Pull(ctx context.Context, o PullOptions) error {
	if err := p.needImages("pull"); err != nil {
		return err
	}
	var observed *planner.ObservedState
	if o.Pull.Policy == "missing" {
		var err error
		if observed, err = p.Engine.Observe(ctx, p.Name, &planner.Lookup{Images: planner.Images(p.Stack)}); err != nil {
			return err
		}
	}
	plan, err := planner.PlanPull(p.Stack, observed, o.Pull)
	if err != nil {
		return err
	}
	for _, s := range plan.Skipped {
		p.say("Skipping %s", s)
	}
	return planner.Execute(ctx, plan.Plan, p.Engine, p.events(), o.Exec)
}

// PushOptions tune Push.
type PushOptions struct {
	Push planner.PushOptions
	Exec planner.ExecOptions
}

// Push pushes the images the stack builds and names to their registries.
func (p *Project) Push(ctx context.Context, o PushOptions) error {
	if err := p.needImages("push"); err != nil {
		return err
	}
	plan, err := planner.PlanPush(p.Stack, o.Push)
	if err != nil {
		return err
	}
	if len(plan.Steps) == 0 {
		p.say("Nothing to push: no service has both a build section and an image: name")
		return nil
	}
	return planner.Execute(ctx, plan, p.Engine, p.events(), o.Exec)
}

// Image is the image one of the project's containers runs, with compose's
// JSON keys (docker compose images --format json).
type Image struct {
	// ID is the image's full ID.
	ID            string `json:"ID"`
	ContainerName string `json:"ContainerName"`
	// Service is podstack's own: which service the container is of.
	Service    string `json:"Service"`
	Repository string `json:"Repository"`
	Tag        string `json:"Tag"`
	Platform   string `json:"Platform"`
	// Size is in bytes.
	Size    int64      `json:"Size"`
	Created *time.Time `json:"Created,omitempty"`
}

// Images lists the images the services' containers run (all services when
// none is named): the image each was made from, by ID, named as the
// container names it while that name still points to it.
func (p *Project) Images(ctx context.Context, services []string) ([]Image, error) {
	o, err := p.Engine.Observe(ctx, p.Name, nil)
	if err != nil {
		return nil, err
	}
	containers := match(o, services, nil)
	var refs []string
	for _, c := range containers {
		refs = append(refs, imageKey(c))
	}
	infos, err := p.Engine.InspectImages(ctx, refs)
	if err != nil {
		return nil, err
	}
	rows := []Image{}
	for _, c := range containers {
		row := Image{ContainerName: c.Name, Service: c.Labels[planner.LabelService], ID: c.ImageID}
		name := c.Image
		if info, ok := infos[imageKey(c)]; ok {
			row.ID, row.Size, row.Platform = info.ID, info.Size, info.Platform
			if !info.Created.IsZero() {
				created := info.Created
				row.Created = &created
			}
			if !slices.Contains(info.RepoTags, name) && len(info.RepoTags) > 0 {
				name = info.RepoTags[0] // the container was made by ID or short name
			}
			if len(info.RepoTags) == 0 {
				name = "" // rebuilt since: the image it runs has lost its name
			}
		}
		row.Repository, row.Tag = splitRef(name)
		rows = append(rows, row)
	}
	return rows, nil
}

// imageKey is how to find the image a container runs: by its ID when
// known (its name may point to a newer image by now).
func imageKey(c planner.ObservedContainer) string {
	if c.ImageID != "" {
		return c.ImageID
	}
	return c.Image
}

// splitRef splits an image reference into repository and tag: the tag is
// what follows the last colon after the last slash ("latest" when none);
// a digest reference has no tag.
func splitRef(ref string) (repo, tag string) {
	if ref == "" {
		return "<none>", "<none>"
	}
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], "<none>"
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

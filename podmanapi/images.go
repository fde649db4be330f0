package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/containers/buildah/define"
	"github.com/containers/podman/v5/pkg/bindings/images"
	entitiesTypes "github.com/containers/podman/v5/pkg/domain/entities/types"
	"go.podman.io/image/v5/docker/reference"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// ImageExposedPorts returns the ports a local image exposes ("6379/tcp"),
// sorted, and false when the image is not in local storage. Exports use it
// to give a service that declares no port the Service its dependents need.
func (c *Client) ImageExposedPorts(ctx context.Context, ref string) ([]string, bool, error) {
	data, err := images.GetImage(c.ctx(ctx), ref, nil)
	if err = mapErr(err); errors.Is(err, ErrNotFound) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	var ports []string
	if data.ImageData != nil && data.Config != nil {
		for p := range data.Config.ExposedPorts {
			ports = append(ports, p)
		}
	}
	sort.Strings(ports)
	return ports, true, nil
}

// localImage is what Observe needs of a local image.
type localImage struct {
	ID string
	// Digest is its LabelBuildDigest label.
	Digest string
	// Health is its HEALTHCHECK test, for healthchecks that keep it.
	Health []string
}

// observeImage returns the local image ref (nil when there is none): its
// ID, build digest label and healthcheck. One inspect, without the size
// (which costs Podman a walk of the layers), is as cheap as an existence
// check.
func (c *Client) observeImage(ctx context.Context, ref string) (*localImage, error) {
	data, err := images.GetImage(c.ctx(ctx), ref, nil)
	if err = mapErr(err); errors.Is(err, ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if data.ImageData == nil {
		return nil, nil
	}
	img := &localImage{ID: data.ID, Digest: data.Labels[planner.LabelBuildDigest], Health: imageHealthTest(data.ImageData)}
	if img.Digest == "" && data.Config != nil {
		img.Digest = data.Config.Labels[planner.LabelBuildDigest]
	}
	return img, nil
}

// PullImage pulls ref with Podman's pull policy, writing Podman's progress
// lines ("Trying to pull ...", "Copying blob ...") to out.
func (c *Client) PullImage(ctx context.Context, ref, policy string, out io.Writer) error {
	if policy == "" {
		policy = "missing"
	}
	quiet := false
	if out == nil {
		out = io.Discard
	}
	opts := &images.PullOptions{Quiet: &quiet, Policy: &policy, ProgressWriter: &out}
	if f := registryAuthFile(); f != "" {
		opts.WithAuthfile(f)
	}
	_, err := images.Pull(c.ctx(ctx), ref, opts)
	if err != nil {
		return fmt.Errorf("pull image %s: %w%s", ref, mapRegistryErr(err), pullHint)
	}
	return nil
}

const pullHint = " (with no registry reachable, build or load the image locally and use --pull never or missing)"

// mapRegistryErr maps a registry failure, keeping its text: "no such host"
// is no missing image, so it must not become ErrNotFound.
func mapRegistryErr(err error) error {
	err = mapErr(err)
	if errors.Is(err, ErrNotFound) && strings.Contains(err.Error(), "no such host") {
		return errors.New(strings.TrimPrefix(err.Error(), ErrNotFound.Error()+": "))
	}
	return err
}

// BuildImage builds ref from b through the service: the context is sent
// as an archive (what .containerignore or .dockerignore leave in), the
// build's output is written to out line by line as Podman streams it, and
// the image gets b's labels. The error names the step that failed; the
// output is not repeated in it.
func (c *Client) BuildImage(ctx context.Context, ref string, b *stack.Build, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	bo, err := newBuildOptions(ref, b, c.versionCaps())
	defer bo.cleanup()
	if err != nil {
		return fmt.Errorf("build image %s: %w", ref, err)
	}
	tail := &tailWriter{w: out}
	bo.opts.Out = tail
	err = retryKilledRuntime(ctx, out, func() error {
		_, err := images.Build(c.ctx(ctx), []string{bo.dockerfile}, bo.opts)
		return err
	})
	if err != nil {
		hint := ""
		if rlimitRefused(tail.String()) {
			hint = rlimitHint
		}
		return fmt.Errorf("build image %s from %s: %w%s", ref, b.Context, mapErr(err), hint)
	}
	return nil
}

// rlimitRefused says a build's output holds the runtime failing to set a
// RUN step's rlimits. Buildah asks, rootful, for an open-files limit of
// 1048576 whatever the service's own (and its defaults for the others); a
// host without CAP_SYS_RESOURCE, as many containers and CI sandboxes are,
// refuses that while its containers run. Podman's error names only the
// step's "exit status 1"; the cause is in the output.
func rlimitRefused(output string) bool {
	return strings.Contains(output, "error setting rlimit") && strings.Contains(output, "operation not permitted")
}

const rlimitHint = " (the host refused the rlimits Podman's build asked for a RUN step: set build.ulimits within the host's limits" +
	" (e.g. nofile: 20000; ulimit -Hn shows the limit), or default_ulimits under [containers] in the service's containers.conf)"

// tailWriter passes what is written to w and keeps the last tailSize bytes.
type tailWriter struct {
	w    io.Writer
	tail []byte
}

const tailSize = 4096

func (t *tailWriter) Write(p []byte) (int, error) {
	t.tail = append(t.tail, p...)
	if len(t.tail) > tailSize {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-tailSize:]...)
	}
	return t.w.Write(p)
}

func (t *tailWriter) String() string { return string(t.tail) }

// buildOptions are a build's options for the bindings, the Dockerfile to
// send, and the temporary files made for them (an inline Dockerfile, the
// values of environment and inline secrets), which cleanup removes.
type buildOptions struct {
	opts       entitiesTypes.BuildOptions
	dockerfile string
	temps      []string
}

func (bo *buildOptions) cleanup() {
	for _, f := range bo.temps {
		os.Remove(f)
	}
}

// temp writes data to a new private temporary file, to be removed by
// cleanup.
func (bo *buildOptions) temp(pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return "", err
	}
	bo.temps = append(bo.temps, f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), err
}

// newBuildOptions maps b onto Podman's build options, as podman build's
// flags would set them. An inline Dockerfile, and the value of a secret
// that is no file, go in private temporary files: the bindings read an
// env= secret from this process's environment, which lacks the .env
// files' variables the stack resolved it from. k decides what the
// service can read.
func newBuildOptions(ref string, b *stack.Build, k Capabilities) (*buildOptions, error) {
	bo := &buildOptions{dockerfile: b.DockerfilePath()}
	o := &bo.opts
	o.ContextDirectory = b.Context
	o.Output = ref
	o.Target = b.Target
	o.Labels = labelList(b.Labels)
	o.Args = b.Args
	o.NoCache = b.NoCache
	if b.Pull {
		o.PullPolicy = define.PullAlways
	}
	o.CommonBuildOpts = &define.CommonBuildOptions{AddHost: b.ExtraHosts}
	if b.DockerfileInline != "" {
		f, err := bo.temp("podstack-dockerfile-*", []byte(b.DockerfileInline))
		if err != nil {
			return bo, fmt.Errorf("inline Dockerfile: %w", err)
		}
		bo.dockerfile = f
	}
	for _, name := range sortedKeys(b.AdditionalContexts) {
		v := b.AdditionalContexts[name]
		bc := &define.AdditionalBuildContext{Value: v}
		switch {
		case strings.HasPrefix(v, "docker-image://"):
			bc.IsImage, bc.Value = true, strings.TrimPrefix(v, "docker-image://")
		case strings.HasPrefix(v, "http://"), strings.HasPrefix(v, "https://"):
			bc.IsURL = true
		case !filepath.IsAbs(v):
			return bo, fmt.Errorf("build.additional_contexts %s: %q is no directory, image or URL Podman reads", name, v)
		case !k.LocalBuildContexts():
			return bo, fmt.Errorf("build.additional_contexts %s is a local directory, which Podman %s cannot read from another host: it needs %s",
				name, k.Version, localBuildContextsNeed)
		}
		if o.AdditionalBuildContexts == nil {
			o.AdditionalBuildContexts = map[string]*define.AdditionalBuildContext{}
		}
		o.AdditionalBuildContexts[name] = bc
	}
	for _, name := range sortedKeys(b.Ulimits) {
		u := b.Ulimits[name]
		o.CommonBuildOpts.Ulimit = append(o.CommonBuildOpts.Ulimit, fmt.Sprintf("%s=%d:%d", name, u.Soft, u.Hard))
	}
	if b.ShmSize > 0 {
		o.CommonBuildOpts.ShmSize = strconv.FormatInt(b.ShmSize, 10)
	}
	switch b.Network {
	case "none":
		o.ConfigureNetwork = define.NetworkDisabled
	case "host":
		o.ConfigureNetwork = define.NetworkEnabled
		o.NamespaceOptions = []define.NamespaceOption{{Name: "network", Host: true}}
	}
	for _, c := range b.CacheFrom {
		named, err := reference.ParseNormalizedNamed(c)
		if err != nil {
			return bo, fmt.Errorf("build.cache_from %q: %w", c, err)
		}
		// Podman's cache source is a repository: a tag names none.
		o.CacheFrom = append(o.CacheFrom, reference.TrimNamed(named))
	}
	o.AdditionalTags = b.Tags
	if b.Platform != "" {
		parts := strings.SplitN(b.Platform, "/", 3)
		if len(parts) < 2 {
			return bo, fmt.Errorf("build.platforms %q: want OS/ARCH or OS/ARCH/VARIANT, e.g. linux/arm64", b.Platform)
		}
		p := struct{ OS, Arch, Variant string }{OS: parts[0], Arch: parts[1]}
		if len(parts) == 3 {
			p.Variant = parts[2]
		}
		o.Platforms = append(o.Platforms, p)
	}
	for _, sec := range b.Secrets {
		src := sec.File
		if src == "" {
			f, err := bo.temp("podstack-secret-*", []byte(sec.Content))
			if err != nil {
				return bo, fmt.Errorf("build secret %s: %w", sec.ID, err)
			}
			src = f
		}
		o.CommonBuildOpts.Secrets = append(o.CommonBuildOpts.Secrets, "id="+sec.ID+",src="+src)
	}
	return bo, nil
}

// killedRuntime is how a build step fails when the OCI runtime running it
// (not the step's command: that is "exit status 137") got SIGKILL.
const killedRuntime = "while running runtime: signal: killed"

// killedRuntimeRetries bounds retryKilledRuntime.
const killedRuntimeRetries = 2

// retryKilledRuntime builds again when a RUN step failed only because the
// service's own runtime process was killed under it. Buildah before 1.31
// (Podman before 4.6) started the runtime with a parent-death signal tied
// to the Go thread that forked it, so the thread's exit killed the step at
// random while the service served other calls (containers/podman#17918,
// fixed by containers/buildah#4813). The step's command did not fail, and
// what the build finished before is in its layer cache, so building again
// is safe and cheap; out says why it starts over.
func retryKilledRuntime(ctx context.Context, out io.Writer, build func() error) error {
	tries := 0
	return retryWhile(ctx, killedRuntime, killedRuntimeRetries, 0, func() error {
		if tries++; tries > 1 {
			fmt.Fprintf(out, "the build's runtime was killed under it (a fault of Podman before 4.6, not of the step): building again\n")
		}
		return build()
	})
}

func labelList(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	return out
}

// PushImage pushes ref to the registry it names, writing progress to out.
func (c *Client) PushImage(ctx context.Context, ref string, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	quiet := false
	opts := &images.PushOptions{Quiet: &quiet, ProgressWriter: &out}
	if f := registryAuthFile(); f != "" {
		opts.WithAuthfile(f)
	}
	if err := images.Push(c.ctx(ctx), ref, ref, opts); err != nil {
		return fmt.Errorf("push image %s: %w", ref, mapRegistryErr(err))
	}
	return nil
}

// RemoveImage removes a local image by reference (the name only, when it
// has others: Podman untags it). A missing one is fine; one a container
// uses is ErrConflict.
func (c *Client) RemoveImage(ctx context.Context, ref string) error {
	_, errs := images.Remove(c.ctx(ctx), []string{ref}, nil)
	var out []error
	for _, err := range errs {
		err = mapErr(err)
		msg := strings.ToLower(err.Error())
		switch {
		case errors.Is(err, ErrNotFound), strings.Contains(msg, "image not known"), strings.Contains(msg, "no such image"):
		case strings.Contains(msg, "in use"):
			out = append(out, fmt.Errorf("remove image %s: %w: %s", ref, ErrConflict, err))
		default:
			out = append(out, fmt.Errorf("remove image %s: %w", ref, err))
		}
	}
	return errors.Join(out...)
}

// InspectImages returns the local images refs name (IDs or references),
// by the ref asked; one that is not there is left out.
func (c *Client) InspectImages(ctx context.Context, refs []string) (map[string]ops.ImageInfo, error) {
	out := map[string]ops.ImageInfo{}
	for _, ref := range dedupe(refs) {
		size := true
		data, err := images.GetImage(c.ctx(ctx), ref, &images.GetOptions{Size: &size})
		if err = mapErr(err); errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("inspect image %s: %w", ref, err)
		}
		if data.ImageData == nil {
			continue
		}
		info := ops.ImageInfo{ID: data.ID, RepoTags: data.RepoTags, Size: data.Size}
		if data.Created != nil {
			info.Created = *data.Created
		}
		if data.Os != "" {
			info.Platform = data.Os + "/" + data.Architecture
		}
		out[ref] = info
	}
	return out, nil
}

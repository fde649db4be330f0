package fakeengine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/podstack/podstack/ops"
	"github.com/podstack/podstack/stack"
)

// image is a local image.
type image struct {
	id      string
	labels  map[string]string
	size    int64
	created time.Time
}

// newImageLocked is a pulled or loaded image with a fresh ID.
func (e *Engine) newImageLocked(labels map[string]string) *image {
	return &image{id: e.newIDLocked(), labels: maps.Clone(labels), size: 4 << 20, created: e.clockLocked()}
}

// imageLocked is the local image ref resolves to (a reference or an ID),
// nil when there is none.
func (e *Engine) imageLocked(ref string) *image {
	for _, c := range candidates(ref) {
		if img := e.images[c]; img != nil {
			return img
		}
	}
	for _, img := range e.images {
		if img.id == ref {
			return img
		}
	}
	return e.dangling[ref]
}

// ImageID returns the ID of the local image ref resolves to, "" when none.
func (e *Engine) ImageID(ref string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if img := e.imageLocked(ref); img != nil {
		return img.id
	}
	return ""
}

// ImageLabels returns the labels of the local image ref resolves to.
func (e *Engine) ImageLabels(ref string) map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if img := e.imageLocked(ref); img != nil {
		return maps.Clone(img.labels)
	}
	return nil
}

// PullImage makes ref present (a short name as docker.io's), writing
// Podman's progress lines to out. Pulling an image that is present keeps
// it: the fake registry never changes. Inject a failure with
// Fail("PullImage", ref, err) for an unreachable registry.
func (e *Engine) PullImage(ctx context.Context, ref, policy string, out io.Writer) error {
	if err := e.begin(ctx, "PullImage", ref); err != nil {
		return fmt.Errorf("pull image %s: %w", ref, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if policy == "always" || !e.hasImageLocked(ref) {
		fmt.Fprintf(out, "Trying to pull %s...\nWriting manifest to image destination\n", qualify(ref, true))
		if !e.hasImageLocked(ref) {
			e.images[qualify(ref, true)] = e.newImageLocked(nil)
		}
	}
	e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "image", Action: "pull", Name: ref})
	return nil
}

// BuildImage makes ref present (a short name as localhost's) with b's
// labels, writing build lines to out. As with Podman's layer cache, the
// same build (context, Dockerfile, args, target, labels) gives the same
// image ID; NoCache a new one.
func (e *Engine) BuildImage(ctx context.Context, ref string, b *stack.Build, out io.Writer) error {
	if b == nil {
		b = &stack.Build{}
	}
	if err := e.begin(ctx, "BuildImage", ref); err != nil {
		return fmt.Errorf("build image %s from %s: %w", ref, b.Context, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(out, "STEP 1/2: FROM %s\nSTEP 2/2: COPY . /\nCOMMIT %s\n", b.Context, ref)
	inputs, _ := json.Marshal(b)
	if b.NoCache {
		inputs = fmt.Appendf(inputs, "%d", e.seq)
		e.seq++
	}
	sum := sha256.Sum256(inputs)
	img := &image{id: hex.EncodeToString(sum[:]), labels: maps.Clone(b.Labels), size: 5 << 20, created: e.clockLocked()}
	if old := e.images[qualify(ref, false)]; old != nil && old.id != img.id {
		e.dangling[old.id] = old // its containers still run it, nameless
	}
	delete(e.dangling, img.id)
	e.images[qualify(ref, false)] = img
	e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "image", Action: "build", Name: ref})
	return nil
}

// PushImage "pushes" a present image, writing progress lines to out.
// Inject a failure with Fail("PushImage", ref, err).
func (e *Engine) PushImage(ctx context.Context, ref string, out io.Writer) error {
	if err := e.begin(ctx, "PushImage", ref); err != nil {
		return fmt.Errorf("push image %s: %w", ref, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.hasImageLocked(ref) {
		return fmt.Errorf("push image %s: %w", ref, podmanErr(ErrNotFound, ref+": image not known"))
	}
	fmt.Fprintf(out, "Getting image source signatures\nWriting manifest to image destination\n")
	e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "image", Action: "push", Name: ref})
	return nil
}

// RemoveImage removes the local image ref names; a missing one is fine,
// one a container was made from is a conflict, as Podman refuses it.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	if err := e.begin(ctx, "RemoveImage", ref); err != nil {
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	img := e.imageLocked(ref)
	if img == nil {
		return nil
	}
	for _, name := range sortedKeys(e.containers) {
		if c := e.containers[name]; c.ImageID == img.id {
			return fmt.Errorf("remove image %s: %w", ref, podmanErr(ErrConflict,
				fmt.Sprintf("image used by %s: image is in use by a container: consider listing external containers and force-removing image", c.ID)))
		}
	}
	for name, other := range e.images {
		if other == img {
			delete(e.images, name)
		}
	}
	delete(e.dangling, img.id)
	e.emitLocked(ops.Event{Time: e.clockLocked(), Type: "image", Action: "remove", Name: ref})
	return nil
}

// InspectImages returns the local images refs name (references or IDs).
func (e *Engine) InspectImages(ctx context.Context, refs []string) (map[string]ops.ImageInfo, error) {
	if err := e.begin(ctx, "InspectImages", strings.Join(refs, ",")); err != nil {
		return nil, fmt.Errorf("inspect images: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]ops.ImageInfo{}
	for _, ref := range refs {
		img := e.imageLocked(ref)
		if img == nil {
			continue
		}
		info := ops.ImageInfo{ID: img.id, Size: img.size, Created: img.created, Platform: e.info.OS + "/" + e.info.Arch}
		for _, name := range sortedKeys(e.images) {
			if e.images[name] == img {
				info.RepoTags = append(info.RepoTags, name)
			}
		}
		out[ref] = info
	}
	return out, nil
}

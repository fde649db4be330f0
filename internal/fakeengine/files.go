package fakeengine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/podstack/podstack/ops"
)

// fsEntry is a file or directory of a container's file system as the fake
// holds it: what WriteFile seeds and CopyTo writes.
type fsEntry struct {
	dir  bool
	data []byte
	mode fs.FileMode
	uid  int
	gid  int
}

// filesLocked is c's file system, made on first use with the directories
// every image has.
func filesLocked(c *container) map[string]*fsEntry {
	if c.files == nil {
		c.files = map[string]*fsEntry{}
		for _, d := range []string{"/", "/tmp", "/etc", "/srv"} {
			c.files[d] = &fsEntry{dir: true, mode: fs.ModeDir | 0o755}
		}
	}
	return c.files
}

// containerPath cleans a path in a container (relative ones are from /, the
// busybox images' working directory).
func containerPath(p string) string { return path.Clean("/" + p) }

// WriteFile puts a file in a container's file system (its parent
// directories too), as if the image or the container had made it.
func (e *Engine) WriteFile(name, file, content string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return noSuchContainer(name)
	}
	files := filesLocked(c)
	p := containerPath(file)
	for d := path.Dir(p); files[d] == nil; d = path.Dir(d) {
		files[d] = &fsEntry{dir: true, mode: fs.ModeDir | 0o755}
	}
	files[p] = &fsEntry{data: []byte(content), mode: 0o644}
	return nil
}

// ReadFile returns a file of a container's file system, and whether it is
// there (a directory is not).
func (e *Engine) ReadFile(name, file string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return "", false
	}
	f := filesLocked(c)[containerPath(file)]
	if f == nil || f.dir {
		return "", false
	}
	return string(f.data), true
}

// Files lists a container's files and directories under dir ("/" for
// all) as "path" and "path/", sorted.
func (e *Engine) Files(name, dir string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return nil
	}
	root := containerPath(dir)
	var out []string
	for p, f := range filesLocked(c) {
		if p == root || !strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/") {
			continue
		}
		if f.dir {
			p += "/"
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// StatPath describes a path in a container, running or not, as Podman's
// archive API does (no symlinks in the fake: LinkTarget is the path).
func (e *Engine) StatPath(ctx context.Context, name, p string) (ops.PathInfo, bool, error) {
	if err := e.begin(ctx, "StatPath", name); err != nil {
		return ops.PathInfo{}, false, fmt.Errorf("stat %s in %s: %w", p, name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return ops.PathInfo{}, false, fmt.Errorf("stat %s in %s: %w", p, name, noSuchContainer(name))
	}
	clean := containerPath(p)
	f := filesLocked(c)[clean]
	if f == nil {
		return ops.PathInfo{}, false, nil
	}
	return ops.PathInfo{Name: path.Base(clean), IsDir: f.dir, Mode: f.mode, Size: int64(len(f.data)), LinkTarget: clean}, true, nil
}

// CopyFrom writes a tar archive of path in the container to w, its top
// entry named as path's base, as Podman does.
func (e *Engine) CopyFrom(ctx context.Context, name, p string, w io.Writer) error {
	if err := e.begin(ctx, "CopyFrom", name); err != nil {
		return fmt.Errorf("copy %s from %s: %w", p, name, err)
	}
	e.mu.Lock()
	c := e.containers[name]
	if c == nil {
		e.mu.Unlock()
		return fmt.Errorf("copy %s from %s: %w", p, name, noSuchContainer(name))
	}
	clean := containerPath(p)
	files := filesLocked(c)
	if files[clean] == nil {
		e.mu.Unlock()
		return fmt.Errorf("copy %s from %s: %w", p, name, podmanErr(ErrNotFound, "no such file or directory"))
	}
	var paths []string
	for q := range files {
		if q == clean || strings.HasPrefix(q, strings.TrimSuffix(clean, "/")+"/") {
			paths = append(paths, q)
		}
	}
	sort.Strings(paths)
	entries := make([]fsEntry, len(paths))
	for i, q := range paths {
		entries[i] = *files[q]
	}
	e.mu.Unlock()
	tw := tar.NewWriter(w)
	base := path.Base(clean)
	for i, q := range paths {
		f := entries[i]
		h := &tar.Header{Name: path.Join(base, strings.TrimPrefix(q, clean)), Mode: int64(f.mode.Perm()), Uid: f.uid, Gid: f.gid,
			Typeflag: tar.TypeReg, Size: int64(len(f.data))}
		if f.dir {
			h.Name, h.Typeflag, h.Size = h.Name+"/", tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("copy %s from %s: %w", p, name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return fmt.Errorf("copy %s from %s: %w", p, name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("copy %s from %s: %w", p, name, err)
	}
	return nil
}

// CopyTo unpacks the tar archive r into the container's existing directory
// dir; with chown the files belong to the container's user (root in the
// fake), else they keep the archive's owners. An archive that would write
// outside dir is refused, as Podman's copier does.
func (e *Engine) CopyTo(ctx context.Context, name, dir string, r io.Reader, chown bool) error {
	if err := e.begin(ctx, "CopyTo", name); err != nil {
		return fmt.Errorf("copy to %s in %s: %w", dir, name, err)
	}
	type item struct {
		path string
		f    *fsEntry
	}
	var items []item
	root := containerPath(dir)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("copy to %s in %s: %w", dir, name, err)
		}
		p := path.Join(root, h.Name)
		if p != root && !strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/") {
			return fmt.Errorf("copy to %s in %s: entry %q is outside the directory", dir, name, h.Name)
		}
		f := &fsEntry{mode: fs.FileMode(h.Mode).Perm(), uid: h.Uid, gid: h.Gid}
		if chown {
			f.uid, f.gid = 0, 0
		}
		switch h.Typeflag {
		case tar.TypeDir:
			f.dir, f.mode = true, f.mode|fs.ModeDir
		case tar.TypeReg:
			if f.data, err = io.ReadAll(tr); err != nil {
				return fmt.Errorf("copy to %s in %s: %w", dir, name, err)
			}
		default:
			continue
		}
		items = append(items, item{p, f})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.containers[name]
	if c == nil {
		return fmt.Errorf("copy to %s in %s: %w", dir, name, noSuchContainer(name))
	}
	files := filesLocked(c)
	if d := files[root]; d == nil || !d.dir {
		return fmt.Errorf("copy to %s in %s: %w", dir, name, podmanErr(ErrNotFound, "no such file or directory"))
	}
	rec := CopyRequest{Container: name, Dir: dir, Files: map[string]string{}}
	for _, it := range items {
		rec.Files[it.path] = string(it.f.data)
		if it.f.dir {
			rec.Files[it.path] = "<dir>"
		}
	}
	e.copies = append(e.copies, rec)
	for _, it := range items {
		if old := files[it.path]; old != nil && old.dir && !it.f.dir {
			return fmt.Errorf("copy to %s in %s: cannot overwrite directory %q with non-directory", dir, name, it.path)
		}
		for d := path.Dir(it.path); files[d] == nil; d = path.Dir(d) {
			files[d] = &fsEntry{dir: true, mode: fs.ModeDir | 0o755}
		}
		files[it.path] = it.f
	}
	return nil
}

// AttachRequest is one AttachContainer call.
type AttachRequest struct {
	Container  string
	DetachKeys string
	// Stdin is what was read from AttachIO.Stdin (nil: none forwarded).
	Stdin *string
}

// Attaches returns the AttachContainer calls made so far, in order.
func (e *Engine) Attaches() []AttachRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.attaches)
}

// AttachContainer copies what a running container writes from now on to
// o's writers until it exits (ExitContainer, a job's end, a stop) or ctx
// ends; stdin is read and recorded. The fake never detaches.
func (e *Engine) AttachContainer(ctx context.Context, name string, o ops.AttachIO) (bool, error) {
	if err := e.begin(ctx, "AttachContainer", name); err != nil {
		return false, fmt.Errorf("attach to %s: %w", name, err)
	}
	req := AttachRequest{Container: name, DetachKeys: o.DetachKeys}
	if o.Stdin != nil {
		in, err := io.ReadAll(o.Stdin)
		if err != nil {
			return false, fmt.Errorf("attach to %s: %w", name, err)
		}
		s := string(in)
		req.Stdin = &s
	}
	e.mu.Lock()
	c := e.containers[name]
	if c == nil {
		e.mu.Unlock()
		return false, fmt.Errorf("attach to %s: %w", name, noSuchContainer(name))
	}
	if !up(c.State) {
		e.mu.Unlock()
		return false, fmt.Errorf("attach to %s: %w", name, podmanErr(ErrNotRunning, "you can only attach to running containers"))
	}
	e.attaches = append(e.attaches, req)
	seen, mark := len(c.logs), len(c.exits)
	for {
		batch := slices.Clone(c.logs[seen:])
		seen = len(c.logs)
		done := len(c.exits) > mark || c.removed
		changed := e.changed
		e.mu.Unlock()
		for _, l := range batch {
			w := o.Stdout
			if l.stderr && o.Stderr != nil {
				w = o.Stderr
			}
			if err := write(w, l.text+"\n"); err != nil {
				return false, fmt.Errorf("attach to %s: %w", name, err)
			}
		}
		if done {
			return false, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false, nil
		}
		e.mu.Lock()
	}
}

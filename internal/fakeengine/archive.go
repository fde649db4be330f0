package fakeengine

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
)

// CopyRequest is one CopyToContainer call: the container, the directory
// the archive was extracted under, and the archive's entries by their
// path in the container ("/app/index.html"); a directory's content is
// "<dir>".
type CopyRequest struct {
	Container string
	Dir       string
	Files     map[string]string
}

// Copies returns the CopyToContainer calls made so far, in order.
func (e *Engine) Copies() []CopyRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := slices.Clone(e.copies)
	for i := range out {
		out[i].Files = maps.Clone(out[i].Files)
	}
	return out
}

// CopyToContainer reads the tar archive and records it, as Podman's
// archive endpoint would extract it: into an existing container, running
// or not. A broken archive is an error, as it is for Podman.
func (e *Engine) CopyToContainer(ctx context.Context, name, dir string, r io.Reader) error {
	if err := e.begin(ctx, "CopyToContainer", name); err != nil {
		return fmt.Errorf("copy into container %s at %s: %w", name, dir, err)
	}
	e.mu.Lock()
	_, ok := e.containers[name]
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("copy into container %s at %s: %w", name, dir, noSuchContainer(name))
	}
	files := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("copy into container %s at %s: %w", name, dir, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("copy into container %s at %s: %w", name, dir, err)
		}
		if h.Typeflag == tar.TypeDir {
			data = []byte("<dir>")
		}
		files[path.Join(dir, strings.TrimSuffix(h.Name, "/"))] = string(data)
	}
	e.mu.Lock()
	e.copies = append(e.copies, CopyRequest{Container: name, Dir: dir, Files: files})
	e.mu.Unlock()
	return nil
}

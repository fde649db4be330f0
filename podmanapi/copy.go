package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/copy"

	"github.com/podstack/podstack/ops"
)

// StatPath describes a path in a container, running or not, through
// Podman's archive API (HEAD); found is false when nothing is there.
func (c *Client) StatPath(ctx context.Context, name, path string) (ops.PathInfo, bool, error) {
	rep, err := containers.Stat(c.ctx(ctx), name, path)
	if errors.Is(err, copy.ErrENOENT) {
		return ops.PathInfo{}, false, nil
	}
	if err != nil {
		return ops.PathInfo{}, false, fmt.Errorf("stat %s in %s: %w", path, name, mapErr(err))
	}
	return ops.PathInfo{Name: rep.Name, IsDir: rep.IsDir, Mode: rep.Mode, Size: rep.Size, LinkTarget: rep.LinkTarget}, true, nil
}

// CopyFrom writes a tar archive of path in the container to w.
func (c *Client) CopyFrom(ctx context.Context, name, path string, w io.Writer) error {
	copyFn, err := containers.CopyToArchive(c.ctx(ctx), name, path, w)
	if err == nil {
		err = copyFn()
	}
	if err != nil {
		return fmt.Errorf("copy %s from %s: %w", path, name, mapErr(err))
	}
	return nil
}

// CopyTo unpacks the tar archive r into the container's directory dir;
// chown gives the files to the container's user (Podman's default), else
// they keep the archive's owners.
func (c *Client) CopyTo(ctx context.Context, name, dir string, r io.Reader, chown bool) error {
	copyFn, err := containers.CopyFromArchiveWithOptions(c.ctx(ctx), name, dir, r, new(containers.CopyOptions).WithChown(chown))
	if err == nil {
		err = copyFn()
	}
	if err != nil {
		return fmt.Errorf("copy to %s in %s: %w", dir, name, mapErr(err))
	}
	return nil
}

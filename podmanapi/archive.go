package podmanapi

import (
	"context"
	"fmt"
	"io"

	"github.com/containers/podman/v5/pkg/bindings/containers"
)

// CopyToContainer extracts the tar archive read from r into the container
// name under dir, which must exist there (Podman's archive endpoint, which
// `podman cp` uses too). As with `podman cp` and compose's watch, the
// files become the container's main user's. It works on a running or a
// stopped container.
func (c *Client) CopyToContainer(ctx context.Context, name, dir string, r io.Reader) error {
	copyFn, err := containers.CopyFromArchiveWithOptions(c.ctx(ctx), name, dir, r, nil)
	if err == nil {
		err = copyFn()
	}
	if err != nil {
		return fmt.Errorf("copy into container %s at %s: %w", name, dir, mapErr(err))
	}
	return nil
}

package podmanapi

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/containers/podman/v5/pkg/bindings/images"
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

package stack

import (
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// TestKeysTableDecides: what stack up and each export do not carry comes
// from ServiceKeys alone; a key the table does not list is carried nowhere.
func TestKeysTableDecides(t *testing.T) {
	keys := []string{"image", "init", "hostname", "blkio_config", "fake_key"}
	if got := strings.Join(unsupported(types.ServiceConfig{}, keys), ","); got != "blkio_config,fake_key" {
		t.Errorf("stack up does not carry %q, want blkio_config,fake_key", got)
	}
	svc := &Service{Keys: keys, Unsupported: []string{"blkio_config", "fake_key", "x-podman.uidmaps"}}
	kube := strings.Join(svc.NotCarried(KubeKeys), ",")
	if kube != "x-podman.uidmaps,init (Kubernetes runs no init process per container),blkio_config,fake_key" {
		t.Errorf("kube does not carry %q", kube)
	}
	quadlet := strings.Join(svc.NotCarried(QuadletKeys), ",")
	if !strings.Contains(quadlet, "hostname (a pod member cannot set it") || strings.Contains(quadlet, "init") {
		t.Errorf("quadlet does not carry %q", quadlet)
	}
}

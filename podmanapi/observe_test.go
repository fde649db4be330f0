package podmanapi

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/podstack/podstack/planner"
)

// TestObserveLeftovers: a container left only in storage is observed
// whenever it may hold a name the stack wants (Lookup.Containers names one
// the project's labelled containers do not hold, or Lookup.Containers is
// not given), and not looked for when every wanted name is held, which
// spares a no-op `up` the dear listing of every container in storage.
func TestObserveLeftovers(t *testing.T) {
	c := testClient(t)
	if _, err := exec.LookPath("buildah"); err != nil {
		t.Skip("buildah is not installed: no way to make a container only in storage")
	}
	ctx := context.Background()
	project := fmt.Sprintf("itleft%d", time.Now().UnixNano()%1000000)
	web, db := project+"-web-1", project+"-db-1"
	t.Cleanup(func() {
		exec.Command("podman", "--url", c.URL(), "rm", "-f", "-t", "0", web).Run()
		exec.Command("buildah", "rm", db).Run()
	})
	podman(t, c, "create", "--name", web, "--label", planner.LabelProject+"="+project, "localhost/busybox:test", "sleep", "600")
	if out, err := exec.Command("buildah", "from", "--name", db, "localhost/busybox:test").CombinedOutput(); err != nil {
		t.Skipf("buildah cannot make a container in this service's storage: %v: %s", err, out)
	}
	for _, tc := range []struct {
		wanted []string
		want   []string
	}{
		{nil, []string{db + ":storage", web + ":created"}},
		{[]string{web, db}, []string{db + ":storage", web + ":created"}},
		{[]string{web}, []string{web + ":created"}},
		{[]string{}, []string{web + ":created"}},
	} {
		o, err := c.Observe(ctx, project, &planner.Lookup{Containers: tc.wanted})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ct := range o.Containers {
			got = append(got, ct.Name+":"+ct.State)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("wanted %q: observed %v, want %v", tc.wanted, got, tc.want)
		}
	}
}

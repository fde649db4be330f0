package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podstack/podstack/stack"
)

// TestAttachFlags: which services an attached up shows, as docker
// compose's --attach, --no-attach and --attach-dependencies choose them.
func TestAttachFlags(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `services:
  db: {image: x}
  api: {image: x, depends_on: [db]}
  web: {image: x, depends_on: [api]}
  tools: {image: x}
`)
	s, err := stack.Load(context.Background(), stack.LoadOptions{WorkingDir: dir, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flags   attachFlags
		started []string
		want    string
	}{
		{attachFlags{}, nil, "<nil>"},
		{attachFlags{attach: []string{"api"}}, nil, "api"},
		{attachFlags{noAttach: []string{"db", "tools"}}, nil, "api,web"},
		{attachFlags{attachDeps: true}, []string{"web"}, "api,db,web"},
		{attachFlags{attachDeps: true, noAttach: []string{"db"}}, []string{"web"}, "api,web"},
		{attachFlags{noAttach: []string{"web"}}, []string{"web"}, ""},
	} {
		got, err := tc.flags.services(s, tc.started, false)
		if err != nil {
			t.Fatal(err)
		}
		str := strings.Join(got, ",")
		if got == nil {
			str = "<nil>"
		}
		if str != tc.want {
			t.Errorf("%+v started %v: %q, want %q", tc.flags, tc.started, str, tc.want)
		}
	}
	if _, err := (&attachFlags{attach: []string{"nope"}}).services(s, nil, false); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown service: %v", err)
	}
	if _, err := (&attachFlags{attach: []string{"api"}}).services(s, nil, true); err == nil || !isUsageError(err) {
		t.Errorf("--attach with -d: %v", err)
	}
}

func TestWaitTimeoutTakesSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{"90": 90 * time.Second, "2m": 2 * time.Minute, "0": 0} {
		var d seconds
		if err := d.Set(in); err != nil || time.Duration(d) != want {
			t.Errorf("%s: %v %v", in, time.Duration(d), err)
		}
	}
	var d seconds
	if err := d.Set("soon"); err == nil {
		t.Error("soon is a duration")
	}
}

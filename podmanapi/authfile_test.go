package podmanapi

import (
	"io/fs"
	"testing"
)

// TestAuthFileWhereTheDefaultIsUnreadable: a user without XDG_RUNTIME_DIR
// (as under cron or su) had every push and pull fail with "reading JSON
// file /run/containers/1001/auth.json: permission denied"; the search goes
// on to the user's own files instead.
func TestAuthFileWhereTheDefaultIsUnreadable(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	files := func(unreadable bool, exist ...string) func(string) error {
		return func(p string) error {
			if p == "/run/containers/1001/auth.json" && unreadable {
				return fs.ErrPermission
			}
			for _, e := range exist {
				if p == e {
					return nil
				}
			}
			return fs.ErrNotExist
		}
	}
	home := map[string]string{"HOME": "/home/u"}
	for _, c := range []struct {
		name string
		uid  int
		env  map[string]string
		stat func(string) error
		want string
	}{
		{"root", 0, home, files(true), ""},
		{"a session", 1001, map[string]string{"HOME": "/home/u", "XDG_RUNTIME_DIR": "/run/user/1001"}, files(true), ""},
		{"REGISTRY_AUTH_FILE", 1001, map[string]string{"HOME": "/home/u", "REGISTRY_AUTH_FILE": "/a.json"}, files(true), ""},
		{"readable default", 1001, home, files(false), ""},
		{"unreadable, no files", 1001, home, files(true), "/home/u/.config/containers/auth.json"},
		{"unreadable, docker's", 1001, home, files(true, "/home/u/.docker/config.json"), "/home/u/.docker/config.json"},
		{"unreadable, both", 1001, home, files(true, "/home/u/.config/containers/auth.json", "/home/u/.docker/config.json"), "/home/u/.config/containers/auth.json"},
		{"DOCKER_CONFIG", 1001, map[string]string{"HOME": "/home/u", "DOCKER_CONFIG": "/d"}, files(true, "/d/config.json"), "/d/config.json"},
	} {
		if got := authFile(c.uid, env(c.env), c.stat); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

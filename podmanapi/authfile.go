package podmanapi

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// authFile is the registry credentials file a pull or push reads, or ""
// for the bindings' own search. That search starts, for a user whose
// environment has no XDG_RUNTIME_DIR (cron, su, a service manager, a CI
// job), at /run/containers/UID/auth.json, which root's Podman keeps in a
// directory no one else may read: every pull and push then failed with
// "permission denied" instead of going on without credentials. Where that
// file cannot be read, the rest of the search is taken here (the user's
// containers auth.json, then docker's config.json); when none exists the
// first is named anyway, and its absence means no credentials, as for an
// anonymous pull.
func authFile(uid int, getenv func(string) string, stat func(string) error) string {
	if uid == 0 || getenv("REGISTRY_AUTH_FILE") != "" || getenv("XDG_RUNTIME_DIR") != "" {
		return ""
	}
	if err := stat(filepath.Join("/run/containers", strconv.Itoa(uid), "auth.json")); !errors.Is(err, fs.ErrPermission) {
		return ""
	}
	home := getenv("HOME")
	cfg := getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		cfg = filepath.Join(home, ".config")
	}
	candidates := []string{filepath.Join(cfg, "containers", "auth.json")}
	if d := getenv("DOCKER_CONFIG"); d != "" {
		candidates = append(candidates, filepath.Join(d, "config.json"))
	} else {
		candidates = append(candidates, filepath.Join(home, ".docker", "config.json"))
	}
	for _, c := range candidates {
		if stat(c) == nil {
			return c
		}
	}
	return candidates[0]
}

// registryAuthFile is authFile for this process.
func registryAuthFile() string {
	return authFile(os.Getuid(), os.Getenv, func(p string) error { _, err := os.Stat(p); return err })
}

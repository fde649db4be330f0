package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// Data returns the secret's content: its file's, or the value it was given
// inline or through an environment variable (resolved when the stack was
// loaded, from the same sources as interpolation).
func (s *Secret) Data() ([]byte, error) {
	return fileOrContent("secret", s.Key, s.File, s.Content)
}

// Data returns an inline or environment config's content, or its file's.
func (c *Config) Data() ([]byte, error) {
	return fileOrContent("config", c.Key, c.File, c.Content)
}

func fileOrContent(kind, key, file, content string) ([]byte, error) {
	if file == "" {
		return []byte(content), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, key, err)
	}
	return data, nil
}

// contentDigest is a short digest of secret or config content: labels and
// config hashes carry it, never the content.
func contentDigest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:12])
}

// resolveSecrets gives environment-backed secrets and configs their value
// from env (the interpolation environment: .env files and the process), and
// every non-external secret and config a Digest of its content, so the
// planner can tell a changed secret without reading files. A file that
// cannot be read keeps an empty Digest; validation reports it.
func (s *Stack) resolveSecrets(env map[string]string) {
	for _, sec := range s.Secrets {
		if sec.External {
			continue
		}
		if sec.Environment != "" && sec.File == "" {
			sec.Content = env[sec.Environment]
		}
		if data, err := sec.Data(); err == nil {
			sec.Digest = contentDigest(data)
		}
	}
	for _, cfg := range s.Configs {
		if cfg.External {
			continue
		}
		if cfg.Environment != "" && cfg.File == "" {
			cfg.Content = env[cfg.Environment]
		}
		if data, err := cfg.Data(); err == nil {
			cfg.Digest = contentDigest(data)
		}
	}
}

package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the stack files opts names (or discovers them), detects their
// format from content, resolves the environment and returns the normalized
// stack, or every problem found.
func Load(ctx context.Context, opts LoadOptions) (*Stack, error) {
	if opts.Environ == nil {
		opts.Environ = os.Environ
	}
	files, wd, err := readStackFiles(opts)
	if err != nil {
		return nil, err
	}
	opts.WorkingDir = wd

	env, envFiles, err := resolveEnvironment(wd, opts)
	if err != nil {
		return nil, err
	}

	format, err := detectFormat(files)
	if err != nil {
		return nil, err
	}
	var s *Stack
	switch format {
	case FormatKube:
		s, err = loadKube(ctx, files, env, opts)
	default:
		var ph *Placeholders
		if opts.KeepVars {
			// compose-go parses typed fields while loading: interpolate
			// with placeholders instead of skipping interpolation.
			ph = newPlaceholders(files)
			env = ph.env()
			opts.KeepVars = false
		}
		s, err = loadCompose(ctx, files, env, opts)
		if s != nil {
			s.Placeholders = ph
		}
	}
	if err != nil {
		return nil, err
	}
	s.resolveSecrets(env)
	s.Environment = opts.Environment
	s.EnvFiles = envFiles
	if s.WorkingDir == "" {
		s.WorkingDir = wd
	}
	s.Files = nil
	for _, f := range files {
		s.Files = append(s.Files, f.Name)
	}
	return s, nil
}

// readStackFiles reads the named files (discovering one when none is named),
// then adds each base file's environment override, and returns them in merge
// order with the working directory.
func readStackFiles(opts LoadOptions) ([]sourceFile, string, error) {
	wd := opts.WorkingDir
	if wd == "" {
		if len(opts.Files) > 0 && opts.Files[0] != "-" {
			wd = filepath.Dir(opts.Files[0])
		} else {
			var err error
			if wd, err = os.Getwd(); err != nil {
				return nil, "", err
			}
		}
	}
	abs, err := filepath.Abs(wd)
	if err != nil {
		return nil, "", err
	}
	wd = abs

	names := opts.Files
	if len(names) == 0 {
		found, err := discover(wd)
		if err != nil {
			return nil, "", err
		}
		names = found
	}

	var files []sourceFile
	var problems Problems
	for _, name := range names {
		if name == "-" {
			if opts.Stdin == nil {
				problems = append(problems, Problem{Position: Position{File: "stdin"}, Message: "no standard input to read the stack from"})
				continue
			}
			data, err := io.ReadAll(opts.Stdin)
			if err != nil {
				return nil, "", fmt.Errorf("read stdin: %w", err)
			}
			files = append(files, newSourceFile("stdin", data))
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			msg := "cannot read the stack file"
			fix := ""
			if errors.Is(err, os.ErrNotExist) {
				msg = "no such file"
				fix = "check the -f path (relative paths start at the current directory)"
			}
			problems = append(problems, Problem{Position: Position{File: name}, Message: msg, Fix: fix})
			continue
		}
		files = append(files, newSourceFile(name, data))
		if opts.Environment != "" {
			if o := overrideFile(name, opts.Environment); o != "" {
				data, err := os.ReadFile(o)
				if err != nil {
					return nil, "", fmt.Errorf("read environment override: %w", err)
				}
				files = append(files, newSourceFile(o, data))
			}
		}
	}
	if err := problems.Err(); err != nil {
		return nil, "", err
	}
	return files, wd, nil
}

// discover finds the default stack file in dir, plus compose's override file
// when the one found is a compose.* or docker-compose.* file.
func discover(dir string) ([]string, error) {
	for _, n := range DefaultFileNames {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		files := []string{p}
		base := strings.TrimSuffix(n, filepath.Ext(n))
		if base != "stack" {
			for _, ext := range []string{".yaml", ".yml"} {
				o := filepath.Join(dir, base+".override"+ext)
				if _, err := os.Stat(o); err == nil {
					files = append(files, o)
					break
				}
			}
		}
		return files, nil
	}
	return nil, fmt.Errorf("%w in %s: looked for %s (use -f FILE)", ErrNoStackFile, dir, strings.Join(DefaultFileNames, ", "))
}

// overrideFile returns <base>.<env>.yaml (or .yml) beside name when it exists.
func overrideFile(name, env string) string {
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for _, e := range []string{ext, ".yaml", ".yml"} {
		if e == "" {
			continue
		}
		p := base + "." + env + e
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// detectFormat tells compose from Kubernetes input by content: a document
// with top-level apiVersion and kind is Kubernetes.
func detectFormat(files []sourceFile) (Format, error) {
	var kube, compose []string
	for _, f := range files {
		if isKube(f) {
			kube = append(kube, f.Name)
		} else {
			compose = append(compose, f.Name)
		}
	}
	if len(kube) > 0 && len(compose) > 0 {
		return "", Problems{{
			Position: Position{File: kube[0]},
			Message:  fmt.Sprintf("is Kubernetes YAML but %s is a Compose file; the two formats cannot be merged", compose[0]),
			Fix:      "load them separately, or convert one with 'stack convert'",
		}}
	}
	if len(kube) > 0 {
		return FormatKube, nil
	}
	return FormatCompose, nil
}

func isKube(f sourceFile) bool {
	for _, doc := range f.docs {
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		keys := map[string]bool{}
		top := doc.Content[0].Content
		for i := 0; i+1 < len(top); i += 2 {
			keys[top[i].Value] = true
		}
		if keys["apiVersion"] && keys["kind"] {
			return true
		}
		if keys["services"] {
			return false
		}
	}
	return false
}

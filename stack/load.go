package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"go.yaml.in/yaml/v3"
)

// Load reads the stack files opts names (or discovers them), detects their
// format from content, resolves the environment and returns the normalized
// stack, or every problem found.
func Load(ctx context.Context, opts LoadOptions) (*Stack, error) {
	if opts.Environ == nil {
		opts.Environ = os.Environ
	}
	// Every stage checks ctx, and what may block or take long (reading a
	// pipe, compose-go) is awaited against it: Ctrl-C ends a load at once.
	files, wd, err := readStackFiles(ctx, opts)
	if err != nil {
		return nil, err
	}
	opts.WorkingDir = wd

	env, envFiles, err := resolveEnvironment(ctx, wd, opts)
	if err != nil {
		return nil, err
	}

	format, err := detectFormat(files)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Messages are built from substituted values: put each credential's
	// ${NAME} back in place of its value before any is returned.
	scrub := newScrubber(env, nil)
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
		return nil, scrub.err(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.resolveSecrets(env)
	s.resolveBuildSecrets()
	s.scrub = newScrubber(env, s.Options.SecretEnv)
	for i, w := range s.Warnings {
		s.Warnings[i].Message = s.Scrub(w.Message)
	}
	for i, p := range s.RunProblems {
		s.RunProblems[i].Message, s.RunProblems[i].Fix = s.Scrub(p.Message), s.Scrub(p.Fix)
	}
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
func readStackFiles(ctx context.Context, opts LoadOptions) ([]sourceFile, string, error) {
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
		found, err := Discover(wd)
		if err != nil {
			return nil, "", err
		}
		names = found
		if opts.WorkingDir == "" {
			// Found in a parent: the project lives there, as in compose.
			wd = filepath.Dir(found[0])
		}
	}
	overrides := 0

	var files []sourceFile
	var problems Problems
	add := func(name string, data []byte) {
		f := newSourceFile(name, data)
		if p := expansionProblem(f, MaxYAMLNodes); p != nil {
			problems = append(problems, *p)
			return
		}
		files = append(files, f)
	}
	for _, name := range names {
		if name == "-" {
			if opts.Stdin == nil {
				problems = append(problems, Problem{Position: Position{File: "stdin"}, Message: "no standard input to read the stack from"})
				continue
			}
			data, err := await(ctx, func() ([]byte, error) { return readLimited(opts.Stdin) })
			if isCancel(err) {
				return nil, "", err
			}
			if err != nil {
				problems = append(problems, readProblem("stdin", err))
				continue
			}
			add("stdin", data)
			continue
		}
		data, err := await(ctx, func() ([]byte, error) { return readFileLimited(name) })
		if isCancel(err) {
			return nil, "", err
		}
		if err != nil {
			problems = append(problems, readProblem(name, err))
			continue
		}
		add(name, data)
		if opts.Environment != "" {
			if o := overrideFile(name, opts.Environment); o != "" {
				data, err := await(ctx, func() ([]byte, error) { return readFileLimited(o) })
				if isCancel(err) {
					return nil, "", err
				}
				if err != nil {
					problems = append(problems, readProblem(o, err))
					continue
				}
				add(o, data)
				overrides++
			}
		}
	}
	if err := problems.Err(); err != nil {
		return nil, "", err
	}
	if opts.Environment != "" && overrides == 0 && !isFile(envFileOf(wd, opts.Environment)) {
		return nil, "", unknownEnvironment(opts.Environment, names, wd)
	}
	return files, wd, nil
}

// unknownEnvironment is the error for --env NAME when none of the files
// Load reads for NAME exists: most likely a typo, which would otherwise run
// the base stack labelled as NAME.
func unknownEnvironment(env string, names []string, wd string) error {
	var looked []string
	for _, n := range names {
		if n != "-" {
			ext := filepath.Ext(n)
			if ext == "" {
				ext = ".yaml"
			}
			looked = append(looked, filepath.Base(strings.TrimSuffix(n, filepath.Ext(n))+"."+env+ext))
		}
	}
	looked = append(looked, filepath.Base(envFileOf(wd, env)))
	p := Problem{Message: fmt.Sprintf("no environment %q: found none of %s", env, strings.Join(looked, ", "))}
	if known := environmentsOf(names, wd); len(known) > 0 {
		p.Fix = "the environments here are " + strings.Join(known, ", ")
	} else {
		p.Fix = fmt.Sprintf("this stack has no environments: leave out --env, or create %s", strings.Join(looked, " or "))
	}
	return Problems{p}
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// await runs fn, which may block (reading a pipe or a FIFO with no writer,
// a long compose-go load), and returns ctx's error as soon as ctx is done.
// fn then finishes on its own and its result is dropped; the limits on
// input size bound what it can still cost.
func await[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// errTooLarge is returned by the limited readers for input over MaxFileBytes.
var errTooLarge = fmt.Errorf("larger than %d MiB", MaxFileBytes>>20)

// readLimited reads r up to MaxFileBytes.
func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, errTooLarge
	}
	return data, nil
}

// readFileLimited reads a stack file up to MaxFileBytes; a directory or
// anything but a regular file (a FIFO would block) is refused.
func readFileLimited(name string) ([]byte, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errIsDir
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f)
}

var errIsDir = errors.New("is a directory")

// readProblem says why a stack file could not be read, keeping the reason.
func readProblem(name string, err error) Problem {
	p := Problem{Position: Position{File: name}}
	var pe *os.PathError
	reason := err
	if errors.As(err, &pe) {
		reason = pe.Err
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		p.Message = "no such file"
		p.Fix = "check the -f path (relative paths start at the current directory)"
	case errors.Is(err, errIsDir):
		p.Message = "cannot read the stack file: it is a directory"
		p.Fix = "name the stack file in it (-f DIR/compose.yaml), or run stack in that directory"
	case errors.Is(err, os.ErrPermission):
		p.Message = fmt.Sprintf("cannot read the stack file: %v", reason)
		p.Fix = "check the file's permissions"
	case errors.Is(err, errTooLarge):
		p.Message = fmt.Sprintf("the stack file is %v, more than podstack reads", err)
		p.Fix = "split the stack into several files"
	default:
		p.Message = fmt.Sprintf("cannot read the stack file: %v", reason)
	}
	return p
}

// Discover finds the default stack file in dir or, as docker compose does,
// in the nearest parent directory that has one, plus compose's override
// file beside it when the one found is a compose.* or docker-compose.*
// file. None is ErrNoStackFile.
func Discover(dir string) ([]string, error) {
	for d := dir; ; {
		if files := discoverIn(d); files != nil {
			return files, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return nil, fmt.Errorf("%w in %s or its parent directories: looked for %s (use -f FILE)", ErrNoStackFile, dir, strings.Join(DefaultFileNames, ", "))
}

func discoverIn(dir string) []string {
	for _, n := range DefaultFileNames {
		p := filepath.Join(dir, n)
		if !isFile(p) {
			continue
		}
		files := []string{p}
		base := strings.TrimSuffix(n, filepath.Ext(n))
		if base != "stack" {
			for _, ext := range []string{".yaml", ".yml"} {
				o := filepath.Join(dir, base+".override"+ext)
				if isFile(o) {
					files = append(files, o)
					break
				}
			}
		}
		return files
	}
	return nil
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
	kindLine := 0
	for _, f := range files {
		if isKube(f) {
			kube = append(kube, f.Name)
			if kindLine == 0 {
				for _, d := range f.docs {
					if l := indexNode(d).exact("kind"); l > 0 {
						kindLine = l
						break
					}
				}
			}
		} else {
			compose = append(compose, f.Name)
		}
	}
	if len(kube) > 0 && len(compose) > 0 {
		return "", Problems{{
			Position: Position{File: kube[0], Line: kindLine},
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

// projectName is the project's name by docker compose's rule, for every
// format: -p (opts.ProjectName), then COMPOSE_PROJECT_NAME, then the name
// the files give themselves (fromFiles: compose's name: key, or the project
// annotation `stack convert` writes; "" for none), then the working
// directory's base name, normalized. explicit is false for that last one:
// compose-go may still find a name in files it reads itself.
func projectName(opts LoadOptions, env map[string]string, fromFiles func() string) (name string, explicit bool) {
	switch {
	case opts.ProjectName != "":
		return opts.ProjectName, true
	case env["COMPOSE_PROJECT_NAME"] != "":
		return env["COMPOSE_PROJECT_NAME"], true
	}
	if name := fromFiles(); name != "" {
		return name, true
	}
	return loader.NormalizeProjectName(filepath.Base(opts.WorkingDir)), false
}

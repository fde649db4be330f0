package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

// resolveEnvironment builds the interpolation environment. Sources, lowest
// precedence first: .env in the working directory, .env.<environment>, each
// --env-file in order, then the process environment, which wins over all.
// It returns the mapping and the env files that were read.
func resolveEnvironment(ctx context.Context, wd string, opts LoadOptions) (map[string]string, []string, error) {
	type source struct {
		path     string
		required bool
	}
	sources := []source{{path: filepath.Join(wd, ".env")}}
	if opts.Environment != "" {
		sources = append(sources, source{path: envFileOf(wd, opts.Environment)})
	}
	for _, f := range opts.EnvFiles {
		sources = append(sources, source{path: f, required: true})
	}

	env := map[string]string{}
	var used []string
	var problems Problems
	for _, src := range sources {
		st, err := os.Stat(src.path)
		if err != nil || st.IsDir() {
			switch {
			case !src.required:
			case err == nil:
				problems = append(problems, Problem{Position: Position{File: src.path}, Message: "cannot read env file: it is a directory",
					Fix: "name a file with NAME=VALUE lines"})
			case errors.Is(err, os.ErrNotExist):
				problems = append(problems, Problem{Position: Position{File: src.path}, Message: "env file not found",
					Fix: "check the --env-file path (relative paths start at the current directory)"})
			default:
				problems = append(problems, envFileProblem(src.path, err))
			}
			continue
		}
		// Values in a later file may refer to earlier ones and to the process
		// environment, as docker compose allows.
		lookup := map[string]string{}
		for k, v := range env {
			lookup[k] = v
		}
		for k, v := range processEnv(opts) {
			lookup[k] = v
		}
		data, err := await(ctx, func() ([]byte, error) { return readFileLimited(src.path) })
		if isCancel(err) {
			return nil, nil, err
		}
		if err != nil {
			problems = append(problems, envFileProblem(src.path, err))
			continue
		}
		vals, err := dotenv.UnmarshalBytesWithLookup(data, func(k string) (string, bool) {
			v, ok := lookup[k]
			return v, ok
		})
		if err != nil {
			problems = append(problems, envFileProblem(src.path, err))
			continue
		}
		for k, v := range vals {
			env[k] = v
		}
		used = append(used, src.path)
	}
	if err := problems.Err(); err != nil {
		return nil, nil, err
	}
	for k, v := range processEnv(opts) {
		env[k] = v
	}
	return env, used, nil
}

func processEnv(opts LoadOptions) map[string]string {
	out := map[string]string{}
	for _, kv := range opts.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k != "" {
			out[k] = v
		}
	}
	return out
}

var (
	envLineRe    = lazyRegexp(`^line (\d+): (.*)$`)
	envBadNameRe = lazyRegexp(`^unexpected character ("[^"]*") in variable name "(.*)"$`)
)

// envFileProblem positions an env file error at its line. The parser
// quotes the offending line, which may hold a secret's value: only the part
// before the value is kept.
func envFileProblem(path string, err error) Problem {
	p := Problem{Position: Position{File: path}}
	var pe *os.PathError
	switch {
	case errors.Is(err, errTooLarge):
		p.Message = fmt.Sprintf("cannot read env file: %v", err)
		return p
	case errors.As(err, &pe):
		p.Message = fmt.Sprintf("cannot read env file: %v", pe.Err)
		return p
	case errors.Is(err, errIsDir):
		p.Message = "cannot read env file: it is a directory"
		return p
	}
	msg := err.Error()
	if m := envLineRe().FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	switch {
	case strings.HasPrefix(msg, "unterminated quoted value"):
		msg = "unterminated quoted value"
		p.Fix = "close the quote"
	case envBadNameRe().MatchString(msg):
		m := envBadNameRe().FindStringSubmatch(msg)
		name, _, _ := strings.Cut(m[2], strings.Trim(m[1], `"`))
		msg = fmt.Sprintf("unexpected character %s in variable name %q", m[1], name)
		p.Fix = "write NAME=VALUE, one per line"
	}
	p.Message = "invalid env file: " + msg
	return p
}

// envFileOf is the env file Load reads for environment env, in the working
// directory wd (.env.<env>).
func envFileOf(wd, env string) string {
	return filepath.Join(wd, ".env."+env)
}

// Environments lists the environments a stack has: each NAME of a
// <base>.NAME.yaml (or .yml) override beside a base file and of a .env.NAME
// file in the working directory: the files Load reads for --env NAME, found
// by the same naming rule.
func Environments(ctx context.Context, opts LoadOptions) ([]string, error) {
	opts.Environment = ""
	if opts.Environ == nil {
		opts.Environ = os.Environ
	}
	files, wd, err := readStackFiles(ctx, opts)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	return environmentsOf(names, wd), nil
}

// environmentsOf lists the environments of the stack files names read in
// the working directory wd (see Environments).
func environmentsOf(names []string, wd string) []string {
	seen := map[string]bool{}
	for _, name := range names {
		if name == "stdin" || name == "-" {
			continue
		}
		ext := filepath.Ext(name)
		base := strings.TrimSuffix(name, ext)
		for _, e := range []string{".yaml", ".yml"} {
			matches, _ := filepath.Glob(base + ".*" + e)
			for _, m := range matches {
				env := strings.TrimSuffix(strings.TrimPrefix(m, base+"."), e)
				// Only names Load would find again for --env env.
				if env != "" && env != "override" && !strings.Contains(env, ".") && overrideFile(name, env) == m {
					seen[env] = true
				}
			}
		}
	}
	envFiles, _ := filepath.Glob(envFileOf(wd, "*"))
	for _, e := range envFiles {
		if env := strings.TrimPrefix(filepath.Base(e), ".env."); env != "" && envFileOf(wd, env) == e {
			seen[env] = true
		}
	}
	out := make([]string, 0, len(seen))
	for e := range seen {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

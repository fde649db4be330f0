package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

// resolveEnvironment builds the interpolation environment. Sources, lowest
// precedence first: .env in the working directory, .env.<environment>, each
// --env-file in order, then the process environment, which wins over all.
// It returns the mapping and the env files that were read.
func resolveEnvironment(wd string, opts LoadOptions) (map[string]string, []string, error) {
	type source struct {
		path     string
		required bool
	}
	sources := []source{{path: filepath.Join(wd, ".env")}}
	if opts.Environment != "" {
		sources = append(sources, source{path: filepath.Join(wd, ".env."+opts.Environment)})
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
			if src.required {
				problems = append(problems, Problem{Position: Position{File: src.path}, Message: "env file not found",
					Fix: "check the --env-file path (relative paths start at the current directory)"})
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
		vals, err := dotenv.GetEnvFromFile(lookup, []string{src.path})
		if err != nil {
			problems = append(problems, Problem{Position: Position{File: src.path}, Message: envFileMessage(err)})
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

func envFileMessage(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("cannot read env file: %v", pe.Err)
	}
	return fmt.Sprintf("invalid env file: %v", err)
}

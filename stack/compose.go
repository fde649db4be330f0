package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// loadCompose loads compose files through compose-go and converts the
// project into the model. Every problem found is returned together.
func loadCompose(ctx context.Context, files []sourceFile, env map[string]string, opts LoadOptions) (*Stack, error) {
	idx := map[string]positions{}
	var cfs []types.ConfigFile
	var problems Problems
	for _, f := range files {
		if len(bytes.TrimSpace(f.Content)) == 0 {
			problems = append(problems, Problem{Position: Position{File: f.Name}, Message: "the stack file is empty",
				Fix: "add a services: section"})
			continue
		}
		idx[f.Name] = composePositions(f)
		cf := types.ConfigFile{Filename: f.Name, Content: f.Content}
		if composeFastPaths {
			cf.Config = preParsed(f)
		}
		cfs = append(cfs, cf)
	}
	problems = append(problems, preComposeProblems(files)...)
	if err := problems.Err(); err != nil {
		return nil, err
	}

	known := true
	name, explicit := projectName(opts, env, func() string {
		if !composeFastPaths {
			known = false
			return "" // compose-go reads the name: key itself
		}
		name, k := nameFromFiles(files)
		known = k
		return name
	})
	if opts.OnProjectName != nil && known && name != "" {
		opts.OnProjectName(name)
	}
	profiles := opts.Profiles
	if profiles == nil && env["COMPOSE_PROFILES"] != "" {
		profiles = splitComma(env["COMPOSE_PROFILES"])
	}

	cache := validatedKey(opts.ValidatedCache, files, env, opts, name, explicit, profiles)
	skipValidation := cache.hit()
	warnings := &logCapture{}
	// compose-go does not check its context while loading: await it.
	project, err := await(ctx, func() (p *types.Project, err error) {
		restore := captureLogs(warnings)
		defer restore()
		defer func() {
			// compose-go asserts types in places instead of checking them:
			// a panic there is this file's problem, not a crash.
			if r := recover(); r != nil {
				p, err = nil, Problems{{Position: Position{File: files[0].Name},
					Message: fmt.Sprintf("compose-go, which reads compose files, failed on this stack: %v", r),
					Fix:     "check the types of the values changed last; please report this input"}}
			}
		}()
		p, err = composeLoad(ctx, types.ConfigDetails{
			WorkingDir:  opts.WorkingDir,
			ConfigFiles: cfs,
			Environment: types.Mapping(env),
		}, composeOptions(name, explicit, profiles, opts.KeepVars, skipValidation))
		if err == nil && !skipValidation {
			cache.record()
		}
		if err != nil || len(opts.Services) == 0 {
			return p, err
		}
		// Unknown names are left for the command to report.
		return p.WithServicesEnabled(opts.Services...)
	})
	if isCancel(err) {
		return nil, err
	}
	var panicked Problems
	if errors.As(err, &panicked) {
		return nil, err
	}
	if err != nil {
		unset := unsetVariables(warnings.messages())
		err := composeProblems(err, files, idx, env, opts, unset)
		var ps Problems
		if errors.As(err, &ps) {
			return nil, explainUnset(ps, files, unset).Err()
		}
		return nil, err
	}

	c := converter{project: project, idx: idx, files: files}
	s := c.convert()
	s.warnUnsupported(func(svc *Service, key string) Position {
		return c.where("services." + svc.Name + "." + strings.Fields(key)[0])
	})
	for _, w := range warnings.messages() {
		pos := Position{File: files[0].Name}
		for _, f := range files {
			if rest, ok := strings.CutPrefix(w, f.Name+": "); ok {
				pos.File, w = f.Name, rest
			}
		}
		s.Warnings = append(s.Warnings, Warning{Position: pos, Message: w})
	}
	c.problems = append(c.problems, c.consistency(s)...)
	c.problems = append(c.problems, c.buildContextProblems(s)...)
	c.problems = append(c.problems, c.implicitReferences(s)...)
	c.runProblems(s)
	for _, f := range files {
		for svc, dups := range mountTargets(f) {
			for _, d := range dups {
				c.problems = append(c.problems, Problem{Position: Position{File: f.Name, Line: d.Line}, Service: svc,
					Message: fmt.Sprintf("two mounts target %s", d.File), Fix: "give each mount its own container path"})
			}
		}
	}
	if err := c.problems.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// composeLoad is compose-go's loader; tests look at the options it gets.
var composeLoad = loader.LoadWithContext

// composeFastPaths hands compose-go the documents podstack has parsed, and
// the project name they give, instead of letting it parse every file twice
// more (once for the model, once for the name); tests turn it off to check
// that the result is the same.
var composeFastPaths = true

// preParsed is f's document as compose-go would read it, or nil where
// compose-go must parse the file itself: what does not parse, several
// documents, and the !reset and !override tags its own parser handles.
func preParsed(f sourceFile) map[string]any {
	if f.parseErr != nil || len(f.docs) != 1 ||
		bytes.Contains(f.Content, []byte("!reset")) || bytes.Contains(f.Content, []byte("!override")) {
		return nil
	}
	var v any
	if f.docs[0].Decode(&v) != nil {
		return nil
	}
	m, _ := v.(map[string]any)
	return m
}

// nameFromFiles is the project name compose-go takes from the files' name
// keys (the last one set wins, normalized), when every file parsed and the
// name needs no interpolation; known says whether the files were read that
// far: "" and known is no name in the files, "" and not known is one only
// compose-go can work out.
func nameFromFiles(files []sourceFile) (name string, known bool) {
	for _, f := range files {
		if f.parseErr != nil {
			return "", false
		}
		for _, doc := range f.docs {
			if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
				continue
			}
			top := doc.Content[0].Content
			for i := 0; i+1 < len(top); i += 2 {
				if top[i].Value != "name" {
					continue
				}
				v := top[i+1]
				if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || strings.Contains(v.Value, "$") {
					return "", false
				}
				if v.Value != "" {
					name = v.Value
				}
			}
		}
	}
	return loader.NormalizeProjectName(name), true
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// composeOptions configures compose-go's loader. Its consistency check is
// skipped because podstack checks the same things itself and reports all of
// them at once, with positions; its validation where it has validated the
// same inputs before (validated).
func composeOptions(name string, explicit bool, profiles []string, keepVars, skipValidation bool) func(*loader.Options) {
	return func(o *loader.Options) {
		o.SetProjectName(name, explicit)
		o.Profiles = profiles
		o.SkipConsistencyCheck = true
		o.SkipValidation = skipValidation
		o.SkipInterpolation = keepVars
		o.ResolvePaths = true
	}
}

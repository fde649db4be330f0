package stack

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var (
	schemaOnce     sync.Once
	compiledSchema *jsonschema.Schema
	schemaErr      error
)

// composeSchema compiles compose-go's embedded compose-spec schema, the same
// one its loader validates with.
func composeSchema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema.Schema))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		// compose-go registers these formats; accept them as they do.
		for _, f := range []string{"duration", "ports", "expose"} {
			c.RegisterFormat(&jsonschema.Format{Name: f, Validate: func(any) error { return nil }})
		}
		if err := c.AddResource("compose-spec.json", doc); err != nil {
			schemaErr = err
			return
		}
		compiledSchema, schemaErr = c.Compile("compose-spec.json")
	})
	return compiledSchema, schemaErr
}

// schemaProblems validates each file on its own against the compose schema
// and returns every violation, positioned. compose-go stops at the most
// specific single error; users fix files faster seeing all of them.
func schemaProblems(files []sourceFile, idx map[string]positions, env map[string]string, opts LoadOptions) Problems {
	sch, err := composeSchema()
	if err != nil {
		return nil
	}
	var out Problems
	for _, f := range files {
		var dict map[string]any
		if len(f.docs) == 0 || f.docs[0].Decode(&dict) != nil || dict == nil {
			continue
		}
		if !opts.KeepVars {
			if dict, err = interpolation.Interpolate(dict, interpolation.Options{LookupValue: func(k string) (string, bool) {
				v, ok := env[k]
				return v, ok
			}}); err != nil {
				continue
			}
		}
		raw, err := roundTripJSON(dict)
		if err != nil {
			continue
		}
		verr, ok := sch.Validate(raw).(*jsonschema.ValidationError)
		if !ok {
			continue
		}
		leaves := leafErrors(verr)
		// A FalseSchema leaf says "this key is not allowed"; compose's schema
		// also reports one for every key of an object that has another error,
		// so keep those only where they are the sole finding of their service.
		real := map[string]bool{}
		for _, l := range leaves {
			if _, ok := l.ErrorKind.(*kind.FalseSchema); !ok {
				real[topOf(l.InstanceLocation)] = true
			}
		}
		seen := map[string]bool{}
		for _, leaf := range leaves {
			if _, ok := leaf.ErrorKind.(*kind.FalseSchema); ok && real[topOf(leaf.InstanceLocation)] {
				continue
			}
			loc := leaf.InstanceLocation
			if _, ok := leaf.ErrorKind.(*kind.FalseSchema); ok && len(loc) > 0 {
				loc = loc[:len(loc)-1]
			}
			path := strings.Join(loc, ".")
			rest := describeKind(leaf)
			key := path + " " + rest
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, schemaProblem(f.Name, idx[f.Name], path, rest))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// leafErrors flattens a validation error into its distinct causes; where
// the schema offered alternatives (oneOf/anyOf) only the most specific
// failure of that place is kept, as compose-go does.
func leafErrors(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	switch e.ErrorKind.(type) {
	case *kind.OneOf, *kind.AnyOf:
		return []*jsonschema.ValidationError{mostSpecific(e)}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leafErrors(c)...)
	}
	return out
}

func mostSpecific(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return e
	}
	var best *jsonschema.ValidationError
	for _, c := range e.Causes {
		c = mostSpecific(c)
		if best == nil || specificity(c) > specificity(best) {
			best = c
		}
	}
	return best
}

func specificity(e *jsonschema.ValidationError) int {
	if _, ok := e.ErrorKind.(*kind.AdditionalProperties); ok {
		return len(e.InstanceLocation) + 1
	}
	return len(e.InstanceLocation)
}

// topOf is the first two elements of a path: the service (or volume, ...)
// an error belongs to.
func topOf(loc []string) string {
	if len(loc) > 2 {
		loc = loc[:2]
	}
	return strings.Join(loc, ".")
}

func describeKind(e *jsonschema.ValidationError) string {
	switch k := e.ErrorKind.(type) {
	case *kind.FalseSchema:
		if n := len(e.InstanceLocation); n > 0 {
			return fmt.Sprintf("additional properties '%s' not allowed", e.InstanceLocation[n-1])
		}
	case *kind.Type:
		names := map[string]string{"object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
			"integer": "a whole number", "boolean": "true or false", "null": "empty"}
		var want []string
		for _, w := range k.Want {
			if n, ok := names[w]; ok {
				w = n
			}
			want = append(want, w)
		}
		return "must be " + strings.Join(want, " or ")
	case *kind.Minimum:
		return fmt.Sprintf("must be greater than or equal to %v", k.Want)
	case *kind.Maximum:
		return fmt.Sprintf("must be less than or equal to %v", k.Want)
	}
	return e.ErrorKind.LocalizedString(message.NewPrinter(language.English))
}

func roundTripJSON(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(data, &out)
	return out, err
}

package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Kubernetes documents are interpolated as YAML values, before they are
// typed: `hostPort: ${WEB_PORT:-18120}` is the string "18120" afterwards,
// which the int32 field refuses. coerce types those strings by the field
// they land in, as compose-go does for compose's typed fields.

var (
	intOrStringType = reflect.TypeOf(intstr.IntOrString{})
	unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

// coerce returns v with every string that interpolation produced (its raw
// form, the same place in raw, held a $) and that lands in a number or
// boolean field of t turned into a number or boolean. A literal "8080" in a
// number field is left alone, to be refused as Kubernetes refuses it.
func coerce(t reflect.Type, raw, v any) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := v.(string); ok {
		if r, ok := raw.(string); !ok || !strings.Contains(r, "$") {
			return v
		}
		return typedScalar(t, s)
	}
	if t == intOrStringType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return v
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		rm, _ := raw.(map[string]any)
		fields := jsonFields(t)
		for k, val := range m {
			if ft, ok := fields[k]; ok {
				m[k] = coerce(ft, rm[k], val)
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		rm, _ := raw.(map[string]any)
		for k, val := range m {
			m[k] = coerce(t.Elem(), rm[k], val)
		}
	case reflect.Slice, reflect.Array:
		l, ok := v.([]any)
		if !ok || t.Elem().Kind() == reflect.Uint8 {
			return v
		}
		rl, _ := raw.([]any)
		for i, val := range l {
			var r any
			if i < len(rl) {
				r = rl[i]
			}
			l[i] = coerce(t.Elem(), r, val)
		}
	}
	return v
}

// typedScalar converts s for a field of type t where s parses as one.
func typedScalar(t reflect.Type, s string) any {
	s2 := strings.TrimSpace(s)
	switch {
	case t == intOrStringType:
		if n, err := strconv.ParseInt(s2, 10, 32); err == nil {
			return n
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		if n, err := strconv.ParseInt(s2, 10, 64); err == nil {
			return n
		}
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		if n, err := strconv.ParseUint(s2, 10, 64); err == nil {
			return n
		}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		if f, err := strconv.ParseFloat(s2, 64); err == nil {
			return f
		}
	case t.Kind() == reflect.Bool:
		if b, err := strconv.ParseBool(s2); err == nil {
			return b
		}
	}
	return s
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields maps the JSON names of t's fields (inline and embedded
// structs flattened) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ((f.Anonymous && name == "") || strings.Contains(opts, "inline")) {
			for k, v := range jsonFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	fieldCache.Store(t, out)
	return out
}

// typeProblem positions a JSON type error of a document (a string where a
// number belongs) at its field, quoting the source text rather than the
// value, which may be a secret a variable brought in.
func (l *kubeLoader) typeProblem(d *kubeDoc, err error) (Problem, bool) {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" {
		return Problem{}, false
	}
	// The field path names embedded structs by their Go type
	// (readinessProbe.ProbeHandler.exec): JSON keys are lower case.
	var keys []string
	for _, part := range strings.Split(te.Field, ".") {
		if part != "" && !unicode.IsUpper(rune(part[0])) {
			keys = append(keys, part)
		}
	}
	path, ok := findTyped(d.value, "", strings.Join(keys, "."), te.Value)
	if !ok {
		return Problem{}, false
	}
	p := Problem{Position: l.at(d, path), Service: d.name}
	want := "a " + te.Type.String()
	switch te.Type.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "a whole number"
	case reflect.Float32, reflect.Float64:
		want = "a number"
	case reflect.Bool:
		want = "true or false"
	case reflect.String:
		want = "a string"
	case reflect.Slice:
		want = "a list"
	case reflect.Map, reflect.Struct:
		want = "a mapping"
	}
	p.Message = fmt.Sprintf("%s: must be %s, got %s", path, want, te.Value)
	if raw, ok := valueAt(d.raw, path).(string); ok {
		p.Message += fmt.Sprintf(" %q", raw)
		if v, ok := valueAt(d.value, path).(string); ok && v != raw && !mentionsCredential(raw) {
			p.Message += fmt.Sprintf(" (%q after substitution)", v)
		}
	}
	if want == "a whole number" && te.Value == "string" {
		p.Fix = "write a number; a ${VAR} here must hold one"
	}
	return p, true
}

// findTyped finds the path (with indexes) of the first value under v
// whose index-free path is field and whose JSON kind is kind.
func findTyped(v any, path, field, kind string) (string, bool) {
	stripped := func(p string) string {
		var parts []string
		for _, s := range strings.Split(p, ".") {
			if _, err := strconv.Atoi(s); err != nil {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ".")
	}
	if path != "" && stripped(path) == field && jsonKind(v) == kind {
		return path, true
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := findTyped(x[k], join(path, k), field, kind); ok {
				return p, true
			}
		}
	case []any:
		for i, e := range x {
			if p, ok := findTyped(e, join(path, strconv.Itoa(i)), field, kind); ok {
				return p, true
			}
		}
	}
	return "", false
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case nil:
		return "null"
	}
	return "number"
}

// valueAt is the value at a dotted path under v, or nil.
func valueAt(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// mentionsCredential reports whether source text refers to a variable the
// credential rule marks, so its value is never printed.
func mentionsCredential(raw string) bool {
	for _, m := range varExpr().FindAllStringSubmatch(raw, -1) {
		name := m[1]
		if name == "" {
			name = m[3]
		}
		if IsCredentialName(name) {
			return true
		}
	}
	return false
}

// quantityProblem positions the decoder's "quantities must match" error
// (which names no field) at the first resource quantity that does not
// parse.
func (l *kubeLoader) quantityProblem(d *kubeDoc, err error) (Problem, bool) {
	if !strings.Contains(err.Error(), "quantities must match") {
		return Problem{}, false
	}
	var found string
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		if found != "" {
			return
		}
		n := len(path)
		isQuantity := n >= 3 && path[n-3] == "resources" && (path[n-2] == "limits" || path[n-2] == "requests") ||
			n >= 1 && path[n-1] == "sizeLimit"
		if isQuantity {
			if _, err := resource.ParseQuantity(fmt.Sprint(v)); err != nil {
				found = strings.Join(path, ".")
			}
			return
		}
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(x[k], append(path, k))
			}
		case []any:
			for i, e := range x {
				walk(e, append(path, strconv.Itoa(i)))
			}
		}
	}
	walk(d.value, nil)
	if found == "" {
		return Problem{}, false
	}
	msg := fmt.Sprintf("%s: not a quantity", found)
	if raw, ok := valueAt(d.raw, found).(string); ok {
		msg = fmt.Sprintf("%s: %q is not a quantity", found, raw)
	}
	return Problem{Position: l.at(d, found), Service: d.name, Message: msg,
		Fix: "write a number with an optional unit: 500m or 0.5 (CPUs), 256Mi or 1Gi (bytes)"}, true
}

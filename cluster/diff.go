package cluster

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// FieldChange is one field podstack manages that an apply would change.
type FieldChange struct {
	// Op is "+" (added), "-" (removed: podstack set it before and no
	// longer declares it) or "~" (changed).
	Op   string `json:"op"`
	Path string `json:"path"`
	// Old and New are the values as JSON; secret values are never shown.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

func (f FieldChange) String() string {
	switch f.Op {
	case "+":
		return fmt.Sprintf("+ %s: %s", f.Path, f.New)
	case "-":
		return fmt.Sprintf("- %s: %s", f.Path, f.Old)
	}
	return fmt.Sprintf("~ %s: %s -> %s", f.Path, f.Old, f.New)
}

// identity are the fields that name an object rather than describe it:
// they are not in a manager's field set, and never differ for one Ref.
var identity = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
)

// diff compares the fields FieldManager owns in live with desired. No
// changes means applying desired would not change the object: the API
// server keeps what podstack applied last, and the fields others own or
// default are not podstack's to compare.
func diff(types managedfields.TypeConverter, live, desired *unstructured.Unstructured) ([]FieldChange, error) {
	if types == nil {
		return nil, fmt.Errorf("compare %s: no schema of its kind", RefOf(live))
	}
	liveTyped, err := types.ObjectToTyped(live, typed.AllowDuplicates)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", RefOf(live), err)
	}
	want, err := types.ObjectToTyped(desired)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", RefOf(desired), err)
	}
	owned := &fieldpath.Set{}
	for _, mf := range live.GetManagedFields() {
		if mf.Manager == FieldManager && mf.Operation == "Apply" && mf.Subresource == "" && mf.FieldsV1 != nil {
			if err := owned.FromJSON(mf.FieldsV1.GetRawReader()); err != nil {
				return nil, fmt.Errorf("read the fields podstack manages in %s: %w", RefOf(live), err)
			}
		}
	}
	mine := liveTyped.ExtractItems(owned.Leaves())
	cmp, err := mine.Compare(want)
	if err != nil {
		return nil, fmt.Errorf("compare %s: %w", RefOf(live), err)
	}
	cmp = cmp.ExcludeFields(identity)
	secret := live.GetKind() == "Secret"
	before, after := mine.AsValue().Unstructured(), want.AsValue().Unstructured()
	var out []FieldChange
	add := func(op string, set *fieldpath.Set) {
		set.Leaves().Iterate(func(p fieldpath.Path) {
			fc := FieldChange{Op: op, Path: strings.TrimPrefix(p.String(), ".")}
			if op == "+" {
				// A field podstack set before and another manager changed
				// since (kubectl scale) is no longer podstack's: show the
				// value it has now.
				if _, ok := lookup(live.Object, p); ok {
					fc.Op, fc.Old = "~", show(live.Object, p, secret)
				}
			} else {
				fc.Old = show(before, p, secret)
			}
			if op != "-" {
				fc.New = show(after, p, secret)
			}
			out = append(out, fc)
		})
	}
	add("~", cmp.Modified)
	add("+", cmp.Added)
	add("-", cmp.Removed)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// show renders the value at p as short JSON; under a Secret's data it
// says only that there is a value.
func show(root any, p fieldpath.Path, secret bool) string {
	if secret && len(p) > 0 && p[0].FieldName != nil && (*p[0].FieldName == "data" || *p[0].FieldName == "stringData") {
		return "(secret value)"
	}
	v, ok := lookup(root, p)
	if !ok {
		return "(none)"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(data)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// lookup finds the value at a field path in an unstructured value.
func lookup(v any, p fieldpath.Path) (any, bool) {
	for _, pe := range p {
		switch {
		case pe.FieldName != nil:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[*pe.FieldName]; !ok {
				return nil, false
			}
		case pe.Index != nil:
			l, ok := v.([]any)
			if !ok || *pe.Index >= len(l) {
				return nil, false
			}
			v = l[*pe.Index]
		default:
			l, ok := v.([]any)
			if !ok {
				return nil, false
			}
			found := false
			for _, item := range l {
				if matches(item, pe) {
					v, found = item, true
					break
				}
			}
			if !found {
				return nil, false
			}
		}
	}
	return v, true
}

func matches(item any, pe fieldpath.PathElement) bool {
	if pe.Value != nil {
		return value.Equals(value.NewValueInterface(item), *pe.Value)
	}
	m, ok := item.(map[string]any)
	if !ok || pe.Key == nil {
		return false
	}
	for _, f := range *pe.Key {
		if !value.Equals(value.NewValueInterface(m[f.Name]), f.Value) {
			return false
		}
	}
	return true
}

package cluster

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
)

// ErrNotFound is what an API wraps when an object (or the namespace)
// does not exist.
var ErrNotFound = errors.New("not found")

// API is the part of a Kubernetes API server podstack uses, in one
// namespace. Client implements it with client-go; every method wraps its
// errors with the object it was about.
type API interface {
	// Namespace is the namespace every call works in.
	Namespace() string
	// CheckNamespace returns an error wrapping ErrNotFound when the
	// namespace does not exist: podstack never creates one.
	CheckNamespace(ctx context.Context) error
	// List returns the namespace's objects of kind whose labels match the
	// label selector.
	List(ctx context.Context, kind Kind, selector string) ([]*unstructured.Unstructured, error)
	// Get returns one object, or an error wrapping ErrNotFound.
	Get(ctx context.Context, ref Ref) (*unstructured.Unstructured, error)
	// Apply applies obj with server-side apply as FieldManager, taking over
	// fields another manager changed since (the stack is the truth for the
	// fields it declares). With dryRun the server admits and validates the
	// change and stores nothing. It returns the object as stored (or as it
	// would be).
	Apply(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error)
	// Delete deletes the object if its UID is still uid (so an object
	// recreated meanwhile by someone else is left alone); its dependents
	// (a Deployment's ReplicaSets and pods) are deleted in the background.
	Delete(ctx context.Context, ref Ref, uid types.UID, dryRun bool) error
	// TypeConverter is the schema of the kinds podstack deploys, as the
	// server has it, so that objects compare as the server merges them.
	TypeConverter(ctx context.Context) (managedfields.TypeConverter, error)
}

// Observed is what the namespace holds of a target.
type Observed struct {
	// Owned are the objects labelled as the target's, by Ref.
	Owned map[Ref]*unstructured.Unstructured
	// Foreign are objects that have the name of a desired object but not
	// the target's labels: podstack must not change them.
	Foreign map[Ref]*unstructured.Unstructured
	// Types is the server's schema of the kinds, to compare Owned objects
	// with desired ones; nil where nothing is owned.
	Types managedfields.TypeConverter
}

// Observe lists the target's objects of every kind by label, and looks
// up each desired object that is not among them, so that an object of
// the same name that is not the target's is seen before anything is
// applied over it.
func Observe(ctx context.Context, api API, t Target, desired []*unstructured.Unstructured) (*Observed, error) {
	if err := api.CheckNamespace(ctx); err != nil {
		return nil, err
	}
	o := &Observed{Owned: map[Ref]*unstructured.Unstructured{}, Foreign: map[Ref]*unstructured.Unstructured{}}
	for _, k := range Kinds {
		objs, err := api.List(ctx, k, t.Selector())
		if err != nil {
			return nil, err
		}
		for _, obj := range objs {
			if obj.GetKind() == "" {
				obj.SetAPIVersion(k.APIVersion())
				obj.SetKind(k.Name)
			}
			o.Owned[RefOf(obj)] = obj
		}
	}
	if len(o.Owned) > 0 {
		conv, err := api.TypeConverter(ctx)
		if err != nil {
			return nil, err
		}
		o.Types = conv
	}
	for _, d := range desired {
		ref := RefOf(d)
		if o.Owned[ref] != nil {
			continue
		}
		obj, err := api.Get(ctx, ref)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, err
		default:
			o.Foreign[ref] = obj
		}
	}
	return o, nil
}

// whose says whose an object of another owner is, for messages.
func whose(obj *unstructured.Unstructured) string {
	l := obj.GetLabels()
	if l[LabelManagedBy] != managedByValue {
		if m := l[LabelManagedBy]; m != "" {
			return "is managed by " + m
		}
		return "was not created by podstack"
	}
	s := fmt.Sprintf("belongs to podstack project %q", l[LabelPartOf])
	if env := l[LabelEnvironment]; env != "" {
		return s + fmt.Sprintf(", environment %q", env)
	}
	return s + " without an environment"
}

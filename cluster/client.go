package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/openapi"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// ConnectOptions find the cluster as kubectl does: the kubeconfig files
// KUBECONFIG lists (else ~/.kube/config), or Kubeconfig; the current
// context, or Context; the context's namespace, or Namespace, else
// "default".
type ConnectOptions struct {
	Kubeconfig string
	Context    string
	Namespace  string
	// Warnings receives the API server's warnings (deprecations and the
	// like); nil drops them.
	Warnings io.Writer
}

// Client is the API of one namespace of a cluster, through client-go.
type Client struct {
	dyn       dynamic.Interface
	openapi   openapi.ClientWithContext
	namespace string
	context   string
	server    string

	types sync.Once
	conv  managedfields.TypeConverter
	err   error
}

// Connect loads the kubeconfig and opens a client for the namespace.
func Connect(opts ConnectOptions) (*Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = opts.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	overrides.Context.Namespace = opts.Namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, fmt.Errorf("no Kubernetes cluster configured: set KUBECONFIG or pass --kubeconfig (as for kubectl)")
		}
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	name := raw.CurrentContext
	if opts.Context != "" {
		name = opts.Context
	}
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	cfg.UserAgent = "podstack"
	cfg.WarningHandler = rest.NoWarnings{}
	if opts.Warnings != nil {
		cfg.WarningHandler = rest.NewWarningWriter(opts.Warnings, rest.WarningWriterOptions{Deduplicate: true})
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	// A client for the OpenAPI documents, which are no API objects.
	docs := rest.CopyConfig(cfg)
	docs.NegotiatedSerializer = serializer.NewCodecFactory(runtime.NewScheme()).WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(docs)
	if err != nil {
		return nil, err
	}
	return &Client{dyn: dyn, openapi: openapi.NewClientWithContext(rc), namespace: ns, context: name, server: cfg.Host}, nil
}

// TypeConverter implements API: the server's OpenAPI v3 schema of the
// group versions podstack deploys, read once per client.
func (c *Client) TypeConverter(ctx context.Context) (managedfields.TypeConverter, error) {
	c.types.Do(func() { c.conv, c.err = c.readTypes(ctx) })
	return c.conv, c.err
}

func (c *Client) readTypes(ctx context.Context) (managedfields.TypeConverter, error) {
	paths, err := c.openapi.PathsWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the OpenAPI v3 index of %s (served from Kubernetes 1.27): %w", c.server, err)
	}
	schemas := map[string]*spec.Schema{}
	seen := map[string]bool{}
	for _, k := range Kinds {
		path := "apis/" + k.Resource.Group + "/" + k.Resource.Version
		if k.Resource.Group == "" {
			path = "api/" + k.Resource.Version
		}
		if seen[path] {
			continue
		}
		seen[path] = true
		gv, ok := paths[path]
		if !ok {
			return nil, fmt.Errorf("%s serves no OpenAPI v3 schema for %s, which podstack deploys", c.server, path)
		}
		data, err := gv.SchemaWithContext(ctx, "application/json")
		if err != nil {
			return nil, fmt.Errorf("read the OpenAPI v3 schema of %s from %s: %w", path, c.server, err)
		}
		var doc spec3.OpenAPI
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("the OpenAPI v3 schema of %s from %s: %w", path, c.server, err)
		}
		if doc.Components != nil {
			maps.Copy(schemas, doc.Components.Schemas)
		}
	}
	return managedfields.NewTypeConverter(schemas, false)
}

// Namespace is the namespace the client works in.
func (c *Client) Namespace() string { return c.namespace }

// Context is the kubeconfig context in use.
func (c *Client) Context() string { return c.context }

// Server is the API server's URL.
func (c *Client) Server() string { return c.server }

func (c *Client) resource(kind string) (dynamic.ResourceInterface, error) {
	k, ok := KindOf(kind)
	if !ok {
		return nil, fmt.Errorf("podstack does not deploy kind %q", kind)
	}
	return c.dyn.Resource(k.Resource).Namespace(c.namespace), nil
}

// wrap maps a not-found answer to ErrNotFound and names the object.
func wrap(what string, err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: %w (%w)", what, ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CheckNamespace implements API.
func (c *Client) CheckNamespace(ctx context.Context) error {
	ns := c.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	_, err := ns.Get(ctx, c.namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("namespace %q %w on %s: podstack never creates one; create it (kubectl create namespace %s) or choose another with --namespace",
			c.namespace, ErrNotFound, c.server, c.namespace)
	}
	if err != nil {
		return fmt.Errorf("namespace %s on %s: %w", c.namespace, c.server, err)
	}
	return nil
}

// List implements API.
func (c *Client) List(ctx context.Context, kind Kind, selector string) ([]*unstructured.Unstructured, error) {
	list, err := c.dyn.Resource(kind.Resource).Namespace(c.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, wrap("list "+kind.Resource.Resource, err)
	}
	out := make([]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
		out[i].SetAPIVersion(kind.APIVersion())
		out[i].SetKind(kind.Name)
	}
	return out, nil
}

// Get implements API.
func (c *Client) Get(ctx context.Context, ref Ref) (*unstructured.Unstructured, error) {
	r, err := c.resource(ref.Kind)
	if err != nil {
		return nil, err
	}
	obj, err := r.Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, wrap("get "+ref.String(), err)
	}
	return obj, nil
}

// Apply implements API.
func (c *Client) Apply(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	r, err := c.resource(obj.GetKind())
	if err != nil {
		return nil, err
	}
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out, err := r.Apply(ctx, obj.GetName(), obj, opts)
	if err != nil {
		return nil, fmt.Errorf("apply %s: %w", RefOf(obj), err)
	}
	return out, nil
}

// Delete implements API.
func (c *Client) Delete(ctx context.Context, ref Ref, uid types.UID, dryRun bool) error {
	r, err := c.resource(ref.Kind)
	if err != nil {
		return err
	}
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	err = r.Delete(ctx, ref.Name, opts)
	if apierrors.IsConflict(err) {
		return fmt.Errorf("delete %s: it was replaced by another object meanwhile; left alone", ref)
	}
	if err != nil {
		return wrap("delete "+ref.String(), err)
	}
	return nil
}

var _ API = (*Client)(nil)

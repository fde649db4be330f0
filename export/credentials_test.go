package export

import (
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/podstack/podstack/internal/testcorpus"
	"github.com/podstack/podstack/stack"
)

// credentialStacks are the stacks the credential tests run over: the
// examples, the awesome-compose corpus, and a fixture with every kind of
// credential the safety issue found leaking.
func credentialStacks(t *testing.T) map[string]string {
	files := map[string]string{
		"webstack":    "../examples/webstack/compose.yaml",
		"demo":        "../examples/demo/compose.yaml",
		"kube-pod":    "../examples/kube-pod/pod.yaml",
		"credentials": "testdata/credentials/compose.yaml",
	}
	for _, f := range testcorpus.AwesomeCompose(t) {
		files["corpus/"+testcorpus.Project(f)] = f
	}
	return files
}

// podSpecs returns the pod specs of the exported workloads.
func podSpecs(objs []runtime.Object) map[string]corev1.PodSpec {
	out := map[string]corev1.PodSpec{}
	for _, o := range objs {
		switch x := o.(type) {
		case *corev1.Pod:
			out[x.Name] = x.Spec
		case *appsv1.Deployment:
			out[x.Name] = x.Spec.Template.Spec
		}
	}
	return out
}

// TestNoCredentialOutsideSecrets: in every export (Deployments, Pods and
// convert's Pods), a credential-like variable is a secretKeyRef, never a
// value in the pod or a ConfigMap key; and for the fixture no credential
// value appears anywhere but in a Secret document.
func TestNoCredentialOutsideSecrets(t *testing.T) {
	for name, file := range credentialStacks(t) {
		t.Run(name, func(t *testing.T) {
			s, pods := load(t, file, "")
			refs := 0
			for _, mode := range []string{"deployment", "pod", "convert"} {
				var r *Result
				var err error
				if mode == "convert" {
					r, err = Convert(s, pods)
				} else {
					r, err = Kube(s, pods, KubeOptions{Type: mode})
				}
				if err != nil {
					t.Fatal(err)
				}
				for pod, spec := range podSpecs(r.Objects) {
					for _, c := range append(spec.InitContainers, spec.Containers...) {
						for _, ev := range c.Env {
							if ev.ValueFrom != nil && ev.ValueFrom.SecretKeyRef != nil {
								refs++
								continue
							}
							value := ev.Value
							if ev.ValueFrom != nil && ev.ValueFrom.ConfigMapKeyRef != nil {
								value = configMapValue(r, ev.ValueFrom.ConfigMapKeyRef)
							}
							if s.IsCredential(ev.Name, value) {
								t.Errorf("%s: pod %s container %s: credential %s is not a secretKeyRef", mode, pod, c.Name, ev.Name)
							}
						}
					}
				}
				for _, cm := range objects[*corev1.ConfigMap](r) {
					for k, v := range cm.Data {
						_, varName, _ := strings.Cut(k, ".")
						if s.IsCredential(varName, v) {
							t.Errorf("%s: ConfigMap %s holds credential %s", mode, cm.Name, k)
						}
					}
				}
				if name == "credentials" {
					assertOnlyInSecrets(t, mode, yamlOf(t, r), s.CredentialValues())
					if mode == "convert" && !strings.Contains(strings.Join(r.Warnings, "\n"), "podman issue 16269") {
						t.Errorf("convert does not warn that Podman 4.3 kube play cannot read the Secret: %v", r.Warnings)
					}
				}
			}
			if name == "credentials" && refs != 3*(9+1) {
				t.Errorf("found %d secretKeyRefs over three exports, want 30 (api's 9 and worker's DATABASE_URL)", refs)
			}
		})
	}
}

func configMapValue(r *Result, ref *corev1.ConfigMapKeySelector) string {
	for _, cm := range objects[*corev1.ConfigMap](r) {
		if cm.Name == ref.Name {
			return cm.Data[ref.Key]
		}
	}
	return ""
}

// assertOnlyInSecrets fails when a credential value (or any line of a
// multi-line one) appears in a document that is not a Secret, and when a
// value is missing altogether (the test would prove nothing).
func assertOnlyInSecrets(t *testing.T, what, text string, values []string) {
	t.Helper()
	if len(values) == 0 {
		t.Fatalf("%s: no credential values to look for", what)
	}
	for _, v := range values {
		found := false
		for _, doc := range strings.Split(text, "\n---\n") {
			for _, part := range credentialParts(v) {
				if !strings.Contains(doc, part) {
					continue
				}
				found = true
				if !strings.Contains(doc, "kind: Secret") {
					t.Errorf("%s: credential value %q outside a Secret:\n%s", what, stack.Redact(part, nil), doc)
				}
			}
		}
		if !found {
			t.Errorf("%s: credential value %q is not exported at all", what, v)
		}
	}
}

// credentialParts are the pieces of a value to look for: the value, and
// each line of a multi-line one (YAML may fold it).
func credentialParts(v string) []string {
	parts := []string{v}
	if strings.Contains(v, "\n") {
		for _, l := range strings.Split(v, "\n") {
			if len(strings.TrimSpace(l)) >= 8 {
				parts = append(parts, strings.TrimSpace(l))
			}
		}
	}
	return parts
}

var envLine = regexp.MustCompile(`(?m)^Environment=(.*)$`)

// TestQuadletCredentialsOnlyInPrivateFiles: Quadlet units carry no
// credential as an Environment= line; credentials go to an environment file
// (mode 0600) the unit names with EnvironmentFile=, or, for a multi-line
// value, to a Podman secret the unit names with Secret=.
func TestQuadletCredentialsOnlyInPrivateFiles(t *testing.T) {
	for name, file := range credentialStacks(t) {
		t.Run(name, func(t *testing.T) {
			s, pods := load(t, file, "")
			files, warnings, err := Quadlet(s, pods)
			if err != nil {
				t.Fatal(err)
			}
			for fname, f := range files {
				text := string(f.Data)
				if f.Mode&0o077 != 0 && !strings.HasSuffix(fname, ".container") && !strings.HasSuffix(fname, ".pod") &&
					!strings.HasSuffix(fname, ".volume") && !strings.HasSuffix(fname, ".network") {
					t.Errorf("%s: mode %o, want private (0600)", fname, f.Mode)
				}
				for _, m := range envLine.FindAllStringSubmatch(text, -1) {
					kv := strings.Trim(m[1], `"`)
					k, v, _ := strings.Cut(kv, "=")
					if s.IsCredential(k, v) {
						t.Errorf("%s: credential %s as an Environment= line", fname, k)
					}
				}
				for _, ref := range regexp.MustCompile(`(?m)^EnvironmentFile=(.*)$`).FindAllStringSubmatch(text, -1) {
					if g, ok := files[ref[1]]; !ok || g.Mode != 0o600 {
						t.Errorf("%s: EnvironmentFile=%s is not a generated private file", fname, ref[1])
					}
				}
			}
			if name != "credentials" {
				return
			}
			for _, v := range s.CredentialValues() {
				found := false
				for fname, f := range files {
					for _, part := range credentialParts(v) {
						if strings.Contains(string(f.Data), part) {
							found = true
							if f.Mode != 0o600 {
								t.Errorf("credential value %q in %s (mode %o)", part, fname, f.Mode)
							}
						}
					}
				}
				if !found {
					t.Errorf("credential value %q not exported at all", v)
				}
			}
			unit := string(files["creds-api.container"].Data)
			for _, want := range []string{"EnvironmentFile=creds-api.env\n", "Secret=creds-api-ssh-key,type=env,target=SSH_KEY\n", "Environment=LOG_LEVEL=info\n"} {
				if !strings.Contains(unit, want) {
					t.Errorf("api's unit lacks %q:\n%s", want, unit)
				}
			}
			if !strings.Contains(strings.Join(warnings, "\n"), "podman secret create creds-api-ssh-key creds-api-ssh-key.secret") {
				t.Errorf("no warning telling how to create the multi-line secret: %v", warnings)
			}
		})
	}
}

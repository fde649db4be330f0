package stack

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/podstack/podstack/internal/testcorpus"
)

// jsonSetKeys is the definition setKeys must agree with: the keys of the
// service's JSON (as compose-go marshals it) whose value is not empty,
// deploy's as "deploy.KEY".
func jsonSetKeys(svc types.ServiceConfig) []string {
	data, err := json.Marshal(svc)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var out []string
	for k, v := range m {
		if strings.HasPrefix(k, "x-") || isEmpty(v) {
			continue
		}
		out = append(out, k)
	}
	if d, ok := m["deploy"].(map[string]any); ok {
		for k, v := range d {
			if !isEmpty(v) {
				out = append(out, "deploy."+k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// everyShape sets keys, many the model does not carry, in every shape: scalars,
// pointers, lists, maps, structs with their own JSON, and deploy keys.
const everyShape = `services:
  all:
    image: busybox
    platform: linux/arm64
    runtime: runc
    attach: false
    cpu_count: 2
    cpu_percent: 50
    cpu_period: 100000
    cpu_quota: 50000
    cpu_rt_period: 1000
    cpu_rt_runtime: 1000
    cpuset: "0"
    blkio_config: {weight: 300}
    cgroup: private
    cgroup_parent: parent
    credential_spec: {file: spec.json}
    device_cgroup_rules: ["c 1:3 mr"]
    domainname: example.com
    annotations: {a: b}
    external_links: [db]
    isolation: default
    mem_swappiness: 10
    memswap_limit: 1g
    oom_kill_disable: true
    storage_opt: {size: 1G}
    stop_grace_period: 0s
    uts: host
    volumes_from: [other]
    gpus: all
    post_start: [{command: ["true"]}]
    develop: {watch: [{path: ., action: rebuild}]}
    x-podman.uidmaps: ["0:1:1"]
    x-other: 1
    deploy:
      replicas: 2
      labels: {a: b}
      placement: {constraints: [node.role==manager]}
      update_config: {parallelism: 2}
      endpoint_mode: vip
  plain:
    image: busybox
    attach: true
    deploy: {}
  other:
    image: busybox
`

// TestSetKeysMatchesJSON: the reflecting setKeys finds exactly the keys
// the JSON definition finds, on every service of the test
// files, the awesome-compose corpus and a service setting everything.
func TestSetKeysMatchesJSON(t *testing.T) {
	dir := t.TempDir()
	every := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(every, []byte(everyShape), 0o644); err != nil {
		t.Fatal(err)
	}
	files := []string{every}
	tests, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, tests...)
	files = append(files, testcorpus.AwesomeCompose(t)...)
	checked, nonEmpty := 0, 0
	for _, f := range files {
		content, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(f)
		p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{WorkingDir: filepath.Dir(abs),
			ConfigFiles: []types.ConfigFile{{Filename: abs, Content: content}}, Environment: types.Mapping{}},
			composeOptions("p", true, nil, false, false))
		if err != nil && f == every {
			t.Fatalf("the file setting every key does not load: %v", err)
		}
		if err != nil {
			continue // invalid test files: nothing to compare
		}
		for _, svc := range p.AllServices() {
			want, got := jsonSetKeys(svc), setKeys(svc)
			if !slices.Equal(got, want) {
				t.Errorf("%s, service %s: setKeys = %v, want %v", f, svc.Name, got, want)
			}
			if f == every && svc.Name == "all" && len(want) < 35 {
				t.Errorf("service all sets %d keys, want every one of the file's: %v", len(want), want)
			}
			checked++
			if len(want) > 0 {
				nonEmpty++
			}
		}
	}
	if checked < 100 || nonEmpty < 3 {
		t.Errorf("compared only %d services (%d with keys): the corpus is missing", checked, nonEmpty)
	}
}

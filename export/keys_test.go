package export

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/schema"
	corev1 "k8s.io/api/core/v1"

	"github.com/podstack/podstack/stack"
)

// outcome is what export kube does with a compose service key.
type outcome int

const (
	exported outcome = 1 << iota // the output changes
	warned                       // a warning names the key
	// runOnly keys only change how `stack up` itself behaves (attach: whether
	// it follows the service's logs): there is nothing to export or warn.
	runOnly
)

// serviceKeys is every key of a compose service (and of its deploy
// section), with a value that sets it and what export kube does with it.
// TestEveryServiceKeyExportedOrWarned reads the compose schema compose-go
// validates with: a key the schema has and this table lacks fails the test,
// so a new compose key cannot be dropped silently.
var serviceKeys = map[string]struct {
	yaml string // service-level YAML setting the key
	top  string // top-level YAML it needs, if any
	want outcome
}{
	"annotations":         {yaml: `annotations: {com.example/team: payments}`, want: warned},
	"attach":              {yaml: `attach: false`, want: runOnly},
	"blkio_config":        {yaml: `blkio_config: {weight: 300}`, want: warned},
	"build":               {yaml: `build: {context: .}`, want: warned},
	"cap_add":             {yaml: `cap_add: [NET_ADMIN]`, want: exported},
	"cap_drop":            {yaml: `cap_drop: [ALL]`, want: exported},
	"cgroup":              {yaml: `cgroup: host`, want: warned},
	"cgroup_parent":       {yaml: `cgroup_parent: /custom`, want: warned},
	"command":             {yaml: `command: [sleep, "1"]`, want: exported},
	"configs":             {yaml: `configs: [conf]`, want: exported},
	"container_name":      {yaml: `container_name: fixed-name`, want: warned},
	"cpu_count":           {yaml: `cpu_count: 2`, want: warned},
	"cpu_percent":         {yaml: `cpu_percent: 50`, want: warned},
	"cpu_period":          {yaml: `cpu_period: 100000`, want: warned},
	"cpu_quota":           {yaml: `cpu_quota: 50000`, want: warned},
	"cpu_rt_period":       {yaml: `cpu_rt_period: 1000000`, want: warned},
	"cpu_rt_runtime":      {yaml: `cpu_rt_runtime: 95000`, want: warned},
	"cpu_shares":          {yaml: `cpu_shares: 512`, want: warned},
	"cpus":                {yaml: `cpus: 0.5`, want: exported},
	"cpuset":              {yaml: `cpuset: "0,1"`, want: warned},
	"credential_spec":     {yaml: `credential_spec: {file: spec.json}`, want: warned},
	"depends_on":          {yaml: `depends_on: [other]`, want: exported},
	"deploy":              {yaml: `deploy: {replicas: 2}`, want: exported},
	"develop":             {yaml: `develop: {watch: [{action: sync, path: ./src, target: /src}]}`, want: warned},
	"device_cgroup_rules": {yaml: `device_cgroup_rules: ["c 1:3 mr"]`, want: warned},
	"devices":             {yaml: `devices: ["/dev/fuse:/dev/fuse"]`, want: warned},
	"dns":                 {yaml: `dns: [10.0.0.53]`, want: exported},
	"dns_opt":             {yaml: `dns_opt: ["ndots:2"]`, want: exported},
	"dns_search":          {yaml: `dns_search: [corp.example]`, want: exported},
	"domainname":          {yaml: `domainname: corp.example`, want: warned},
	"entrypoint":          {yaml: `entrypoint: [/bin/sh]`, want: exported},
	"env_file":            {yaml: `env_file: [./app.env]`, want: exported},
	"environment":         {yaml: `environment: {MODE: fast}`, want: exported},
	"expose":              {yaml: `expose: ["9000"]`, want: exported},
	"extends":             {yaml: `extends: {service: other}`, want: exported},
	"external_links":      {yaml: `external_links: ["redis:cache"]`, want: warned},
	"extra_hosts":         {yaml: `extra_hosts: ["db.local:10.0.0.5"]`, want: exported},
	"gpus":                {yaml: `gpus: all`, want: warned},
	"group_add":           {yaml: `group_add: ["1000", "audio"]`, want: exported | warned},
	"healthcheck":         {yaml: `healthcheck: {test: [CMD, "true"]}`, want: exported},
	"hostname":            {yaml: `hostname: box`, want: exported},
	"image":               {yaml: `image: localhost/other:1`, want: exported},
	"init":                {yaml: `init: true`, want: warned},
	"ipc":                 {yaml: `ipc: host`, want: exported},
	"isolation":           {yaml: `isolation: default`, want: warned},
	"label_file":          {yaml: `label_file: ./app.labels`, want: exported},
	"labels":              {yaml: `labels: {com.example.tier: front}`, want: exported},
	"links":               {yaml: `links: ["other:backend"]`, want: exported},
	"logging":             {yaml: `logging: {driver: journald}`, want: warned},
	"mac_address":         {yaml: `mac_address: "02:42:ac:11:00:02"`, want: warned},
	"mem_limit":           {yaml: `mem_limit: 256m`, want: exported},
	"mem_reservation":     {yaml: `mem_reservation: 128m`, want: exported},
	"mem_swappiness":      {yaml: `mem_swappiness: 10`, want: warned},
	"memswap_limit":       {yaml: `memswap_limit: 512m`, want: warned},
	"models":              {yaml: `models: [llm]`, top: "models:\n  llm: {model: ai/smollm2}\n", want: warned},
	"network_mode":        {yaml: `network_mode: host`, want: exported},
	"networks":            {yaml: `networks: {back: {aliases: [api-v2]}}`, want: warned},
	"oom_kill_disable":    {yaml: `oom_kill_disable: true`, want: warned},
	"oom_score_adj":       {yaml: `oom_score_adj: 100`, want: warned},
	"pid":                 {yaml: `pid: host`, want: exported},
	"pids_limit":          {yaml: `pids_limit: 100`, want: warned},
	"platform":            {yaml: `platform: linux/arm64`, want: warned},
	"ports":               {yaml: `ports: ["127.0.0.1:8080:80"]`, want: exported | warned},
	"post_start":          {yaml: `post_start: [{command: ["echo", "hi"]}]`, want: warned},
	"pre_start":           {yaml: `pre_start: [{image: localhost/busybox:test, command: ["true"]}]`, want: warned},
	"pre_stop":            {yaml: `pre_stop: [{command: ["echo", "bye"]}]`, want: warned},
	"privileged":          {yaml: `privileged: true`, want: exported},
	"profiles":            {yaml: `profiles: [debug]`, want: exported},
	"provider":            {yaml: `provider: {type: model, options: {model: ai/x}}`, want: warned},
	"pull_policy":         {yaml: `pull_policy: always`, want: exported},
	"pull_refresh_after":  {yaml: `pull_refresh_after: 1h`, want: warned},
	"read_only":           {yaml: `read_only: true`, want: exported},
	"restart":             {yaml: `restart: on-failure:3`, want: warned},
	"runtime":             {yaml: `runtime: runc`, want: warned},
	"scale":               {yaml: `scale: 2`, want: exported},
	"secrets":             {yaml: `secrets: [tok]`, want: exported},
	"security_opt":        {yaml: `security_opt: ["no-new-privileges:true"]`, want: exported},
	"shm_size":            {yaml: `shm_size: 64m`, want: warned},
	"stdin_open":          {yaml: `stdin_open: true`, want: exported},
	"stop_grace_period":   {yaml: `stop_grace_period: 20s`, want: exported},
	"stop_signal":         {yaml: `stop_signal: SIGINT`, want: warned},
	"storage_opt":         {yaml: `storage_opt: {size: 1G}`, want: warned},
	"sysctls":             {yaml: `sysctls: {net.ipv4.tcp_syncookies: "1"}`, want: exported},
	"tmpfs":               {yaml: `tmpfs: [/cache]`, want: exported},
	"tty":                 {yaml: `tty: true`, want: exported},
	"ulimits":             {yaml: `ulimits: {nofile: 1024}`, want: warned},
	"umask":               {yaml: `umask: "0022"`, want: warned},
	"use_api_socket":      {yaml: `use_api_socket: true`, want: warned},
	"user":                {yaml: `user: "1000:1000"`, want: exported},
	"userns_mode":         {yaml: `userns_mode: host`, want: warned},
	"uts":                 {yaml: `uts: host`, want: warned},
	"volumes":             {yaml: `volumes: [data:/data]`, want: exported},
	"volumes_from":        {yaml: `volumes_from: [other]`, want: warned},
	"working_dir":         {yaml: `working_dir: /srv`, want: exported},

	"deploy.endpoint_mode":   {yaml: `deploy: {endpoint_mode: dnsrr}`, want: warned},
	"deploy.labels":          {yaml: `deploy: {labels: {com.example.owner: ops}}`, want: warned},
	"deploy.mode":            {yaml: `deploy: {mode: global}`, want: warned},
	"deploy.placement":       {yaml: `deploy: {placement: {constraints: [node.role==manager]}}`, want: warned},
	"deploy.replicas":        {yaml: `deploy: {replicas: 3}`, want: exported},
	"deploy.resources":       {yaml: `deploy: {resources: {limits: {memory: 64M}}}`, want: exported},
	"deploy.restart_policy":  {yaml: `deploy: {restart_policy: {condition: on-failure, max_attempts: 2}}`, want: warned},
	"deploy.rollback_config": {yaml: `deploy: {rollback_config: {parallelism: 1}}`, want: warned},
	"deploy.update_config":   {yaml: `deploy: {update_config: {parallelism: 1}}`, want: warned},
}

// schemaKeys returns the properties of a $defs entry of the compose
// schema, following allOf references.
func schemaKeys(t *testing.T, defs map[string]any, name string) []string {
	t.Helper()
	def, ok := defs[name].(map[string]any)
	if !ok {
		t.Fatalf("compose schema has no $defs.%s", name)
	}
	var keys []string
	if props, ok := def["properties"].(map[string]any); ok {
		for k := range props {
			keys = append(keys, k)
		}
	}
	all, _ := def["allOf"].([]any)
	for _, a := range all {
		if ref, ok := a.(map[string]any)["$ref"].(string); ok {
			keys = append(keys, schemaKeys(t, defs, strings.TrimPrefix(ref, "#/$defs/"))...)
		}
	}
	sort.Strings(keys)
	return keys
}

// TestEveryServiceKeyExportedOrWarned: setting any key of a compose service
// either changes what export kube writes or makes it name the key in a
// warning; never neither.
func TestEveryServiceKeyExportedOrWarned(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(schema.Schema), &doc); err != nil {
		t.Fatal(err)
	}
	defs, _ := doc["$defs"].(map[string]any)
	var keys []string
	keys = append(keys, schemaKeys(t, defs, "service")...)
	for _, k := range schemaKeys(t, defs, "deployment") {
		keys = append(keys, "deploy."+k)
	}
	for _, k := range keys {
		if _, ok := serviceKeys[k]; !ok {
			t.Errorf("compose service key %q is not in serviceKeys: say what export kube does with it", k)
		}
	}
	for k := range serviceKeys {
		if !contains(keys, k) {
			t.Errorf("serviceKeys has %q, which the compose schema does not", k)
		}
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.env"), []byte("FROM_FILE=1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.labels"), []byte("com.example.from-file=1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "tok.txt"), []byte("tok"), 0o644)
	export := func(t *testing.T, name, svcYAML, top string) (string, []string) {
		t.Helper()
		path := filepath.Join(dir, name+".yaml")
		image := "    image: localhost/busybox:test\n"
		if strings.HasPrefix(svcYAML, "image:") {
			image = ""
		}
		os.WriteFile(path, []byte(`name: keys
services:
  svc:
`+image+indent(svcYAML, "    ")+`
  other:
    image: localhost/busybox:test
    expose: ["80"]
volumes: {data: {}}
networks: {back: {}}
secrets: {tok: {file: ./tok.txt}}
configs: {conf: {content: "x"}}
`+top), 0o644)
		s, pods := load(t, path, "")
		r, err := Kube(s, pods, KubeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var warnings []string
		for _, w := range s.Warnings {
			warnings = append(warnings, w.Message)
		}
		return yamlOf(t, r), append(warnings, r.Warnings...)
	}
	base, baseWarnings := export(t, "base", "", "")
	if len(baseWarnings) > 0 {
		t.Fatalf("the baseline warns: %v", baseWarnings)
	}
	for _, k := range keys {
		tc, ok := serviceKeys[k]
		if !ok {
			continue
		}
		t.Run(k, func(t *testing.T) {
			out, warnings := export(t, strings.ReplaceAll(k, ".", "_"), tc.yaml, tc.top)
			var got outcome
			if out != base {
				got |= exported
			}
			name := strings.TrimPrefix(k, "deploy.")
			if k != name {
				name = "deploy." + name
			}
			for _, w := range warnings {
				if strings.Contains(w, name) {
					got |= warned
				}
			}
			if tc.want == runOnly {
				if got != 0 {
					t.Errorf("%s only matters to stack up, but the export changed (%s): %v", k, describe(got), warnings)
				}
				return
			}
			if got == 0 {
				t.Fatalf("%s is neither exported nor named in a warning (warnings: %v)", k, warnings)
			}
			if got&tc.want != tc.want {
				t.Errorf("%s: want %s, got %s (warnings: %v)", k, describe(tc.want), describe(got), warnings)
			}
		})
	}
}

func describe(o outcome) string {
	var parts []string
	if o&exported != 0 {
		parts = append(parts, "exported")
	}
	if o&warned != 0 {
		parts = append(parts, "warned")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " and ")
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// TestKubeMappings: the keys Kubernetes has a field for land in it, and
// what it has none for is named: labels, hostname, DNS, sysctls, groups,
// pull policy, network aliases as Services, internal networks, volume
// driver options, restart policies and their retry counts.
func TestKubeMappings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose.yaml")
	os.WriteFile(path, []byte(`name: maps
services:
  api:
    image: api
    hostname: api-box
    labels: {com.example.tier: back, traefik.http.routers.api.rule: "Host(`+"`api.example`"+`)"}
    dns: [10.0.0.53]
    dns_search: [corp.example]
    dns_opt: ["ndots:2", "edns0"]
    sysctls: {net.ipv4.tcp_syncookies: "1"}
    group_add: ["1000", "audio"]
    pull_policy: never
    expose: ["9000"]
    networks:
      back: {aliases: [api-v2]}
    restart: on-failure:5
    deploy: {mode: global}
  web:
    image: web
    networks: [back]
networks:
  back: {internal: true}
volumes:
  fast: {driver_opts: {type: tmpfs, device: tmpfs}}
`), 0o644)
	s, pods := load(t, path, "")
	for _, typ := range []string{"deployment", "pod"} {
		r, err := Kube(s, pods, KubeOptions{Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		out := yamlOf(t, r)
		for _, want := range []string{"hostname: api-box", "com.example.tier: back", "traefik.http.routers.api.rule: Host(`api.example`)",
			"- 10.0.0.53", "- corp.example", "name: ndots\n", "value: \"2\"", "name: edns0", "name: net.ipv4.tcp_syncookies",
			"supplementalGroups:\n", "- 1000", "imagePullPolicy: Never", "name: api-v2"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: export lacks %q:\n%s", typ, want, out)
			}
		}
		var labelled bool
		for _, o := range objects[*corev1.Service](r) {
			labelled = labelled || o.Name == "api-v2" && o.Spec.Selector["app.kubernetes.io/name"] == "api"
		}
		if !labelled {
			t.Errorf("%s: no Service api-v2 selecting api's pod", typ)
		}
		warnings := strings.Join(r.Warnings, "\n")
		wants := []string{"group_add audio", "networks: back is not exported", "internal: true", "volume fast: driver and driver_opts are not exported",
			"deploy.mode global"}
		if typ == "deployment" {
			wants = append(wants, "restart policy on-failure:5 (restart, deploy.restart_policy) is not exported")
		} else {
			wants = append(wants, "the retry count 5 is not exported")
			if !strings.Contains(out, "restartPolicy: OnFailure") {
				t.Errorf("pod: on-failure is not OnFailure:\n%s", out)
			}
		}
		for _, w := range wants {
			if !strings.Contains(warnings, w) {
				t.Errorf("%s: warnings lack %q:\n%s", typ, w, warnings)
			}
		}
	}
}

// TestNewKeyNamedEverywhere: a compose key podstack has never heard of
// (compose-go decodes a new one, say) is named by every target's warnings
// without touching any list but the table of service keys, stack.ServiceKeys.
func TestNewKeyNamedEverywhere(t *testing.T) {
	s, pods := load(t, "../examples/webstack/compose.yaml", "")
	web := s.Services["web"]
	web.Keys = append(web.Keys, "fake_key")
	web.Unsupported = append(web.Unsupported, "fake_key") // what the loader derives from the table
	if got := strings.Join(web.NotCarried(stack.PodmanKeys), ","); !strings.Contains(got, "fake_key") {
		t.Errorf("stack up's unsupported keys %q lack fake_key", got)
	}
	r, err := Kube(s, pods, KubeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "service web: fake_key is not exported") {
		t.Errorf("export kube does not name fake_key:\n%s", strings.Join(r.Warnings, "\n"))
	}
	c, err := Convert(s, pods)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "fake_key") {
		t.Errorf("convert does not name fake_key:\n%s", strings.Join(c.Warnings, "\n"))
	}
	_, qw, err := Quadlet(s, pods)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(qw, "\n"), "fake_key") {
		t.Errorf("export quadlet does not name fake_key:\n%s", strings.Join(qw, "\n"))
	}
}

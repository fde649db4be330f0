package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// wants reads the `# want: ...` lines at the top of a test stack file.
func wants(t *testing.T, path, prefix string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "# "+prefix+":"); ok {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// caseFiles returns testdata entries matching pattern: files, or
// directories loaded by discovery.
func caseFiles(t *testing.T, pattern string) []string {
	matches, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(matches)
	return matches
}

func loadCase(path string) (*Stack, error) {
	opts := LoadOptions{Environ: noEnv}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		opts.WorkingDir = path
	} else {
		opts.Files = []string{path}
	}
	return Load(context.Background(), opts)
}

// wantFile is the file whose # want lines describe a case.
func wantFile(path string) string {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		for _, n := range DefaultFileNames {
			if _, err := os.Stat(filepath.Join(path, n)); err == nil {
				return filepath.Join(path, n)
			}
		}
	}
	return path
}

func TestInvalidStacks(t *testing.T) {
	cases := caseFiles(t, "invalid-*")
	if len(cases) < 25 {
		t.Fatalf("only %d invalid cases; keep at least 25", len(cases))
	}
	for _, path := range cases {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, err := loadCase(path)
			if err == nil {
				t.Fatalf("%s loaded without error", path)
			}
			if !IsInvalid(err) {
				t.Errorf("error is not an invalid-input error (exit code 2): %T %v", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, filepath.Base(wantFile(path))) && !strings.Contains(msg, filepath.Base(path)) {
				t.Errorf("error does not name the file:\n%s", msg)
			}
			ws := wants(t, wantFile(path), "want")
			if len(ws) == 0 && filepath.Base(path) != "invalid-empty.yaml" {
				t.Fatalf("%s has no '# want:' lines", path)
			}
			for _, w := range ws {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestValidStacks(t *testing.T) {
	cases := caseFiles(t, "valid-*")
	if len(cases) == 0 {
		t.Fatal("no valid cases")
	}
	for _, path := range cases {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s, err := loadCase(path)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			for _, w := range wants(t, wantFile(path), "want-services") {
				got := strings.Join(s.ServiceNames(), ", ")
				if got != w {
					t.Errorf("services %q, want %q", got, w)
				}
			}
		})
	}
}

func TestComposeConversion(t *testing.T) {
	s, err := Load(context.Background(), LoadOptions{Files: []string{"testdata/valid-full.yaml"}, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "full" || s.Format != FormatCompose {
		t.Errorf("name %q format %q", s.Name, s.Format)
	}
	if s.Options.Pods != "service" || s.Options.VolumeSize != "2Gi" {
		t.Errorf("x-podstack: %+v", s.Options)
	}
	web := s.Services["web"]
	if web.Image != "nginx:1.27" {
		t.Errorf("interpolated image %q", web.Image)
	}
	wantPorts := []Port{{Target: 80, Published: 8080, Protocol: "tcp"}, {Target: 443, Published: 8443, HostIP: "127.0.0.1", Protocol: "tcp"}}
	if !reflect.DeepEqual(web.Ports, wantPorts) {
		t.Errorf("ports %+v", web.Ports)
	}
	if !reflect.DeepEqual(web.Expose, []uint16{9000}) {
		t.Errorf("expose %v", web.Expose)
	}
	if _, ok := web.Environment["UNSET"]; ok || web.Environment["MODE"] != "prod" {
		t.Errorf("environment %v (unresolved keys must be dropped)", web.Environment)
	}
	if d := web.DependsOn["db"]; d.Condition != ConditionHealthy || !d.Required {
		t.Errorf("depends_on db %+v", d)
	}
	if d := web.DependsOn["cache"]; d.Condition != ConditionStarted || d.Required {
		t.Errorf("depends_on cache %+v", d)
	}
	if web.Restart != "on-failure:3" || web.StopGracePeriod == nil || *web.StopGracePeriod != 5*time.Second {
		t.Errorf("restart %q grace %v", web.Restart, web.StopGracePeriod)
	}
	if web.Pod != "frontend" {
		t.Errorf("x-pod %q", web.Pod)
	}
	if !reflect.DeepEqual(web.Unsupported, []string{"platform"}) {
		t.Errorf("unsupported %v, want [platform]", web.Unsupported)
	}
	if web.Logging == nil || web.Logging.Driver != "json-file" {
		t.Errorf("logging %+v", web.Logging)
	}
	if web.Source.Line != 4 || !strings.HasSuffix(web.Source.File, "valid-full.yaml") {
		t.Errorf("source %+v", web.Source)
	}

	db := s.Services["db"]
	h := db.Health
	if h == nil || !reflect.DeepEqual(h.Test, []string{"CMD-SHELL", "pg_isready -U postgres"}) ||
		h.Interval != 2*time.Second || h.Timeout != DefaultHealthTimeout || h.Retries != DefaultHealthRetries {
		t.Errorf("healthcheck %+v (unset fields must get Docker's defaults)", h)
	}
	if db.Resources.CPUs != 0.5 || db.Resources.MemoryBytes != 256<<20 || db.Resources.MemoryReservation != 128<<20 {
		t.Errorf("resources %+v", db.Resources)
	}
	if len(db.Mounts) != 3 {
		t.Fatalf("mounts %+v", db.Mounts)
	}
	if m := db.Mounts[0]; m.Type != MountVolume || m.Source != "pgdata" || m.Target != "/var/lib/postgresql/data" {
		t.Errorf("volume mount %+v", m)
	}
	if m := db.Mounts[1]; m.Type != MountBind || !filepath.IsAbs(m.Source) || !m.ReadOnly || m.SELinux != "Z" {
		t.Errorf("bind mount %+v", m)
	}
	if m := db.Mounts[2]; m.Type != MountTmpfs || m.Target != "/run" || m.TmpfsSize != 64<<20 {
		t.Errorf("tmpfs mount %+v", m)
	}
	if len(db.Secrets) != 1 || db.Secrets[0].Target != "/run/secrets/db_password" {
		t.Errorf("secrets %+v", db.Secrets)
	}
	if s.Volumes["pgdata"].Name != "full_pgdata" {
		t.Errorf("volume name %q", s.Volumes["pgdata"].Name)
	}
	if s.Services["cache"].Replicas != 2 || web.Replicas != 1 {
		t.Errorf("replicas cache %d web %d", s.Services["cache"].Replicas, web.Replicas)
	}
}

// envCase writes a stack with per-environment files into a temp dir.
func envCase(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", `name: envs
services:
  web:
    image: nginx:${TAG:-latest}
    environment:
      LEVEL: ${LEVEL:-none}
      FROM_ENV: ${FROM_ENV:-none}
      FROM_FILE: ${FROM_FILE:-none}
`)
	write("compose.prod.yaml", "services:\n  web:\n    deploy:\n      replicas: 3\n")
	write(".env", "TAG=dev\nLEVEL=dotenv\nFROM_ENV=dotenv\nFROM_FILE=dotenv\n")
	write(".env.prod", "TAG=prod\nLEVEL=dotenv-prod\nFROM_ENV=dotenv-prod\n")
	write("one.env", "LEVEL=file-one\nFROM_FILE=file-one\n")
	write("two.env", "LEVEL=file-two\n")
	return dir
}

func loadEnv(t *testing.T, dir string, opts LoadOptions) *Service {
	t.Helper()
	opts.WorkingDir = dir
	if opts.Environ == nil {
		opts.Environ = noEnv
	}
	s, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s.Services["web"]
}

func TestEnvironmentPrecedence(t *testing.T) {
	dir := envCase(t)
	t.Run("no environment: base file and .env only", func(t *testing.T) {
		web := loadEnv(t, dir, LoadOptions{})
		if web.Replicas != 1 || web.Image != "nginx:dev" || web.Environment["LEVEL"] != "dotenv" {
			t.Errorf("replicas %d image %s level %s", web.Replicas, web.Image, web.Environment["LEVEL"])
		}
	})
	t.Run("override file is merged after the base file", func(t *testing.T) {
		web := loadEnv(t, dir, LoadOptions{Environment: "prod"})
		if web.Replicas != 3 {
			t.Errorf("replicas %d, want 3 from compose.prod.yaml", web.Replicas)
		}
	})
	t.Run(".env.<env> beats .env", func(t *testing.T) {
		web := loadEnv(t, dir, LoadOptions{Environment: "prod"})
		if web.Image != "nginx:prod" || web.Environment["FROM_FILE"] != "dotenv" {
			t.Errorf("image %s, FROM_FILE %s", web.Image, web.Environment["FROM_FILE"])
		}
	})
	t.Run("--env-file beats .env.<env>", func(t *testing.T) {
		web := loadEnv(t, dir, LoadOptions{Environment: "prod", EnvFiles: []string{filepath.Join(dir, "one.env")}})
		if web.Environment["LEVEL"] != "file-one" || web.Environment["FROM_ENV"] != "dotenv-prod" {
			t.Errorf("LEVEL %s FROM_ENV %s", web.Environment["LEVEL"], web.Environment["FROM_ENV"])
		}
	})
	t.Run("a later --env-file beats an earlier one", func(t *testing.T) {
		web := loadEnv(t, dir, LoadOptions{Environment: "prod", EnvFiles: []string{filepath.Join(dir, "one.env"), filepath.Join(dir, "two.env")}})
		if web.Environment["LEVEL"] != "file-two" || web.Environment["FROM_FILE"] != "file-one" {
			t.Errorf("LEVEL %s FROM_FILE %s", web.Environment["LEVEL"], web.Environment["FROM_FILE"])
		}
	})
	t.Run("the process environment beats every file", func(t *testing.T) {
		web := loadEnv(t, dir, LoadOptions{Environment: "prod", EnvFiles: []string{filepath.Join(dir, "two.env")},
			Environ: func() []string { return []string{"LEVEL=process", "TAG=process"} }})
		if web.Environment["LEVEL"] != "process" || web.Image != "nginx:process" {
			t.Errorf("LEVEL %s image %s", web.Environment["LEVEL"], web.Image)
		}
	})
	t.Run("the environment and the files used are recorded", func(t *testing.T) {
		s, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Environment: "prod", Environ: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		if s.Environment != "prod" || len(s.Files) != 2 || !strings.HasSuffix(s.Files[1], "compose.prod.yaml") {
			t.Errorf("environment %q files %v", s.Environment, s.Files)
		}
		if len(s.EnvFiles) != 2 || !strings.HasSuffix(s.EnvFiles[1], ".env.prod") {
			t.Errorf("env files %v", s.EnvFiles)
		}
	})
	t.Run("a missing --env-file is an error naming it", func(t *testing.T) {
		_, err := Load(context.Background(), LoadOptions{WorkingDir: dir, EnvFiles: []string{"nope.env"}, Environ: noEnv})
		if err == nil || !strings.Contains(err.Error(), "nope.env") || !IsInvalid(err) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestDiscoveryAndStdin(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Environ: noEnv}); !errors.Is(err, ErrNoStackFile) {
		t.Errorf("empty dir: %v, want ErrNoStackFile", err)
	}
	os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte("services:\n  a:\n    image: x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  b:\n    image: x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "compose.override.yaml"), []byte("services:\n  c:\n    image: y\n"), 0o644)
	s, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.ServiceNames(), ","); got != "b,c" {
		t.Errorf("discovered services %s, want b,c (compose.yaml before docker-compose.yml, plus its override)", got)
	}
	s, err = Load(context.Background(), LoadOptions{Files: []string{"-"}, WorkingDir: dir, ProjectName: "piped",
		Stdin: strings.NewReader("services:\n  s:\n    image: x\n"), Environ: noEnv})
	if err != nil || s.Name != "piped" || s.Services["s"] == nil {
		t.Errorf("stdin: %v %+v", err, s)
	}
}

func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(`services:
  app: {image: x}
  debug: {image: x, profiles: [debug]}
  tools: {image: x, profiles: [tools, debug]}
`), 0o644)
	s, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.ServiceNames(), ","); got != "app" || len(s.Disabled) != 2 {
		t.Errorf("no profile: %s, disabled %d", got, len(s.Disabled))
	}
	if !reflect.DeepEqual(s.Profiles, []string{"debug", "tools"}) {
		t.Errorf("profiles %v", s.Profiles)
	}
	s, _ = Load(context.Background(), LoadOptions{WorkingDir: dir, Environ: func() []string { return []string{"COMPOSE_PROFILES=tools"} }})
	if got := strings.Join(s.ServiceNames(), ","); got != "app,tools" {
		t.Errorf("COMPOSE_PROFILES=tools: %s", got)
	}
	s, _ = Load(context.Background(), LoadOptions{WorkingDir: dir, Profiles: []string{"*"}, Environ: noEnv})
	if got := strings.Join(s.ServiceNames(), ","); got != "app,debug,tools" {
		t.Errorf("profile *: %s", got)
	}
	// A service named on the command line has its profiles enabled, as in
	// docker compose: `stack plan debug` plans debug (and what else its
	// profile enables), not "no such service".
	s, err = Load(context.Background(), LoadOptions{WorkingDir: dir, Services: []string{"debug"}, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.ServiceNames(), ","); got != "app,debug,tools" {
		t.Errorf("naming debug: %s, want app,debug,tools (profile debug enabled)", got)
	}
	s, _ = Load(context.Background(), LoadOptions{WorkingDir: dir, Services: []string{"app", "nope"}, Environ: noEnv})
	if got := strings.Join(s.ServiceNames(), ","); got != "app" {
		t.Errorf("naming app and an unknown name: %s, want app", got)
	}
}

// TestKeepVars: compose input keeps its ${VAR} expressions through loading
// (typed fields included) for Restore to put back.
func TestKeepVars(t *testing.T) {
	s, err := Load(context.Background(), LoadOptions{Files: []string{"../examples/webstack/compose.yaml"}, KeepVars: true, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	web := s.Services["web"]
	got := string(s.Placeholders.Restore([]byte(fmt.Sprintf("%s %d", web.Image, web.Ports[0].Published))))
	if got != "docker.io/library/nginx:${NGINX_TAG:-1.27} ${WEB_PORT:-8080}" {
		t.Errorf("restored %q", got)
	}
}

// TestPodmanComposeExtensionsNamed: podman-compose's x-podman service
// extensions are named as unsupported, not ignored like other x- keys.
func TestPodmanComposeExtensionsNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(path, []byte(`services:
  a:
    image: busybox
    x-podman.uidmaps: ["0:1:1"]
    x-note: mine
`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(context.Background(), LoadOptions{Files: []string{path}, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Services["a"].Unsupported; !reflect.DeepEqual(got, []string{"x-podman.uidmaps"}) {
		t.Errorf("unsupported %v, want [x-podman.uidmaps]", got)
	}
}

// TestUnreadableStackFileKeepsTheReason: a directory or an unreadable file
// given to -f says why it cannot be read, and how to fix it.
func TestUnreadableStackFileKeepsTheReason(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(context.Background(), LoadOptions{Files: []string{dir}, Environ: noEnv})
	if err == nil || !IsInvalid(err) || !strings.Contains(err.Error(), dir+": cannot read the stack file: it is a directory (fix: name the stack file in it") {
		t.Errorf("directory: %v", err)
	}
	_, err = Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "c.yaml")}, WorkingDir: dir,
		EnvFiles: []string{dir}, Environ: noEnv})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	// root reads any file, so the permission case is checked on the error
	// os.Open returns for it.
	p := readProblem("c.yaml", &os.PathError{Op: "open", Path: "c.yaml", Err: os.ErrPermission})
	if got := p.Error(); got != "c.yaml: cannot read the stack file: permission denied (fix: check the file's permissions)" {
		t.Errorf("permission: %s", got)
	}
	writeFile := filepath.Join(dir, "c.yaml")
	os.WriteFile(writeFile, []byte("services: {a: {image: x}}\n"), 0o644)
	_, err = Load(context.Background(), LoadOptions{Files: []string{writeFile}, EnvFiles: []string{dir}, Environ: noEnv})
	if err == nil || !strings.Contains(err.Error(), dir+": cannot read env file: it is a directory") {
		t.Errorf("--env-file directory: %v", err)
	}
}

// TestHealthcheckWithoutTest: a healthcheck with timings and no test is
// valid compose: the image's own test, run with these timings.
func TestHealthcheckWithoutTest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compose.yaml")
	os.WriteFile(path, []byte("services:\n  db:\n    image: postgres\n    healthcheck:\n      interval: 2s\n      retries: 5\n  plain:\n    image: x\n    healthcheck: {}\n"), 0o644)
	s, err := Load(context.Background(), LoadOptions{Files: []string{path}, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Services["db"].Health
	if !h.InheritsTest() || h.Interval != 2*time.Second || h.Retries != 5 || h.Timeout != DefaultHealthTimeout {
		t.Errorf("healthcheck %+v, want the image's test with interval 2s, retries 5, the default timeout", h)
	}
	if s.Services["plain"].Health != nil {
		t.Errorf("an empty healthcheck: %+v, want none of podstack's (the image's own applies)", s.Services["plain"].Health)
	}
}

// TestEnvironments: the environments found are exactly the names Load reads
// overrides and env files for, by the one naming rule.
func TestEnvironments(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"compose.yaml":          "services:\n  web: {image: x}\n",
		"compose.prod.yaml":     "services:\n  web: {image: y}\n",
		"compose.staging.yml":   "services:\n  web: {image: z}\n",
		"compose.override.yaml": "services:\n  web: {image: o}\n",
		"compose.a.b.yaml":      "services: {}\n",
		".env.dev":              "X=1\n",
		"other.qa.yaml":         "services: {}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Environments(context.Background(), LoadOptions{WorkingDir: dir, Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "dev,prod,staging" {
		t.Errorf("environments %v, want dev,prod,staging", got)
	}
	for _, env := range got {
		s, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Environment: env, Environ: func() []string { return nil }})
		if err != nil {
			t.Fatalf("--env %s: %v", env, err)
		}
		if env != "dev" && len(s.Files) != 3 { // compose.yaml, its override and the environment's
			t.Errorf("--env %s read %v", env, s.Files)
		}
	}
}

// TestDiscoveryInParentDirectories: as docker compose does, a stack file in
// a parent directory is found when there is none here; the project then
// lives in that file's directory (its .env, its relative paths), unless
// the working directory is given.
func TestDiscoveryInParentDirectories(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "src", "pkg")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFileT(t, filepath.Join(root, "compose.yaml"), "name: up\nservices:\n  web:\n    image: x\n    environment:\n      FROM: ${FROM:-none}\n")
	writeFileT(t, filepath.Join(root, ".env"), "FROM=root\n")
	t.Chdir(sub)
	s, err := Load(context.Background(), LoadOptions{Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if s.WorkingDir != root || len(s.Files) != 1 || s.Files[0] != filepath.Join(root, "compose.yaml") {
		t.Errorf("working dir %s, files %v: want the parent's compose.yaml and its directory", s.WorkingDir, s.Files)
	}
	if got := s.Services["web"].Environment["FROM"]; got != "root" {
		t.Errorf("FROM=%q, want root from the project directory's .env", got)
	}
	s, err = Load(context.Background(), LoadOptions{WorkingDir: sub, Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if s.WorkingDir != sub || s.Services["web"].Environment["FROM"] != "none" {
		t.Errorf("explicit working dir: got %s (FROM=%s), want %s with no .env", s.WorkingDir, s.Services["web"].Environment["FROM"], sub)
	}
}

// TestUnknownEnvironment: --env NAME with neither an override file nor
// .env.NAME is a typo until shown otherwise: an error that names the
// environments there are.
func TestUnknownEnvironment(t *testing.T) {
	dir := t.TempDir()
	writeFileT(t, filepath.Join(dir, "compose.yaml"), "services:\n  web: {image: x}\n")
	writeFileT(t, filepath.Join(dir, "compose.prod.yaml"), "services:\n  web: {image: y}\n")
	writeFileT(t, filepath.Join(dir, ".env.staging"), "X=1\n")
	_, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Environment: "prdo", Environ: noEnv})
	if err == nil || !IsInvalid(err) {
		t.Fatalf("--env prdo: err = %v, want an invalid-input error", err)
	}
	for _, want := range []string{`no environment "prdo"`, "prod, staging", "compose.prdo.yaml", ".env.prdo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	for _, env := range []string{"prod", "staging"} {
		if _, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Environment: env, Environ: noEnv}); err != nil {
			t.Errorf("--env %s: %v", env, err)
		}
	}
}

func writeFileT(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOnProjectNameEarly: the name a compose load announces before
// compose-go runs is the loaded stack's name, whichever way it is given
// (-p, COMPOSE_PROJECT_NAME, the name: key, the directory), announced
// before compose-go reads the files; a name only compose-go can work out
// (an interpolated name: key) is not announced at all, never guessed.
func TestOnProjectNameEarly(t *testing.T) {
	for _, tc := range []struct {
		name, file, flag string
		env              []string
		announced        bool
	}{
		{"directory", "services:\n  web:\n    image: nginx\n", "", nil, true},
		{"flag", "name: ignored\nservices:\n  web:\n    image: nginx\n", "from-flag", nil, true},
		{"environment", "services:\n  web:\n    image: nginx\n", "", []string{"COMPOSE_PROJECT_NAME=from-env"}, true},
		{"name key", "name: from-key\nservices:\n  web:\n    image: nginx\n", "", nil, true},
		{"interpolated name key", "name: app-${STAGE}\nservices:\n  web:\n    image: nginx\n", "", []string{"STAGE=prod"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "My_Project")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			var announced []string
			loadsBefore := 0
			defer func(f func(context.Context, types.ConfigDetails, ...func(*loader.Options)) (*types.Project, error)) {
				composeLoad = f
			}(composeLoad)
			composeLoad = func(ctx context.Context, d types.ConfigDetails, opts ...func(*loader.Options)) (*types.Project, error) {
				loadsBefore = len(announced)
				return loader.LoadWithContext(ctx, d, opts...)
			}
			s, err := Load(context.Background(), LoadOptions{WorkingDir: dir, ProjectName: tc.flag,
				Environ:       func() []string { return tc.env },
				OnProjectName: func(name string) { announced = append(announced, name) }})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.announced {
				if len(announced) != 0 {
					t.Errorf("announced %q, a guess; loaded %q", announced, s.Name)
				}
				return
			}
			if len(announced) != 1 || announced[0] != s.Name || loadsBefore != 1 {
				t.Errorf("announced %q (%d before compose-go ran), loaded %q", announced, loadsBefore, s.Name)
			}
		})
	}
}

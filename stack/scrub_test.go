package stack

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// credentialEnv holds values that must never appear in a message: a
// password, a URL with a password, and a variable only x-podstack.secret-env
// marks.
var credentialEnv = []string{"DB_PASS=S3cr3tValue-xyz", "DATABASE_URL=postgres://app:pa55w0rdpa55@db/app", "CODE=opensesame42"}

// TestNoCredentialInMessages: bad values brought in by credential
// variables give problems that show the source text (${DB_PASS}), never
// the value, whatever part of the loader reports them.
func TestNoCredentialInMessages(t *testing.T) {
	cases := map[string]string{
		"hostPort":                   "services:\n  a:\n    image: x\n    ports: ['${DB_PASS}:80']\n",
		"containerPort":              "services:\n  a:\n    image: x\n    ports: ['80:${DB_PASS}']\n",
		"expose":                     "services:\n  a:\n    image: x\n    expose: ['${DB_PASS}']\n",
		"restart":                    "services:\n  a:\n    image: x\n    restart: ${DB_PASS}\n",
		"dns":                        "services:\n  a:\n    image: x\n    dns: ${DB_PASS}\n",
		"duration":                   "services:\n  a:\n    image: x\n    healthcheck: {test: [CMD, x], interval: '${DB_PASS}'}\n",
		"cpus":                       "services:\n  a:\n    image: x\n    cpus: ${DB_PASS}\n",
		"mem_limit, a parsed prefix": "services:\n  a:\n    image: x\n    mem_limit: ${DB_PASS}\n",
		"extra_hosts":                "services:\n  a:\n    image: x\n    extra_hosts: ['h:${DB_PASS}']\n",
		"depends_on":                 "services:\n  a:\n    image: x\n    depends_on: ['${DB_PASS}']\n",
		"pull_policy":                "services:\n  a:\n    image: x\n    pull_policy: ${DB_PASS}\n",
		"volume":                     "services:\n  a:\n    image: x\n    volumes: ['${DB_PASS}']\n",
		"url":                        "services:\n  a:\n    image: x\n    restart: ${DATABASE_URL}\n",
		"kube hostPort":              "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: x\n      ports: [{containerPort: 80, hostPort: '${DB_PASS}'}]\n",
		"kube probe port":            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: c\n      image: x\n      readinessProbe: {tcpSocket: {port: '${DB_PASS}'}}\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(context.Background(), LoadOptions{Files: []string{"-"}, WorkingDir: t.TempDir(),
				Stdin: strings.NewReader(content), Environ: func() []string { return credentialEnv }})
			if err == nil || !IsInvalid(err) {
				t.Fatalf("err = %v, want a problem", err)
			}
			msg := err.Error()
			for _, secret := range []string{"S3cr3t", "pa55w0rd"} {
				if strings.Contains(msg, secret) {
					t.Errorf("the message shows a credential:\n%s", msg)
				}
			}
			if !strings.Contains(msg, "${DB_PASS}") && !strings.Contains(msg, "${DATABASE_URL}") {
				t.Errorf("the message does not show the source text:\n%s", msg)
			}
			if !regexp.MustCompile(`stdin:\d+: `).MatchString(msg) {
				t.Errorf("no file:line:\n%s", msg)
			}
		})
	}
}

// TestNoCredentialInEnvFileErrors: the env file parser quotes the line it
// cannot read; the value on it is not shown.
func TestNoCredentialInEnvFileErrors(t *testing.T) {
	for name, env := range map[string]string{
		"unterminated quote": "OK=1\nDB_PASS=\"S3cr3tValue-xyz\n",
		"a bad character":    "OK=1\nDB+PASS=S3cr3tValue-xyz\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600)
			os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services: {a: {image: x}}\n"), 0o644)
			_, err := Load(context.Background(), LoadOptions{WorkingDir: dir, Environ: noEnv})
			if err == nil || !IsInvalid(err) || strings.Contains(err.Error(), "S3cr3t") || !regexp.MustCompile(`\.env:\d+: invalid env file`).MatchString(err.Error()) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// TestScrubMarksSecretEnv: x-podstack.secret-env makes any variable a
// credential for Stack.Scrub, which planner messages pass through.
func TestScrubMarksSecretEnv(t *testing.T) {
	s, err := Load(context.Background(), LoadOptions{Files: []string{"-"}, WorkingDir: t.TempDir(),
		Stdin:   strings.NewReader("x-podstack: {secret-env: [CODE]}\nservices:\n  a:\n    image: x\n    environment: {API_TOKEN: tok-123456}\n"),
		Environ: func() []string { return credentialEnv }})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Scrub(`address "opensesame42" and "S3cr3tValue-xyz" and tok-123456`)
	if got != `address "${CODE}" and "${DB_PASS}" and <redacted>` {
		t.Errorf("Scrub: %s", got)
	}
}

// TestScrubKeepsCommonWords: scrubbing hides values, not the words a
// message is made of: the parts of a URL credential other than its
// password, and values such as "true", stay.
func TestScrubKeepsCommonWords(t *testing.T) {
	s := newScrubber(map[string]string{"DATABASE_URL": "postgres://app:pa55w0rdpa55@db/app", "FEATURE_TOKEN": "true",
		"DB_PASS": "S3cr3tValue-xyz"}, nil)
	for in, want := range map[string]string{
		`image "postgres" is not present`:                   `image "postgres" is not present`,
		`ports must be numbers, got "true"`:                 `ports must be numbers, got "true"`,
		`parsing "pa55w0r": invalid`:                        `parsing "<the password in ${DATABASE_URL}>": invalid`,
		`"postgres://app:pa55w0rdpa55@db/app" is no policy`: `"${DATABASE_URL}" is no policy`,
		`parsing "S3cr3": invalid syntax`:                   `parsing "${DB_PASS}": invalid syntax`,
	} {
		if got := s.text(in); got != want {
			t.Errorf("scrub(%s) = %s, want %s", in, got, want)
		}
	}
}

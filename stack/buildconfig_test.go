package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestBuildKeysLoad: every build key Podman's build takes reaches the
// model, with local additional contexts absolute and build secrets given
// their stack secret's file or (environment) value.
func TestBuildKeysLoad(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"compose.yaml": `services:
  app:
    build:
      context: .
      dockerfile_inline: |
        FROM base
      additional_contexts:
        base: service:lib
        img: docker-image://localhost/busybox:test
        dir: ./extra
        web: https://example.com/src.tar.gz
      ulimits: {nofile: {soft: 10, hard: 20}, nproc: 50}
      shm_size: 64m
      extra_hosts: ["h1:10.0.0.1", "h2=10.0.0.2"]
      network: none
      cache_from: [localhost/app:cache]
      tags: [localhost/app:v1]
      platforms: [linux/amd64]
      secrets: [tok, {source: file, target: renamed}]
  lib:
    build:
      context: ./lib
      network: default
secrets:
  tok: {environment: TOK}
  file: {file: ./secret.txt}
`, "secret.txt": "s3cret", "extra/x": "x", "lib/Dockerfile": "FROM busybox\n"})
	s, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml")},
		Environ: func() []string { return []string{"TOK=from-env"} }})
	if err != nil {
		t.Fatal(err)
	}
	want := &Build{Context: dir, DockerfileInline: "FROM base\n",
		AdditionalContexts: map[string]string{"base": "service:lib", "img": "docker-image://localhost/busybox:test",
			"dir": filepath.Join(dir, "extra"), "web": "https://example.com/src.tar.gz"},
		Ulimits:    map[string]Ulimit{"nofile": {Soft: 10, Hard: 20}, "nproc": {Soft: 50, Hard: 50}},
		ShmSize:    64 << 20,
		ExtraHosts: []string{"h1:10.0.0.1", "h2:10.0.0.2"},
		Network:    "none", CacheFrom: []string{"localhost/app:cache"}, Tags: []string{"localhost/app:v1"}, Platform: "linux/amd64",
		Secrets: []BuildSecret{{ID: "tok", Source: "tok", Environment: "TOK", Content: "from-env"},
			{ID: "renamed", Source: "file", File: filepath.Join(dir, "secret.txt")}},
	}
	if got := s.Services["app"].Build; !reflect.DeepEqual(got, want) {
		t.Errorf("app's build:\n got %+v\nwant %+v", got, want)
	}
	if got := s.Services["lib"].Build.Network; got != "" {
		t.Errorf("network: default loads as %q, want the default (\"\")", got)
	}
	if got := s.Services["app"].Build.ServiceContexts(); !reflect.DeepEqual(got, []string{"lib"}) {
		t.Errorf("ServiceContexts = %v, want [lib]", got)
	}
	if len(s.Warnings) != 0 || len(s.Services["app"].Unsupported) != 0 {
		t.Errorf("carried keys warn: %v %v", s.Warnings, s.Services["app"].Unsupported)
	}
}

// TestBuildKeysUnsupported: build keys Podman's build cannot honour are
// warnings naming the key with the build. prefix, the service, its line and
// why; several platforms without the service's platform: warn too.
func TestBuildKeysUnsupported(t *testing.T) {
	s, _, err := loadText(t, `services:
  app:
    image: localhost/app
    build:
      context: .
      privileged: true
      isolation: hyperv
      entitlements: [network.host]
      cache_to: [type=local,dest=/tmp/cache]
      cache_from: ["type=local,src=/tmp/cache", "type=registry,ref=localhost/app:cache"]
      ssh: [default]
      platforms: [linux/amd64, linux/arm64]
      secrets: [{source: tok, uid: "1000", mode: 0400}]
  pinned:
    build:
      context: .
      platforms: [linux/amd64, linux/arm64]
    platform: linux/arm64
secrets:
  tok: {environment: TOK}
`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range s.Warnings {
		got = append(got, fmt.Sprintf("%s:%d: service %q: %s", filepath.Base(w.File), w.Line, w.Service, w.Message))
	}
	text := strings.Join(got, "\n")
	for _, want := range []string{
		`compose.yaml:6: service "app": build.privileged (`,
		`compose.yaml:7: service "app": build.isolation (`,
		`compose.yaml:8: service "app": build.entitlements (`,
		`compose.yaml:9: service "app": build.cache_to (`,
		`compose.yaml:11: service "app": build.ssh (Podman's build API forwards no SSH agent`,
		`compose.yaml:12: service "app": build.platforms lists 2 platforms`,
		`compose.yaml:10: service "app": build.cache_from "type=local,src=/tmp/cache" is ignored`,
		`compose.yaml:13: service "app": build.secrets tok: uid, gid and mode are not carried`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no warning %q in:\n%s", want, text)
		}
	}
	if got := s.Services["app"].Build.CacheFrom; len(got) != 1 || got[0] != "localhost/app:cache" {
		t.Errorf("cache_from loads as %q, want the registry ref alone", got)
	}
	if strings.Contains(text, `"pinned": build.platforms`) {
		t.Errorf("a service whose platform: picks one of its build platforms warns:\n%s", text)
	}
	if got := s.Services["pinned"].Build.Platform; got != "linux/arm64" {
		t.Errorf("pinned builds for %q, want its platform linux/arm64", got)
	}
}

// TestBuildKeysProblems: bad build input is a load error naming the file,
// line, service, key and a fix, all reported together.
func TestBuildKeysProblems(t *testing.T) {
	_, _, err := loadText(t, `services:
  app:
    build:
      context: .
      additional_contexts:
        base: service:nope
        plain: service:db
        git: git@github.com:example/repo.git
        oci: oci-layout://./layout
      network: mynet
      ulimits: {nofile: {soft: 30, hard: 20}}
      extra_hosts: ["h:not-an-ip"]
      secrets: [missing, ext]
  db:
    image: localhost/db
secrets:
  ext: {external: true}
`)
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		`compose.yaml:6: service "app": build.additional_contexts base refers to undefined service "nope"`,
		`compose.yaml:7: service "app": build.additional_contexts plain refers to service "db", which has no build section (fix: for its image, write "docker-image://localhost/db")`,
		`compose.yaml:8: service "app": build.additional_contexts git: "git@github.com:example/repo.git": Podman builds fetch no Git repository`,
		`compose.yaml:9: service "app": build.additional_contexts oci: "oci-layout://./layout": Podman builds have no oci-layout:// contexts`,
		`compose.yaml:10: service "app": build.network "mynet"`,
		`compose.yaml:11: service "app": ulimit nofile: soft limit 30 is above the hard limit 20`,
		`compose.yaml:12: service "app": extra_hosts h: "not-an-ip" is not an IP address`,
		`compose.yaml:13: service "app": build.secrets refers to undefined secret "missing" (fix: declare it under the top-level secrets:`,
		`service "app": build.secrets: secret "ext" is external`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no problem %q in:\n%v", want, err)
		}
	}
}

// TestBuildContextCycle: service: contexts that need each other are a load
// error with the whole path, once.
func TestBuildContextCycle(t *testing.T) {
	_, _, err := loadText(t, `services:
  a:
    build:
      context: .
      additional_contexts: {base: "service:b"}
  b:
    build:
      context: .
      additional_contexts: {base: "service:c"}
  c:
    build:
      context: .
      additional_contexts: {base: "service:a"}
  d:
    build:
      context: .
      additional_contexts: {base: "service:a"}
`)
	if err == nil {
		t.Fatal("a cycle loaded")
	}
	if want := `compose.yaml:5: service "a": build context cycle: a -> b -> c -> a`; !strings.Contains(err.Error(), want) ||
		strings.Count(err.Error(), "cycle") != 1 {
		t.Errorf("want one %q, got:\n%v", want, err)
	}
}

// TestBuildDigestInputs: every carried build key, the inline Dockerfile's
// text, the content of a local additional context and the digest of a
// service: context's image change the build's digest; a secret's content
// does not (the digest is an image label).
func TestBuildDigestInputs(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"app/main.go": "x", "extra/a.txt": "a", "lib/Dockerfile": "FROM busybox\n"})
	newStack := func() *Stack {
		return &Stack{Services: map[string]*Service{
			"app": {Name: "app", Build: &Build{Context: filepath.Join(root, "app"), DockerfileInline: "FROM base\n",
				AdditionalContexts: map[string]string{"base": "service:lib", "extra": filepath.Join(root, "extra")},
				Secrets:            []BuildSecret{{ID: "tok", Source: "tok", Environment: "TOK", Content: "one"}}}},
			"lib": {Name: "lib", Build: &Build{Context: filepath.Join(root, "lib")}},
		}}
	}
	digest := func(change func(s *Stack)) string {
		s := newStack()
		if change != nil {
			change(s)
		}
		if err := s.ResolveBuildDigests(); err != nil {
			t.Fatal(err)
		}
		return s.Services["app"].Build.Digest
	}
	base := digest(nil)
	if base == "" {
		t.Fatal("no digest for an inline Dockerfile")
	}
	app := func(f func(b *Build)) func(s *Stack) { return func(s *Stack) { f(s.Services["app"].Build) } }
	changes := map[string]func(s *Stack){
		"inline Dockerfile":      app(func(b *Build) { b.DockerfileInline = "FROM base\nRUN true\n" }),
		"additional context":     app(func(b *Build) { b.AdditionalContexts["img"] = "docker-image://busybox" }),
		"ulimits":                app(func(b *Build) { b.Ulimits = map[string]Ulimit{"nofile": {Soft: 1, Hard: 2}} }),
		"shm_size":               app(func(b *Build) { b.ShmSize = 1 << 20 }),
		"extra_hosts":            app(func(b *Build) { b.ExtraHosts = []string{"h:10.0.0.1"} }),
		"network":                app(func(b *Build) { b.Network = "none" }),
		"cache_from":             app(func(b *Build) { b.CacheFrom = []string{"localhost/c"} }),
		"tags":                   app(func(b *Build) { b.Tags = []string{"localhost/t"} }),
		"platforms":              app(func(b *Build) { b.Platform = "linux/arm64" }),
		"secret id":              app(func(b *Build) { b.Secrets[0].ID = "other" }),
		"service context's file": func(*Stack) { writeTree(t, root, map[string]string{"lib/new": "n"}) },
		"local context's file":   func(*Stack) { writeTree(t, root, map[string]string{"extra/a.txt": "b"}) },
	}
	for name, change := range changes {
		if got := digest(change); got == base {
			t.Errorf("%s: the digest did not change", name)
		}
		os.Remove(filepath.Join(root, "lib/new"))
		writeTree(t, root, map[string]string{"extra/a.txt": "a"})
	}
	if got := digest(app(func(b *Build) { b.Secrets[0].Content = "two" })); got != base {
		t.Errorf("a secret's content changed the digest")
	}
	// Resolving only lib resolves app too: it is built from lib's image.
	s := newStack()
	if err := s.ResolveBuildDigests("lib"); err != nil || s.Services["app"].Build.Digest != base {
		t.Errorf("resolving lib alone: app's digest %q (err %v), want %q", s.Services["app"].Build.Digest, err, base)
	}
}

// TestServicePlatformBuilds: a service's platform: is the platform its
// build makes the image for, as docker compose builds it (with no
// build.platforms, or naming one of several), and then no warning calls it
// ignored; a service that only runs an image still hears that platform is
// not carried (Podman pulls and runs the host's).
func TestServicePlatformBuilds(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"compose.yaml": `services:
  built:
    platform: linux/arm64
    build: {context: .}
  several:
    platform: linux/arm64
    build: {context: ., platforms: [linux/amd64, linux/arm64]}
  pulled:
    platform: linux/arm64
    image: localhost/busybox:test
`, "Dockerfile": "FROM busybox\n"})
	s, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "compose.yaml")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"built", "several"} {
		svc := s.Services[name]
		if svc.Build.Platform != "linux/arm64" {
			t.Errorf("%s: build platform %q, want linux/arm64", name, svc.Build.Platform)
		}
		if slices.Contains(svc.Unsupported, "platform") {
			t.Errorf("%s: platform called unsupported: %v", name, svc.Unsupported)
		}
	}
	if !slices.Contains(s.Services["pulled"].Unsupported, "platform") {
		t.Errorf("pulled: platform not called unsupported: %v", s.Services["pulled"].Unsupported)
	}
}

package stack

import (
	"strings"
	"testing"
)

func TestCredentialRule(t *testing.T) {
	secret := map[string]string{
		// Every name the safety issue found leaking, and the usual suspects.
		"DB_PASS": "x", "DB_PASSWORD": "x", "MYSQL_ROOT_PASSWORD": "x", "SSH_KEY": "x", "JWT": "x",
		"JWT_SIGNING_SECRET": "x", "AUTH": "x", "BASIC_AUTH": "x", "GITHUB_PAT": "x", "SENTRY_DSN": "x",
		"SLACK_WEBHOOK": "x", "SLACK_WEBHOOK_URL": "https://hooks.example/T0/B0/abc", "AWS_ACCESS_KEY_ID": "AKIA",
		"AWS_SECRET_ACCESS_KEY": "x", "API_TOKEN": "x", "APIKEY": "x", "STRIPE_API_KEY": "x", "PGPASSWORD": "x",
		"GITHUBTOKEN": "x", "SESSION_COOKIE": "x", "PASSWORD_SALT": "x", "db_password": "x",
		// A URL with a password is a credential whatever its name.
		"DATABASE_URL": "postgres://u:p@h/db", "REDIS": "redis://:hunter2@cache:6379/0",
	}
	plain := map[string]string{
		"PORT": "8080", "DEBUG": "1", "NODE_ENV": "production", "PWD": "/app", "KEYCLOAK_URL": "http://kc",
		"DATABASE_URL": "postgres://db:5432/app", "USER_URL": "http://user@host/", "MONKEY": "banana",
		"MYSQL_ROOT_PASSWORD_FILE": "/run/secrets/db", "SSH_KEY_PATH": "/keys/id", "AUTHOR": "me",
		"PATH": "/usr/bin", "SPASSKY": "chess",
	}
	var s *Stack
	for k, v := range secret {
		if !s.IsCredential(k, v) {
			t.Errorf("%s=%s: not treated as a credential", k, v)
		}
	}
	for k, v := range plain {
		if s.IsCredential(k, v) {
			t.Errorf("%s=%s: treated as a credential", k, v)
		}
	}
	withLists := &Stack{Options: Extension{SecretEnv: []string{"PORT"}, PlainEnv: []string{"PUBLIC_KEY"}}}
	if !withLists.IsCredential("PORT", "1") {
		t.Error("x-podstack.secret-env does not make a variable a credential")
	}
	if withLists.IsCredential("PUBLIC_KEY", "ssh-ed25519 AAAA") {
		t.Error("x-podstack.plain-env does not exempt a variable")
	}
}

func TestCredentialValuesAndRedact(t *testing.T) {
	s := &Stack{
		Services: map[string]*Service{
			"api": {Name: "api", Environment: map[string]string{"DB_PASS": "hunter22", "PORT": "8080",
				"DSN_URL": "mysql://root:topsecret@db/app"}},
		},
		Disabled: map[string]*Service{"dbg": {Name: "dbg", Environment: map[string]string{"API_TOKEN": "tok-123456"}}},
		Secrets:  map[string]*Secret{"k": {Key: "k", Content: "inline-secret"}},
	}
	vals := s.CredentialValues()
	joined := strings.Join(vals, " ")
	for _, want := range []string{"hunter22", "mysql://root:topsecret@db/app", "tok-123456", "inline-secret"} {
		if !strings.Contains(joined, want) {
			t.Errorf("CredentialValues misses %q: %v", want, vals)
		}
	}
	if strings.Contains(joined, "8080") {
		t.Errorf("CredentialValues has a plain value: %v", vals)
	}
	msg := Redact(`invalid hostPort: "hunter22"; url mysql://root:topsecret@db/app`, vals)
	if strings.Contains(msg, "hunter22") || strings.Contains(msg, "topsecret") {
		t.Errorf("Redact left a secret: %s", msg)
	}
	if !strings.Contains(msg, Redacted) {
		t.Errorf("Redact did not mark the place: %s", msg)
	}
}

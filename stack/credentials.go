package stack

import (
	"net/url"
	"slices"
	"sort"
	"strings"
)

// The credential rule decides which environment variables hold secrets, so
// exports put them in Secrets (never ConfigMaps or unit files) and no message
// prints their values. It errs towards secrecy: a harmless value kept in a
// Secret costs nothing, a password in a ConfigMap leaks.
//
// A variable is a credential when
//   - x-podstack.secret-env lists it, or
//   - its name has a credential word as one of its _-separated parts
//     (PASS, PASSWORD, SECRET, TOKEN, KEY, JWT, AUTH, PAT, DSN, WEBHOOK, ...)
//     or contains one glued to others (MYSQLPASSWORD, GITHUBTOKEN), or
//   - its value is a URL with a password (postgres://user:pass@host/db),
//
// unless x-podstack.plain-env lists it, or its name ends in _FILE or _PATH
// (by convention those hold a path to the secret, not the secret).

// credentialParts are name parts that mark a credential on their own.
var credentialParts = map[string]bool{
	"PASS": true, "PASSWD": true, "PASSWORD": true, "PASSWORDS": true, "PASSPHRASE": true, "PWD": true,
	"SECRET": true, "SECRETS": true, "TOKEN": true, "TOKENS": true, "KEY": true, "KEYS": true, "APIKEY": true,
	"CREDENTIAL": true, "CREDENTIALS": true, "CREDS": true, "JWT": true, "AUTH": true, "PAT": true,
	"DSN": true, "WEBHOOK": true, "COOKIE": true, "SALT": true,
}

// credentialWords mark a credential wherever they appear in a name.
var credentialWords = []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "PRIVATEKEY", "CREDENTIAL", "WEBHOOK"}

// plainSuffixes name variables that point at a secret rather than hold it.
var plainSuffixes = []string{"_FILE", "_PATH"}

// IsCredentialName reports whether a variable name looks like it holds a
// credential, by the rule above (without the stack's own lists).
func IsCredentialName(name string) bool {
	up := strings.ToUpper(name)
	if up == "PWD" || up == "OLDPWD" {
		return false // the shell's working directory
	}
	for _, s := range plainSuffixes {
		if strings.HasSuffix(up, s) {
			return false
		}
	}
	for _, part := range strings.FieldsFunc(up, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if credentialParts[part] {
			return true
		}
	}
	for _, w := range credentialWords {
		if strings.Contains(up, w) {
			return true
		}
	}
	return false
}

// HasURLPassword reports whether value is a URL that carries a password
// (scheme://user:password@host...).
func HasURLPassword(value string) bool {
	if !strings.Contains(value, "://") || !strings.Contains(value, "@") {
		return false
	}
	u, err := url.Parse(strings.TrimSpace(value))
	if err != nil || u.User == nil {
		return false
	}
	p, set := u.User.Password()
	return set && p != ""
}

// IsCredential reports whether the variable name with value is a credential
// in this stack: the rule, with x-podstack.secret-env and plain-env applied.
func (s *Stack) IsCredential(name, value string) bool {
	if s != nil {
		if slices.Contains(s.Options.SecretEnv, name) {
			return true
		}
		if slices.Contains(s.Options.PlainEnv, name) {
			return false
		}
	}
	return IsCredentialName(name) || HasURLPassword(value)
}

// CredentialValues returns every value in the stack that must never be
// printed: the values of credential variables of all services, and the
// contents of its secrets (inline, from the environment, or read from their
// files). Longest first, so a redactor replaces whole values before their
// parts.
func (s *Stack) CredentialValues() []string {
	seen := map[string]bool{}
	add := func(v string) {
		if strings.TrimSpace(v) != "" {
			seen[v] = true
		}
	}
	for _, group := range []map[string]*Service{s.Services, s.Disabled} {
		for _, svc := range group {
			for k, v := range svc.Environment {
				if s.IsCredential(k, v) {
					add(v)
				}
			}
		}
	}
	for _, sec := range s.Secrets {
		if sec.External {
			continue
		}
		if data, err := sec.Data(); err == nil {
			add(strings.TrimSpace(string(data)))
			add(string(data))
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// Redacted is the stand-in printed for a credential's value.
const Redacted = "<redacted>"

// Redact replaces every occurrence of the given values in text with
// Redacted. Values shorter than 4 characters are left alone: replacing "1"
// everywhere would garble a message without hiding anything worth hiding.
func Redact(text string, values []string) string {
	for _, v := range values {
		if len(v) >= 4 {
			text = strings.ReplaceAll(text, v, Redacted)
		}
	}
	return text
}

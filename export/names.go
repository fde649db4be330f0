package export

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/podstack/podstack/stack"
)

var invalidDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsName normalizes s to a DNS-1123 label: lowercase, other characters
// become '-', trimmed, at most 63 characters. A longer name is cut and ends
// in a hash of the whole, so two long names that share a beginning stay
// apart, and the same name always gives the same label.
func dnsName(s string) string {
	orig := s
	s = invalidDNS.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-")
	if len(s) > 63 {
		sum := sha256.Sum256([]byte(orig))
		s = strings.TrimRight(s[:54], "-") + "-" + hex.EncodeToString(sum[:4])
	}
	if s == "" {
		s = "x"
	}
	return s
}

var invalidLabelValue = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func dnsLabelValue(s string) string {
	s = strings.Trim(invalidLabelValue.ReplaceAllString(s, "-"), "-_.")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-_.")
	}
	return s
}

// names hands out normalized names per kind and records collisions: two
// different originals that normalize to one name are an error naming both.
type names struct {
	byKind     map[string]map[string]string // kind -> name -> original
	collisions []string
}

func newNames() *names { return &names{byKind: map[string]map[string]string{}} }

func (n *names) get(kind, original, name string) string {
	m := n.byKind[kind]
	if m == nil {
		m = map[string]string{}
		n.byKind[kind] = m
	}
	if prev, ok := m[name]; ok && prev != original {
		n.collisions = append(n.collisions, fmt.Sprintf("%s name %q: both %q and %q normalize to it", strings.Fields(kind)[0], name, prev, original))
	}
	m[name] = original
	return name
}

func (n *names) err() error {
	if len(n.collisions) == 0 {
		return nil
	}
	sort.Strings(n.collisions)
	var ps stack.Problems
	for _, c := range n.collisions {
		ps = append(ps, stack.Problem{Message: "Kubernetes " + c, Fix: "rename one of them"})
	}
	return ps
}

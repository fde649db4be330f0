package fakeengine

import (
	"maps"
	"slices"
)

// CopyRequest is one CopyTo call: the container, the directory
// the archive was extracted under, and the archive's entries by their
// path in the container ("/app/index.html"); a directory's content is
// "<dir>".
type CopyRequest struct {
	Container string
	Dir       string
	Files     map[string]string
}

// Copies returns the CopyTo calls made so far, in order.
func (e *Engine) Copies() []CopyRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := slices.Clone(e.copies)
	for i := range out {
		out[i].Files = maps.Clone(out[i].Files)
	}
	return out
}

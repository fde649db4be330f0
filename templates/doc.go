// Package templates holds the text templates for outputs that are not API objects, such as Quadlet units.
package templates

import (
	"embed"
	"text/template"
)

//go:embed quadlet/*.tmpl
var files embed.FS

// Quadlet parses the Quadlet unit templates: pod.tmpl, container.tmpl,
// volume.tmpl and network.tmpl.
func Quadlet() (*template.Template, error) {
	return template.ParseFS(files, "quadlet/*.tmpl")
}

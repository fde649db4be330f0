package stack

import (
	"bytes"
	"errors"
	"io"

	"go.yaml.in/yaml/v3"
)

// sourceFile is one stack file's name and raw content.
type sourceFile struct {
	Name    string
	Content []byte
	// docs are Content's YAML documents up to parseErr, parsed once and
	// shared by format detection, position indexing and the Kubernetes
	// loader (a 1000-service file takes tens of milliseconds to parse).
	docs     []*yaml.Node
	parseErr error
}

func newSourceFile(name string, content []byte) sourceFile {
	f := sourceFile{Name: name, Content: content}
	dec := yaml.NewDecoder(bytes.NewReader(content))
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return f
		}
		if err != nil {
			f.parseErr = err
			return f
		}
		f.docs = append(f.docs, &node)
	}
}

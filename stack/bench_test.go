package stack

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/podstack/podstack/internal/cputime"
	"github.com/podstack/podstack/internal/stackgen"
)

func writeGenerated(b *testing.B, n int) (dir, path string) {
	dir = b.TempDir()
	path = filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, stackgen.Compose(n), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir, path
}

// BenchmarkLoad1000: stack.Load of a generated 1000-service compose file,
// everything podstack does before planning.
func BenchmarkLoad1000(b *testing.B) {
	_, path := writeGenerated(b, 1000)
	b.ReportAllocs()
	cpu := cputime.Used()
	for b.Loop() {
		s, err := Load(context.Background(), LoadOptions{Files: []string{path}, Environ: func() []string { return nil }})
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Services) != 1000 {
			b.Fatalf("%d services", len(s.Services))
		}
	}
	cputime.Report(b, cpu)
}

// BenchmarkComposeGoLoader1000: compose-go's loader alone, with the options
// podstack gives it, on the same file. The floor under BenchmarkLoad1000.
func BenchmarkComposeGoLoader1000(b *testing.B) {
	dir, path := writeGenerated(b, 1000)
	content, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := cputime.Used()
	for b.Loop() {
		p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
			WorkingDir:  dir,
			ConfigFiles: []types.ConfigFile{{Filename: path, Content: content}},
			Environment: types.Mapping{},
		}, composeOptions("big", true, nil, false, false))
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Services) != 1000 {
			b.Fatalf("%d services", len(p.Services))
		}
	}
	cputime.Report(b, cpu)
}

package stack_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/podstack/podstack/stack"
)

// Load reads a compose file, applies the environment and returns the
// normalized model.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(`name: shop
services:
  web:
    image: nginx:${TAG:-latest}
    ports: ["8080:80"]
    depends_on:
      db: {condition: service_healthy}
  db:
    image: postgres:16
    healthcheck:
      test: pg_isready
`), 0o644)

	s, err := stack.Load(context.Background(), stack.LoadOptions{
		WorkingDir: dir,
		Environ:    func() []string { return []string{"TAG=1.27"} },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	web := s.Services["web"]
	fmt.Println(s.Name, s.ServiceNames())
	fmt.Println(web.Image, web.Ports[0].Published, "->", web.Ports[0].Target)
	fmt.Println(web.DependsOn["db"].Condition, s.Services["db"].Health.Interval)
	// Output:
	// shop [db web]
	// nginx:1.27 8080 -> 80
	// service_healthy 30s
}

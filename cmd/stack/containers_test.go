package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunPublishShorthand: after `run`, -p is docker compose's --publish
// (it used to be read as the global project name), up to the service:
// the words after it are the container's command.
func TestRunPublishShorthand(t *testing.T) {
	cases := map[string]string{
		"run -p 18199:80 web":                     "run --publish 18199:80 web",
		"-p proj run -p 8080:80 --rm web":         "-p proj run --publish 8080:80 --rm web",
		"run -e A=1 -p 1:2 -p 3:4 web":            "run -e A=1 --publish 1:2 --publish 3:4 web",
		"run --name x -p=1:2 web":                 "run --name x --publish=1:2 web",
		"run web nc -l -p 80":                     "run web nc -l -p 80",
		"run --rm -T web sh -c nc -p 1":           "run --rm -T web sh -c nc -p 1",
		"run -e -p web":                           "run -e -p web",
		"--env prod run --service-ports web":      "--env prod run --service-ports web",
		"-f a.yaml run -v ./x:/x -p 1:2 web ls":   "-f a.yaml run -v ./x:/x --publish 1:2 web ls",
		"--progress plain run -u 0 -p 1:2 web -p": "--progress plain run -u 0 --publish 1:2 web -p",
		"exec -p web ls":                          "exec -p web ls",
		"logs -f web":                             "logs --follow web",
	}
	root := newRootCommand(streams{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &bytes.Buffer{}}, nil)
	for in, want := range cases {
		if got := strings.Join(followShorthand(root, strings.Fields(in)), " "); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The bare REST client is the floor stack is held to: the fewest libpod
// calls that do what `stack up -d` and `stack down` do for a shape, made
// over plain HTTP with as much concurrency as the dependencies allow, by a
// process of its own (so that, like stack and podman, it pays for starting
// one). It creates the project network and one labelled container per
// service on it; no pods, no observing, no planning. up: create every
// container at once, then start them level by level, a health-gated level
// only once the one before answers healthy. down: remove (force, with the
// grace period) level by level in reverse, then the network. noop: the one
// list call that tells a running stack needs nothing.

// restLabel marks the bare client's objects (stack's label is not used, so
// the two never see each other's containers).
const restLabel = "peerbench.project"

type rest struct {
	hc *http.Client
}

func newREST(service string) (*rest, error) {
	u, err := url.Parse(service)
	if err != nil {
		return nil, err
	}
	var dial func(ctx context.Context, _, _ string) (net.Conn, error)
	switch u.Scheme {
	case "unix":
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", u.Path)
		}
	case "tcp":
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
		}
	default:
		return nil, fmt.Errorf("service %s: only unix:// and tcp:// are supported", service)
	}
	return &rest{hc: &http.Client{Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 64}}}, nil
}

// call sends one libpod request; out, when not nil, receives the JSON answer.
func (r *rest) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://d/v4.0.0/libpod"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (r *rest) name(project string, i int) string { return fmt.Sprintf("%s-s%d", project, i) }

func (r *rest) network(project string) string { return project + "_default" }

// each runs f on every index at once and returns the first error.
func each(ids []int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for k, i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = f(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *rest) up(project string, s shape) error {
	labels := map[string]string{restLabel: project}
	if err := r.call("POST", "/networks/create", map[string]any{"name": r.network(project), "dns_enabled": true, "labels": labels}, nil); err != nil {
		return err
	}
	all := make([]int, s.N)
	for i := range all {
		all[i] = i
	}
	stop := uint(grace.Seconds())
	err := each(all, func(i int) error {
		spec := map[string]any{
			"name": r.name(project, i), "image": image, "command": s.command(), "labels": labels,
			"stop_timeout": stop, "netns": map[string]string{"nsmode": "bridge"},
			"Networks": map[string]any{r.network(project): map[string]any{"aliases": []string{fmt.Sprintf("s%d", i)}}},
		}
		if s.healthy() {
			spec["healthconfig"] = map[string]any{"Test": []string{"CMD", "true"}, "Interval": time.Second, "Timeout": 2 * time.Second}
		}
		return r.call("POST", "/containers/create", spec, nil)
	})
	if err != nil {
		return err
	}
	for _, level := range s.levels() {
		if err := each(level, func(i int) error {
			if err := r.call("POST", "/containers/"+r.name(project, i)+"/start", nil, nil); err != nil {
				return err
			}
			if s.healthy() {
				return r.waitHealthy(r.name(project, i))
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// waitHealthy runs the healthcheck at once, then once a second (its
// interval), as stack does where no systemd timer runs them.
func (r *rest) waitHealthy(name string) error {
	for try := 0; try < 60; try++ {
		var h struct{ Status string }
		// A probe that outlives its timeout is one failed try (HTTP 500
		// "exceeded timeout"), as a loaded machine makes some: probe again.
		if err := r.call("GET", "/containers/"+name+"/healthcheck", nil, &h); err != nil && !strings.Contains(err.Error(), "exceeded timeout") {
			return err
		}
		if h.Status == "healthy" {
			return nil
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("%s: not healthy after 60 probes", name)
}

func (r *rest) down(project string, s shape) error {
	levels := s.levels()
	for k := len(levels) - 1; k >= 0; k-- {
		if err := each(levels[k], func(i int) error {
			return r.call("DELETE", fmt.Sprintf("/containers/%s?force=true&timeout=%d", r.name(project, i), int(grace.Seconds())), nil, nil)
		}); err != nil {
			return err
		}
	}
	return r.call("DELETE", "/networks/"+r.network(project), nil, nil)
}

// noop is the one list call that finds the project's containers running.
func (r *rest) noop(project string, s shape) error {
	filters, _ := json.Marshal(map[string][]string{"label": {restLabel + "=" + project}})
	var list []struct{ State string }
	if err := r.call("GET", "/containers/json?all=true&filters="+url.QueryEscape(string(filters)), nil, &list); err != nil {
		return err
	}
	running := 0
	for _, c := range list {
		if c.State == "running" {
			running++
		}
	}
	if running != s.N {
		return fmt.Errorf("%d of %d containers running", running, s.N)
	}
	return nil
}

// cleanup removes whatever the bare client left of project, ignoring errors.
func (r *rest) cleanup(project string) {
	filters, _ := json.Marshal(map[string][]string{"label": {restLabel + "=" + project}})
	var list []struct{ Names []string }
	_ = r.call("GET", "/containers/json?all=true&filters="+url.QueryEscape(string(filters)), nil, &list)
	for _, c := range list {
		if len(c.Names) > 0 {
			_ = r.call("DELETE", "/containers/"+c.Names[0]+"?force=true&timeout=0", nil, nil)
		}
	}
	_ = r.call("DELETE", "/networks/"+r.network(project), nil, nil)
}

// version is the service's Podman version.
func (r *rest) version() string {
	var v struct{ Version string }
	if err := r.call("GET", "/version", nil, &v); err != nil {
		return "unknown"
	}
	return v.Version
}

// restMain is `peerbench rest [flags] up|down|noop|cleanup`.
func restMain(args []string) error {
	fs := flag.NewFlagSet("rest", flag.ContinueOnError)
	service := fs.String("url", "", "Podman service URL")
	project := fs.String("project", "", "project name")
	kind := fs.String("shape", "flat", "flat, chain or levels")
	n := fs.Int("n", 1, "services")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := newREST(*service)
	if err != nil {
		return err
	}
	s := shape{Kind: *kind, N: *n}
	switch fs.Arg(0) {
	case "up":
		return r.up(*project, s)
	case "down":
		return r.down(*project, s)
	case "noop":
		return r.noop(*project, s)
	case "cleanup":
		r.cleanup(*project)
		return nil
	}
	return fmt.Errorf("rest: unknown operation %q", fs.Arg(0))
}

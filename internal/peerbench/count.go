package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// requestCount is how many API requests a tool made for one `up`.
type requestCount struct {
	Tool       string         `json:"tool"`
	Total      int            `json:"total"`
	ByEndpoint map[string]int `json:"byEndpoint"`
}

// countRequests runs each tool's `up` of rw once through a proxy that counts
// the requests it forwards, and takes it down again directly.
func (r *runner) countRequests(rw row) ([]requestCount, error) {
	u, err := url.Parse(r.service)
	if err != nil || u.Scheme != "unix" {
		return nil, nil // the proxy speaks unix sockets only: no counts
	}
	sock := filepath.Join(r.dir, "count.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	counts := map[string]int{}
	rp := &httputil.ReverseProxy{
		Director: func(req *http.Request) { req.URL.Scheme, req.URL.Host = "http", "d" },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", u.Path)
		}},
		FlushInterval: -1,
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		counts[req.Method+" "+endpoint(req.URL.Path)]++
		mu.Unlock()
		rp.ServeHTTP(w, req)
	})}
	go srv.Serve(l)
	defer srv.Close()

	direct := r.service
	var out []requestCount
	for _, t := range tools {
		mu.Lock()
		counts = map[string]int{}
		mu.Unlock()
		r.service = "unix://" + sock
		err := r.op(t, rw, "up")
		r.service = direct
		if err != nil {
			r.cleanup(r.project(t, rw))
			return nil, err
		}
		if err := r.op(t, rw, "down"); err != nil {
			r.cleanup(r.project(t, rw))
			return nil, err
		}
		mu.Lock()
		rc := requestCount{Tool: t, ByEndpoint: counts}
		for _, n := range counts {
			rc.Total += n
		}
		mu.Unlock()
		out = append(out, rc)
		fmt.Fprintf(os.Stderr, "  count %-5s up of %d services: %d requests\n", t, rw.Shape.N, rc.Total)
	}
	return out, nil
}

var (
	apiVersion = regexp.MustCompile(`^/v[0-9.]+`)
	objectName = regexp.MustCompile(`/(containers|pods|networks|volumes|secrets|images)/[^/]+`)
)

// endpoint is a request path with its API version and object names taken
// out: /libpod/containers/{name}/start.
func endpoint(path string) string {
	p := apiVersion.ReplaceAllString(path, "")
	return objectName.ReplaceAllStringFunc(p, func(m string) string {
		kind, name, _ := strings.Cut(strings.TrimPrefix(m, "/"), "/")
		switch name {
		case "json", "create", "prune", "stats":
			return m
		}
		return "/" + kind + "/{name}"
	})
}

func writeRequests(w io.Writer, counts []requestCount, n int) {
	fmt.Fprintf(w, "| API requests for `up` of %d services | total | per service | by endpoint |\n|---|---|---|---|\n", n)
	for _, c := range counts {
		var keys []string
		for k := range c.ByEndpoint {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("`%s` %d", k, c.ByEndpoint[k]))
		}
		fmt.Fprintf(w, "| %s | %d | %.2f | %s |\n", c.Tool, c.Total, float64(c.Total)/float64(n), strings.Join(parts, ", "))
	}
}

func printRequests(w io.Writer, counts []requestCount, n int) {
	fmt.Fprintln(w)
	writeRequests(w, counts, n)
}

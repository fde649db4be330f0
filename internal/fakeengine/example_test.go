package fakeengine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/podstack/podstack/internal/fakeengine"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// An up on the fake, then what Observe sees, and a second up that fails
// where a test injected a failure.
func Example() {
	ctx := context.Background()
	s, err := stack.Load(ctx, stack.LoadOptions{Files: []string{"-"}, Environ: func() []string { return nil },
		Stdin: strings.NewReader(`name: demo
services:
  db:
    image: postgres:16
    healthcheck: {test: ["CMD", "pg_isready"], interval: 5s}
  api:
    image: demo/api:1
    depends_on: {db: {condition: service_healthy}}
`)})
	if err != nil {
		panic(err)
	}
	e := fakeengine.New()
	e.AddImages("postgres:16")
	e.Script("demo-db-1", fakeengine.Script{Health: []string{"starting", "starting", "healthy"}})
	// The executor sleeps between probes; a test does not wait for real.
	ready := func(time.Duration) <-chan time.Time {
		ch := make(chan time.Time, 1)
		ch <- time.Now()
		return ch
	}
	exec := planner.ExecOptions{Sleep: ready}

	if _, err := planner.Up(ctx, e, s, planner.Options{}, planner.UpOptions{}, exec, nil); err != nil {
		panic(err)
	}
	o, _ := e.Observe(ctx, "demo", nil)
	for _, c := range o.Containers {
		fmt.Println(strings.TrimSpace(c.Name + " " + c.State + " " + c.Health))
	}
	fmt.Println("probes of db:", e.Probes("demo-db-1"), "pulls:", e.Called("PullImage", ""))

	e.Fail("StartContainer", "demo-api-1", errors.New("boom"))
	_, err = planner.Up(ctx, e, s, planner.Options{ForceRecreate: true, Services: []string{"api"}, NoDeps: true}, planner.UpOptions{}, exec, nil)
	fmt.Println(err)
	// Output:
	// demo-api-1 running
	// demo-db-1 running healthy
	// probes of db: 3 pulls: 1
	// StartContainer demo-api-1 (service api): start container demo-api-1: boom
}

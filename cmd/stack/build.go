package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/podstack/podstack/ops"
)

func newBuildCommand(g *globalOptions) *cobra.Command {
	var (
		o         ops.BuildOptions
		buildArgs []string
		quiet     bool
	)
	cmd := &cobra.Command{
		Use:   "build [SERVICE...]",
		Short: "Build the services' images from their build sections",
		Long: `Build the images of the services that have a build section (all of them, or
the ones named), at once, each build's output shown as it comes.

Each image is labelled with a digest of what its build reads: the Dockerfile,
every file of the context that .containerignore or .dockerignore leaves in,
and the build's args and target. up compares it with the stack's, so it
rebuilds an image whose inputs changed, and recreates the containers made
from an image that was rebuilt since (by up or by build).`,
		Example: `  stack build
  stack build web --no-cache
  stack build --build-arg VERSION=1.2 --pull
  stack build api --with-dependencies`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			o.Build.Services = args
			o.Build.Args = buildArgValues(buildArgs, g.getenv)
			if quiet {
				g.progress = "quiet"
			}
			return g.withProgress(p, func() error {
				_, err := p.Build(ctx, o)
				return err
			})
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&o.Build.NoCache, "no-cache", false, "build without the layer cache")
	f.BoolVar(&o.Build.Pull, "pull", false, "pull the base images first, even when present")
	f.StringArrayVar(&buildArgs, "build-arg", nil, "set a build arg (KEY=VALUE, or KEY to take it from the environment); repeatable")
	f.BoolVar(&o.Build.WithDependencies, "with-dependencies", false, "also build the images of the services they depend on")
	f.BoolVarP(&quiet, "quiet", "q", false, "show nothing but failures (a failed build's output included)")
	f.IntVar(&o.Exec.Parallel, "parallel", 0, "how many builds may run at once (0: no limit)")
	return cmd
}

// buildArgValues turns --build-arg flags into a map: KEY=VALUE as given,
// a bare KEY from the environment (left out when unset, as docker does).
func buildArgValues(flags []string, getenv func(string) string) map[string]string {
	if len(flags) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, kv := range flags {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		} else if v := getenv(kv); v != "" {
			out[kv] = v
		}
	}
	return out
}

func newPullCommand(g *globalOptions) *cobra.Command {
	var (
		o     ops.PullOptions
		quiet bool
	)
	cmd := &cobra.Command{
		Use:   "pull [SERVICE...]",
		Short: "Pull the services' images",
		Long: `Pull the images of the services (all, or the ones named), all at once, with
Podman's progress. A service built from a build section with no image: name
has nothing to pull; one with both may fail to pull (it can be built), which
is a warning. Without --ignore-pull-failures, an image that cannot be pulled
fails the command once the pulls already running have finished.`,
		Example: `  stack pull
  stack pull db --quiet
  stack pull --ignore-pull-failures
  stack pull --policy missing`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			if err := oneOf("policy", o.Pull.Policy, "always", "missing"); err != nil {
				return err
			}
			o.Pull.Services = args
			if quiet {
				g.progress, p.Status = "quiet", nil
			}
			return g.withProgress(p, func() error { return p.Pull(ctx, o) })
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "show nothing but failures")
	f.BoolVar(&o.Pull.IgnoreFailures, "ignore-pull-failures", false, "warn about an image that cannot be pulled and go on")
	f.BoolVar(&o.Pull.IgnoreBuildable, "ignore-buildable", false, "leave out the services that have a build section")
	f.BoolVar(&o.Pull.IncludeDeps, "include-deps", false, "also pull the images of the services they depend on")
	f.StringVar(&o.Pull.Policy, "policy", "always", "always: pull every image; missing: only those not present")
	f.IntVar(&o.Exec.Parallel, "parallel", 0, "how many pulls may run at once (0: no limit)")
	return cmd
}

func newPushCommand(g *globalOptions) *cobra.Command {
	var (
		o     ops.PushOptions
		quiet bool
	)
	cmd := &cobra.Command{
		Use:   "push [SERVICE...]",
		Short: "Push the images the stack builds to their registries",
		Long: `Push the image of every service that has both a build section and an image:
name (the registry and repository to push to), as docker compose does.`,
		Example: `  stack build && stack push
  stack push web --ignore-push-failures`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			o.Push.Services = args
			if quiet {
				g.progress = "quiet"
			}
			return g.withProgress(p, func() error { return p.Push(ctx, o) })
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "show nothing but failures")
	f.BoolVar(&o.Push.IgnoreFailures, "ignore-push-failures", false, "warn about an image that cannot be pushed and go on")
	f.BoolVar(&o.Push.IncludeDeps, "include-deps", false, "also push the images of the services they depend on")
	f.IntVar(&o.Exec.Parallel, "parallel", 0, "how many pushes may run at once (0: no limit)")
	return cmd
}

func newImagesCommand(g *globalOptions) *cobra.Command {
	var (
		format string
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:   "images [SERVICE...]",
		Short: "List the images the services' containers run, with ID and size",
		Long: `List the image each of the services' containers was made from: its repository,
tag, platform, ID, size and age. A container made from an image that has
been rebuilt since shows the old image's ID (and <none> when it has lost its
name): up recreates it. --format json has docker compose's keys.`,
		Example: `  stack images
  stack images --format json
  stack images -q`,
		RunE: g.withProject(func(ctx context.Context, p *ops.Project, args []string) error {
			rows, err := p.Images(ctx, args)
			if err != nil {
				return err
			}
			if quiet {
				seen := map[string]bool{}
				for _, r := range rows {
					if !seen[r.ID] {
						seen[r.ID] = true
						fmt.Fprintln(g.streams.out, r.ID)
					}
				}
				return nil
			}
			now := time.Now()
			return writeRows(g, format, rows, []string{"CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE", "CREATED"},
				func(r ops.Image) []string {
					created := "N/A"
					if r.Created != nil {
						created = units.HumanDuration(now.Sub(*r.Created)) + " ago"
					}
					return []string{r.ContainerName, r.Repository, r.Tag, r.Platform, shortImageID(r.ID),
						units.HumanSizeWithPrecision(float64(r.Size), 3), created}
				})
		}),
	}
	cmd.Flags().StringVar(&format, "format", "table", "table, json, or a Go template")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image IDs")
	return cmd
}

func shortImageID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

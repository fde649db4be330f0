package main

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/podstack/podstack/internal/version"
	"github.com/podstack/podstack/podmanapi"
)

type versionReport struct {
	Client clientVersion  `json:"client"`
	Server *serverVersion `json:"server,omitempty"`
}

type clientVersion struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

type serverVersion struct {
	Version    string `json:"version"`
	APIVersion string `json:"apiVersion"`
	OS         string `json:"os,omitempty"`
	Arch       string `json:"arch,omitempty"`
	URL        string `json:"url"`
}

func newVersionCommand(g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the client version and the Podman service's version",
		Long: `Show stack's version and, when a Podman service answers, the service's
version, API version and URL. It exits 1 (after printing the client part) when no
service answers; it never starts a temporary one.`,
		Example: `  stack version
  stack version --format json --url unix:///run/podman/podman.sock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := oneOf("format", format, "text", "json"); err != nil {
				return err
			}
			rep := versionReport{Client: clientVersion{
				Version: version.Version, Commit: version.Commit,
				GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
			}}
			var connErr error
			c, err := podmanapi.Connect(cmd.Context(), podmanapi.ConnectOptions{URL: g.url, Stderr: g.streams.err, Getenv: g.getenv, NoEmbedded: true})
			if err != nil {
				connErr = err
			} else {
				defer c.Close()
				info, err := c.Version(cmd.Context())
				if err != nil {
					connErr = err
				} else {
					rep.Server = &serverVersion{Version: info.Version, APIVersion: info.APIVersion, OS: info.OS, Arch: info.Arch, URL: info.URL}
				}
			}
			if format == "json" {
				enc := json.NewEncoder(g.streams.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				w := g.streams.out
				fmt.Fprintf(w, "Client:\n Version:     %s\n", rep.Client.Version)
				if rep.Client.Commit != "" {
					fmt.Fprintf(w, " Commit:      %s\n", rep.Client.Commit)
				}
				fmt.Fprintf(w, " Go version:  %s\n OS/Arch:     %s/%s\n", rep.Client.GoVersion, rep.Client.OS, rep.Client.Arch)
				if s := rep.Server; s != nil {
					fmt.Fprintf(w, "Server: Podman\n Version:     %s\n API version: %s\n", s.Version, s.APIVersion)
					if s.OS != "" {
						fmt.Fprintf(w, " OS/Arch:     %s/%s\n", s.OS, s.Arch)
					}
					fmt.Fprintf(w, " URL:         %s\n", s.URL)
				}
			}
			if connErr != nil {
				return fmt.Errorf("cannot reach the Podman service: %w", connErr)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

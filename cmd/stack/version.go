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
	// Capabilities are what stack adapts to: version, rootless, cgroups.
	Capabilities *podmanapi.Capabilities `json:"capabilities,omitempty"`
}

func newVersionCommand(g *globalOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the client version and the Podman service's version",
		Long: `Show stack's version and the Podman service's: its version, API version, URL
and mode (rootful or rootless, cgroup version, network backend), which is
what stack adapts to. The service is found as every command finds it: when
none answers and Podman is installed, a temporary one is started for the
command (and stack says so). It exits 1, after printing the client part, when
no service can be reached.`,
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
			c, err := g.connect(cmd.Context())
			if err != nil {
				connErr = err
			} else {
				defer c.Close()
				info, err := c.Version(cmd.Context())
				if err != nil {
					connErr = err
				} else {
					rep.Server = &serverVersion{Version: info.Version, APIVersion: info.APIVersion, OS: info.OS, Arch: info.Arch, URL: info.URL}
					if k, err := c.Capabilities(cmd.Context()); err == nil {
						rep.Server.Capabilities = &k
					} else {
						connErr = err
					}
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
					if k := s.Capabilities; k != nil {
						mode := "rootful"
						if k.Rootless {
							mode = "rootless"
						}
						fmt.Fprintf(w, " Mode:        %s, cgroup v%d, %s\n", mode, k.CgroupVersion, k.NetworkBackend)
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

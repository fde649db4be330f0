package stack

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/format"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/mattn/go-shellwords"
)

// ParsePorts reads a `run -p` value in compose's short port syntax
// ("8080:80", "127.0.0.1:8080:80/udp", "80"), the way compose-go reads a
// service's ports.
func ParsePorts(spec string) ([]Port, error) {
	cfgs, err := types.ParsePortConfig(spec)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", spec, err)
	}
	var out []Port
	for _, c := range cfgs {
		pub, err := parsePublished(c.Published)
		if err != nil {
			return nil, fmt.Errorf("port %q: published port %q: %w", spec, c.Published, err)
		}
		if c.Target == 0 || c.Target > 65535 {
			return nil, fmt.Errorf("port %q: invalid container port %d", spec, c.Target)
		}
		proto := c.Protocol
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, Port{Target: uint16(c.Target), Published: pub, Ephemeral: pub == 0, HostIP: c.HostIP, Protocol: proto})
	}
	return out, nil
}

// ParseMount reads a `run -v` value in compose's short volume syntax
// ("data:/var/lib/data", "./src:/app:ro", "/cache"). A relative host path
// is taken from dir (the stack's directory, as in the file); a name is the
// stack's volume of that key when it declares one, else a Podman volume of
// that name.
func ParseMount(spec, dir string) (Mount, error) {
	v, err := format.ParseVolume(spec)
	if err != nil {
		return Mount{}, fmt.Errorf("volume %q: %w", spec, err)
	}
	if v.Target == "" || !strings.HasPrefix(v.Target, "/") {
		return Mount{}, fmt.Errorf("volume %q: the path in the container must be absolute", spec)
	}
	m := Mount{Type: MountType(v.Type), Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly}
	switch v.Type {
	case types.VolumeTypeBind:
		if v.Bind != nil {
			m.SELinux = v.Bind.SELinux
		}
		if strings.HasPrefix(m.Source, "~") {
			return Mount{}, fmt.Errorf("volume %q: write the home directory out (the shell expands ~ only at the start of a word)", spec)
		}
		if !filepath.IsAbs(m.Source) {
			m.Source = filepath.Join(dir, m.Source)
		}
	case types.VolumeTypeVolume:
	default:
		return Mount{}, fmt.Errorf("volume %q: type %s is not supported here", spec, v.Type)
	}
	return m, nil
}

// SplitCommand splits a command line as a POSIX shell would (`run
// --entrypoint "sh -c"`), without expanding anything.
func SplitCommand(line string) ([]string, error) {
	words, err := shellwords.Parse(line)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", line, err)
	}
	return words, nil
}

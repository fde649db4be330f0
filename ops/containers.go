package ops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/podstack/podstack/internal/tarcopy"
	"github.com/podstack/podstack/planner"
	"github.com/podstack/podstack/stack"
)

// Create creates the services' containers (and what they need) without
// starting them: `stack create`, docker compose's create.
func (p *Project) Create(ctx context.Context, o UpOptions) (*planner.Plan, error) {
	o.Plan.NoStart = true
	return p.Up(ctx, o)
}

// ScaleOptions are `stack scale SERVICE=N...`.
type ScaleOptions struct {
	// Replicas is the number of containers each named service runs.
	Replicas map[string]int
	// NoDeps leaves the services' dependencies alone.
	NoDeps bool
	Exec   planner.ExecOptions
}

// Scale runs the named services with that many replicas, as docker compose
// scale: new replicas are created and started (health-gated after their
// dependencies), surplus ones stopped and removed; other services are
// left alone. Like `up --scale`, it lasts until the next up without it.
func (p *Project) Scale(ctx context.Context, o ScaleOptions) (*planner.Plan, error) {
	if err := p.needStack("scale"); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(o.Replicas))
	for name := range o.Replicas {
		names = append(names, name)
	}
	sort.Strings(names)
	if err := p.CheckServices(names); err != nil {
		return nil, err
	}
	return p.Up(ctx, UpOptions{Plan: planner.Options{Services: names, Scale: o.Replicas, NoDeps: o.NoDeps}, Exec: o.Exec})
}

// AttachRequest is `stack attach SERVICE`: the terminal joined to a
// running replica's standard streams.
type AttachRequest struct {
	Service string
	// Index is the replica (0 means 1).
	Index int
	// NoStdin forwards nothing; SigProxy passes an interrupt (Ctrl-C) on
	// to the container as SIGINT.
	NoStdin, SigProxy bool
	// DetachKeys end the attach and leave the container running.
	DetachKeys     string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// AttachService attaches to a running replica of a service until it exits
// (returning its exit code), the detach keys are typed (0) or ctx ends.
func (p *Project) AttachService(ctx context.Context, r AttachRequest) (int, error) {
	if err := p.CheckServices([]string{r.Service}); err != nil {
		return -1, err
	}
	running, err := p.Containers(ctx, []string{r.Service}, "running")
	if err != nil {
		return -1, err
	}
	name, err := replica(running, r.Service, r.Index)
	if err != nil {
		return -1, err
	}
	o := AttachIO{Stdout: r.Stdout, Stderr: r.Stderr, DetachKeys: r.DetachKeys}
	if !r.NoStdin {
		o.Stdin = r.Stdin
	}
	detached, err := p.Engine.AttachContainer(ctx, name, o)
	if err != nil {
		return -1, err
	}
	if ctx.Err() != nil {
		if r.SigProxy {
			if err := p.Engine.Kill(context.WithoutCancel(ctx), name, "SIGINT"); err != nil {
				p.say("passing the interrupt on to %s: %v", p.Short(name), err)
			}
		}
		return -1, ctx.Err()
	}
	if detached {
		p.say("Detached from %s (it goes on running)", p.Short(name))
		return 0, nil
	}
	o2, err := p.Engine.Observe(ctx, p.Name, nil)
	if err != nil {
		return -1, err
	}
	for _, c := range o2.Containers {
		if c.Name == name && c.State != "running" {
			return c.ExitCode, nil
		}
	}
	return 0, nil
}

// CopyRequest is `stack cp`: Src and Dst are each a host path, "-" (a tar
// archive on stdin or stdout) or SERVICE:PATH, and exactly one is a
// service's. docker cp's rules name what is written: a file or directory
// goes into an existing directory under its own name, or becomes the
// destination when that does not exist; SRC/. copies a directory's
// contents.
type CopyRequest struct {
	Src, Dst string
	// Index is the replica; 0 copies into every replica, or from the
	// first.
	Index int
	// Archive keeps the files' owners (uid and gid); else files copied in
	// belong to the container's user and files copied out to ours.
	Archive bool
	// FollowLink copies what a host source symlink points to.
	FollowLink bool
	Stdin      io.Reader
	Stdout     io.Writer
}

// SplitCopyPath reads a cp argument as docker cp does: SERVICE:PATH, unless
// it starts with / or . or has no colon before its first slash (a host
// path with a colon is written ./a:b).
func SplitCopyPath(arg string) (service, path string, ok bool) {
	if arg == "-" || strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg, false
	}
	svc, p, found := strings.Cut(arg, ":")
	if !found || strings.Contains(svc, "/") || svc == "" {
		return "", arg, false
	}
	return svc, p, true
}

// Copy copies files between the host and a service's containers through
// the engine's archive API; the containers may be running or stopped.
// Copying into several replicas goes on past a failure and reports all.
func (p *Project) Copy(ctx context.Context, r CopyRequest) error {
	srcSvc, srcPath, fromSvc := SplitCopyPath(r.Src)
	dstSvc, dstPath, toSvc := SplitCopyPath(r.Dst)
	switch {
	case fromSvc && toSvc:
		return fmt.Errorf("%w: copying between services is not supported: copy to the host, then on", stack.ErrInvalid)
	case !fromSvc && !toSvc:
		return fmt.Errorf("%w: one of %q and %q must be SERVICE:PATH (write a host path with a colon as ./%s)", stack.ErrInvalid, r.Src, r.Dst, r.Src)
	case fromSvc && srcPath == "", toSvc && dstPath == "":
		return fmt.Errorf("%w: no path after the service name: SERVICE:PATH", stack.ErrInvalid)
	}
	svc := srcSvc
	if toSvc {
		svc = dstSvc
	}
	if err := p.CheckServices([]string{svc}); err != nil {
		return err
	}
	all, err := p.Containers(ctx, []string{svc})
	if err != nil {
		return err
	}
	targets := all
	if r.Index > 0 || fromSvc {
		name, err := replica(all, svc, r.Index)
		if err != nil {
			return err
		}
		targets = []planner.ObservedContainer{{Name: name}}
	}
	if fromSvc {
		return p.copyOut(ctx, targets[0].Name, srcPath, dstPath, r)
	}
	return p.copyIn(ctx, Names(targets), srcPath, dstPath, r)
}

// contentsOf says whether a source path asks for a directory's contents
// (DIR/.) rather than the directory.
func contentsOf(p string) bool {
	return p == "." || strings.HasSuffix(p, "/.")
}

// copyOut copies src in container to the host path dst ("-": a tar
// archive on stdout).
func (p *Project) copyOut(ctx context.Context, container, src, dst string, r CopyRequest) error {
	info, found, err := p.Engine.StatPath(ctx, container, src)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%s: no such file or directory in %s", src, p.Short(container))
	}
	// The archive of the cleaned path has the directory as its top entry
	// (Podman gives DIR/. without one); DIR/. strips it below.
	from := path.Clean(src)
	if info.LinkTarget != "" {
		from = path.Clean(info.LinkTarget)
	}
	if dst == "-" {
		return p.Engine.CopyFrom(ctx, container, from, r.Stdout)
	}
	un := tarcopy.UnpackOptions{KeepOwner: r.Archive}
	var dir string
	st, err := os.Stat(dst)
	switch {
	case err == nil && st.IsDir():
		dir, un.Strip = dst, info.IsDir && contentsOf(src)
	case err == nil:
		if info.IsDir {
			return fmt.Errorf("cannot copy directory %s onto the file %s", src, dst)
		}
		dir, un.Rename = filepath.Dir(dst), filepath.Base(dst)
	case errors.Is(err, fs.ErrNotExist):
		if strings.HasSuffix(dst, string(filepath.Separator)) && !info.IsDir {
			return fmt.Errorf("%s: no such directory", dst)
		}
		clean := filepath.Clean(dst)
		dir, un.Rename = filepath.Dir(clean), filepath.Base(clean)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("%s: no such directory (the parent of %s)", dir, dst)
		}
	default:
		return err
	}
	pr, pw := io.Pipe()
	got := make(chan error, 1)
	go func() {
		err := p.Engine.CopyFrom(ctx, container, from, pw)
		pw.CloseWithError(err)
		got <- err
	}()
	err = tarcopy.Unpack(pr, dir, un)
	if err == nil {
		_, _ = io.Copy(io.Discard, pr) // the archive's padding after its end
	}
	pr.CloseWithError(errCopyStopped)
	if ferr := <-got; ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("copy %s from %s to %s: %w", src, p.Short(container), dst, err)
	}
	return nil
}

// copyIn copies the host path src ("-": a tar archive on stdin) to dst in
// each container.
func (p *Project) copyIn(ctx context.Context, containers []string, src, dst string, r CopyRequest) error {
	var archive []byte
	var srcInfo fs.FileInfo
	if src == "-" {
		// Read once, for every replica; an archive on stdin is what docker
		// cp takes too.
		data, err := io.ReadAll(r.Stdin)
		if err != nil {
			return fmt.Errorf("read the archive on stdin: %w", err)
		}
		archive = data
	} else {
		stat := os.Lstat
		if r.FollowLink {
			stat = os.Stat
		}
		var err error
		if srcInfo, err = stat(src); err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
	}
	var errs []error
	for _, c := range containers {
		if err := p.copyInto(ctx, c, src, srcInfo, archive, dst, r); err != nil {
			errs = append(errs, fmt.Errorf("copy %s to %s:%s: %w", src, p.Short(c), dst, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Project) copyInto(ctx context.Context, container, src string, srcInfo fs.FileInfo, archive []byte, dst string, r CopyRequest) error {
	info, found, err := p.Engine.StatPath(ctx, container, dst)
	if err != nil {
		return err
	}
	pack := tarcopy.PackOptions{FollowLink: r.FollowLink, KeepOwner: r.Archive}
	var dir string
	switch {
	case archive != nil && (!found || !info.IsDir):
		return fmt.Errorf("%s is no directory in the container: an archive on stdin is unpacked into one", dst)
	case found && info.IsDir:
		dir, pack.Contents = dst, srcInfo != nil && srcInfo.IsDir() && contentsOf(src)
		if info.LinkTarget != "" {
			dir = info.LinkTarget
		}
	case found:
		if srcInfo.IsDir() {
			return fmt.Errorf("cannot copy directory %s onto the file %s", src, dst)
		}
		target := dst
		if info.LinkTarget != "" {
			target = info.LinkTarget
		}
		dir, pack.Name = path.Dir(target), path.Base(target)
	default:
		if strings.HasSuffix(dst, "/") && !srcInfo.IsDir() {
			return fmt.Errorf("no such directory in the container")
		}
		clean := path.Clean(dst)
		dir, pack.Name = path.Dir(clean), path.Base(clean)
		if pi, found, err := p.Engine.StatPath(ctx, container, dir); err != nil {
			return err
		} else if !found || !pi.IsDir {
			return fmt.Errorf("%s: no such directory in the container", dir)
		}
	}
	if archive != nil {
		return p.Engine.CopyTo(ctx, container, dir, bytes.NewReader(archive), !r.Archive)
	}
	pr, pw := io.Pipe()
	packed := make(chan error, 1)
	go func() {
		err := tarcopy.Pack(src, pack, pw)
		pw.CloseWithError(err)
		packed <- err
	}()
	err = p.Engine.CopyTo(ctx, container, dir, pr, !r.Archive)
	pr.CloseWithError(errCopyStopped)
	if perr := <-packed; perr != nil && !errors.Is(perr, errCopyStopped) {
		return perr // the cause of the engine's failure to read
	}
	return err
}

// errCopyStopped ends the packing of a copy the engine gave up on.
var errCopyStopped = errors.New("copy stopped")

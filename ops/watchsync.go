package ops

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/podstack/podstack/stack"
)

// watchRule is a develop.watch rule of a service, ready to match paths.
type watchRule struct {
	stack.WatchRule
	service string
	// ignore holds the rule's ignore patterns (relative to Path); include
	// its include patterns, nil when it has none.
	ignore, include *patternmatcher.PatternMatcher
	// dockerignore holds the build context's .dockerignore patterns
	// (relative to context), as compose applies them to every rule.
	dockerignore *patternmatcher.PatternMatcher
	context      string
	// buildFiles are the names an initial sync leaves out: the Dockerfile
	// and stack files.
	buildFiles []string
}

// watchRules gathers the rules of the services (all with none named). A
// sync rule whose path a bind mount already shares is left out with a
// warning, as compose does: the container sees those files already.
func (p *Project) watchRules(services []string) ([]*watchRule, error) {
	names := services
	if len(names) == 0 {
		names = p.Stack.ServiceNames()
	}
	var rules []*watchRule
	var problems stack.Problems
	for _, name := range names {
		svc := p.Stack.Services[name]
		if svc == nil || svc.Develop == nil {
			continue
		}
		for _, wr := range svc.Develop.Watch {
			if wr.Action.Syncs() && boundPath(svc, wr.Path) {
				p.say("WARN service %q: %s is bind-mounted into the container already: not watched", name, p.rel(wr.Path))
				continue
			}
			r, err := newWatchRule(svc, wr)
			if err != nil {
				problems = append(problems, stack.Problem{Position: svc.Source, Service: name, Message: err.Error(),
					Fix: "write .dockerignore-style patterns"})
				continue
			}
			rules = append(rules, r)
		}
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		what := "the stack's services"
		if len(services) > 0 {
			what = strings.Join(services, ", ")
		}
		return nil, stack.Problems{{Message: fmt.Sprintf("%v (%s)", ErrNothingToWatch, what),
			Fix: "add develop: {watch: [{path: ./src, action: sync, target: /app}]} to a service"}}
	}
	return rules, nil
}

// boundPath says whether host path p is inside a bind mount of svc.
func boundPath(svc *stack.Service, p string) bool {
	for _, m := range svc.Mounts {
		if m.Type == stack.MountBind && m.Source != "" && under(m.Source, p) {
			return true
		}
	}
	return false
}

// under says whether p is dir or inside it.
func under(dir, p string) bool {
	r, err := filepath.Rel(dir, p)
	return err == nil && r != ".." && !strings.HasPrefix(r, "../")
}

func newWatchRule(svc *stack.Service, wr stack.WatchRule) (*watchRule, error) {
	r := &watchRule{WatchRule: wr, service: svc.Name}
	var err error
	if r.ignore, err = patternmatcher.New(wr.Ignore); err != nil {
		return nil, fmt.Errorf("develop.watch %s: ignore: %w", wr.Path, err)
	}
	if len(wr.Include) > 0 {
		if r.include, err = patternmatcher.New(wr.Include); err != nil {
			return nil, fmt.Errorf("develop.watch %s: include: %w", wr.Path, err)
		}
	}
	r.buildFiles = append([]string{"Dockerfile"}, stack.DefaultFileNames...)
	if b := svc.Build; b != nil {
		r.context = b.Context
		if b.Dockerfile != "" {
			r.buildFiles = append(r.buildFiles, filepath.Base(b.Dockerfile))
		}
		patterns, err := dockerignore(b)
		if err != nil {
			return nil, err
		}
		if r.dockerignore, err = patternmatcher.New(patterns); err != nil {
			return nil, fmt.Errorf(".dockerignore of %s: %w", b.Context, err)
		}
	}
	return r, nil
}

// dockerignore reads the build's ignore file: <Dockerfile>.dockerignore
// beside the Dockerfile when there is one, else .dockerignore in the
// context.
func dockerignore(b *stack.Build) ([]string, error) {
	var candidates []string
	if b.Dockerfile != "" {
		df := b.Dockerfile
		if !filepath.IsAbs(df) {
			df = filepath.Join(b.Context, df)
		}
		candidates = append(candidates, df+".dockerignore")
	}
	candidates = append(candidates, filepath.Join(b.Context, ".dockerignore"))
	for _, c := range candidates {
		f, err := os.Open(c)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		patterns, err := ignorefile.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", c, err)
		}
		return patterns, nil
	}
	return nil, nil
}

// ephemeral are editors' temporary and backup files (compose ignores the
// same): their changes are never synced.
var ephemeral = []string{"*___jb_old___", "*___jb_tmp___", ".#*", "4913", "*~", ".*.swp", ".*.swx", ".*.swo", ".*.swn"}

// ignored says whether host path p, under the rule's path, is left alone:
// a .git or .idea directory, an editor's temporary file, or a match of the
// rule's ignore patterns or the build's .dockerignore.
func (r *watchRule) ignored(p string) bool {
	rel, err := filepath.Rel(r.Path, p)
	if err != nil {
		return true
	}
	rel = filepath.ToSlash(rel)
	for _, part := range strings.Split(rel, "/") {
		if part == ".git" || part == ".idea" {
			return true
		}
	}
	base := filepath.Base(p)
	for _, e := range ephemeral {
		if ok, _ := path.Match(e, base); ok {
			return true
		}
	}
	if rel != "." {
		if ok, _ := r.ignore.MatchesOrParentMatches(rel); ok {
			return true
		}
		if r.include != nil {
			if ok, _ := r.include.MatchesOrParentMatches(rel); !ok {
				return true
			}
		}
	}
	if r.dockerignore != nil && under(r.context, p) {
		if crel, err := filepath.Rel(r.context, p); err == nil && crel != "." {
			if ok, _ := r.dockerignore.MatchesOrParentMatches(filepath.ToSlash(crel)); ok {
				return true
			}
		}
	}
	return false
}

// match says whether a changed host path concerns the rule and, for sync
// actions, where it goes in the container.
func (r *watchRule) match(p string) (string, bool) {
	if !under(r.Path, p) || r.ignored(p) {
		return "", false
	}
	if r.Target == "" {
		return "", true
	}
	rel, err := filepath.Rel(r.Path, p)
	if err != nil {
		return "", false
	}
	return path.Join(r.Target, filepath.ToSlash(rel)), true
}

// syncPath is a host path and where it goes in the container.
type syncPath struct {
	host, container string
	rule            *watchRule
}

// initialSync copies everything under the rule's path into the service's
// containers, leaving out what the rule ignores and the Dockerfile and
// stack files, as compose's initial_sync does.
func (p *Project) initialSync(ctx context.Context, r *watchRule) error {
	info, err := os.Stat(r.Path)
	if err != nil {
		return err
	}
	var paths []syncPath
	if !info.IsDir() {
		paths = append(paths, syncPath{host: r.Path, container: r.Target, rule: r})
	} else {
		err = filepath.WalkDir(r.Path, func(hp string, d fs.DirEntry, err error) error {
			if err != nil || hp == r.Path {
				return err
			}
			if r.ignored(hp) || slices.Contains(r.buildFiles, d.Name()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() {
				target, _ := r.match(hp)
				paths = append(paths, syncPath{host: hp, container: target, rule: r})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(paths) == 0 {
		return nil
	}
	return p.syncInto(ctx, r.service, paths)
}

// syncInto copies the paths that exist on the host into the service's
// running containers and removes there the ones that do not, in each
// container, going on past a failure.
func (p *Project) syncInto(ctx context.Context, svc string, paths []syncPath) error {
	found, err := p.Containers(ctx, []string{svc}, "running")
	if err != nil {
		return err
	}
	var copies []syncPath
	var gone []string
	for _, sp := range paths {
		if exists(sp.host) {
			copies = append(copies, sp)
		} else if !slices.Contains(gone, sp.container) {
			gone = append(gone, sp.container)
		}
	}
	var archive bytes.Buffer
	if len(copies) > 0 {
		if err := writeArchive(&archive, copies); err != nil {
			return fmt.Errorf("sync %s: %w", svc, err)
		}
	}
	p.say("Syncing %s: %s", svc, describeSync(p, copies, gone))
	var errs []error
	for _, c := range found {
		if len(gone) > 0 {
			var out bytes.Buffer
			code, err := p.Engine.Exec(ctx, c.Name, ExecOptions{Cmd: append([]string{"rm", "-rf", "--"}, gone...), Stdout: &out, Stderr: &out})
			if err == nil && code != 0 {
				err = fmt.Errorf("rm -rf %s in %s: exit code %d: %s", strings.Join(gone, " "), c.Name, code, strings.TrimSpace(out.String()))
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(copies) > 0 {
			if err := p.Engine.CopyTo(ctx, c.Name, "/", bytes.NewReader(archive.Bytes()), true); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// describeSync says what a sync does, naming a few of the paths.
func describeSync(p *Project, copies []syncPath, gone []string) string {
	var names []string
	for _, c := range copies {
		names = append(names, p.rel(c.host))
	}
	for _, g := range gone {
		names = append(names, "removed "+g)
	}
	n := len(names)
	if n > 5 {
		names = append(names[:5], fmt.Sprintf("and %d more", n-5))
	}
	return strings.Join(names, ", ")
}

// writeArchive writes a tar archive of the host paths at their container
// paths (relative to /), walking directories; the last entry for a path
// wins. Paths a rule ignores inside a synced directory stay out.
func writeArchive(w io.Writer, paths []syncPath) error {
	tw := tar.NewWriter(w)
	seen := map[string]bool{}
	add := func(host, name string) error {
		info, err := os.Lstat(host)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone since the event
		}
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(host); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return nil // sockets and the like cannot be archived: skip, as docker cp does
		}
		hdr.Name = strings.TrimPrefix(name, "/")
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if seen[hdr.Name] {
			return nil
		}
		seen[hdr.Name] = true
		if !info.Mode().IsRegular() {
			return tw.WriteHeader(hdr)
		}
		// Read the file first: a file that changes while it is archived
		// must not make the header's size wrong.
		data, err := os.ReadFile(host)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		hdr.Size = int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	}
	// Last one wins: walk the paths from the end.
	for i := len(paths) - 1; i >= 0; i-- {
		sp := paths[i]
		info, err := os.Stat(sp.host)
		if err != nil || !info.IsDir() {
			if err := add(sp.host, sp.container); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(sp.host, func(hp string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if hp != sp.host && sp.rule != nil && sp.rule.ignored(hp) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			rel, err := filepath.Rel(sp.host, hp)
			if err != nil {
				return err
			}
			return add(hp, path.Join(sp.container, filepath.ToSlash(rel)))
		})
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

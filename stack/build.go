package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// ContentLimit is the size up to which a build-context file is digested by
// its content. A larger file counts by its size and modification time
// instead: an edit changes those too, and a multi-gigabyte model or archive
// in a context would otherwise cost seconds on every `up`.
const ContentLimit = 1 << 20

// DockerfilePath is the Dockerfile a build reads: b.Dockerfile relative to
// the context, or Dockerfile in it.
func (b *Build) DockerfilePath() string {
	f := b.Dockerfile
	if f == "" {
		f = "Dockerfile"
	}
	if filepath.IsAbs(f) {
		return f
	}
	return filepath.Join(b.Context, f)
}

// remoteContext reports a context that is no local directory (a Git
// repository or an archive's URL): there is nothing here to digest.
func remoteContext(c string) bool {
	for _, p := range []string{"http://", "https://", "git://", "git@", "github.com/"} {
		if strings.HasPrefix(c, p) {
			return true
		}
	}
	return false
}

// ResolveBuildDigests gives each named service's build (every build, with
// no name) its Digest, concurrently, reading the files as they are now (a
// long-running watch calls it again after they change). A remote context,
// or a context or Dockerfile that does not exist, has an empty Digest
// (unknown: the image is built when missing or asked for, and a missing
// context is no error while the image is there, as with docker compose). A
// context that cannot be read is a problem naming the service and the path.
func (s *Stack) ResolveBuildDigests(services ...string) error {
	if len(services) == 0 {
		services = s.ServiceNames()
	} else {
		services = s.withContextUsers(services)
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		problems Problems
	)
	for _, name := range services {
		svc := s.Services[name]
		if svc == nil || svc.Build == nil || remoteContext(svc.Build.Context) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := svc.Build.ContextDigest()
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, fs.ErrNotExist) {
				svc.Build.Digest = ""
				return
			}
			if err != nil {
				problems = append(problems, Problem{Position: svc.Source, Service: name, Message: err.Error(),
					Fix: "correct build.context and build.dockerfile (relative to the stack file's directory)"})
				return
			}
			svc.Build.Digest = d
		}()
	}
	wg.Wait()
	s.chainServiceContexts(services)
	problems.Sort()
	return problems.Err()
}

// withContextUsers adds to services every service whose build reads one
// of their images (a "service:NAME" context), transitively: a changed
// image changes what is built from it.
func (s *Stack) withContextUsers(services []string) []string {
	in := map[string]bool{}
	for _, n := range services {
		in[n] = true
	}
	for grew := true; grew; {
		grew = false
		for _, name := range s.ServiceNames() {
			if b := s.Services[name].Build; b != nil && !in[name] {
				for _, dep := range b.ServiceContexts() {
					if in[dep] {
						in[name], grew = true, true
						break
					}
				}
			}
		}
	}
	return sortedKeysOf(in)
}

// chainServiceContexts folds into the digest of each of services' builds
// the digests of the images it reads through "service:NAME" contexts, those
// first: an image built from another is current only while that one is.
// The loader has refused cycles; done guards against one anyway.
func (s *Stack) chainServiceContexts(services []string) {
	done := map[string]bool{}
	var chain func(name string)
	chain = func(name string) {
		if done[name] {
			return
		}
		done[name] = true
		svc := s.Services[name]
		if svc == nil || svc.Build == nil || svc.Build.Digest == "" {
			return
		}
		deps := svc.Build.ServiceContexts()
		if len(deps) == 0 {
			return
		}
		h := sha256.New()
		writeField(h, "build", svc.Build.Digest)
		for _, dep := range deps {
			chain(dep)
			d := ""
			if t := s.Services[dep]; t != nil && t.Build != nil {
				d = t.Build.Digest
			}
			writeField(h, "service:"+dep, d)
		}
		svc.Build.Digest = hex.EncodeToString(h.Sum(nil)[:16])
	}
	for _, name := range services {
		chain(name)
	}
}

// ContextDigest fingerprints what building b reads: the build's settings
// (Dockerfile path, args, target, labels, and every other key carried to
// Podman's build), the Dockerfile's content wherever it is (or the inline
// one), every file, directory and symlink of the context that its
// .containerignore or .dockerignore leaves in (path, mode, and content, or
// size and modification time above ContentLimit), and the same of each
// local additional context (which Podman sends whole). A build secret
// counts by its name and source, never its content: the digest is an
// image label, and a secret is no part of the image. Two builds with the
// same digest build the same image, so an image labelled with it is
// current; changing any input changes it. The images of "service:NAME"
// contexts count in ResolveBuildDigests.
func (b *Build) ContextDigest() (string, error) {
	info, err := os.Stat(b.Context)
	if err != nil {
		return "", fmt.Errorf("build context %s: %w", b.Context, notExist(err))
	}
	if !info.IsDir() {
		return "", fmt.Errorf("build context %s is not a directory", b.Context)
	}
	dockerfile := b.DockerfilePath()
	df := []byte(b.DockerfileInline)
	if b.DockerfileInline == "" {
		if df, err = os.ReadFile(dockerfile); err != nil {
			return "", fmt.Errorf("dockerfile %s: %w", dockerfile, notExist(err))
		}
	}
	excludes, err := ignorePatterns(b.Context, dockerfile)
	if err != nil {
		return "", err
	}
	entries, err := walkContext(b.Context, excludes)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	settings, _ := json.Marshal(struct {
		Dockerfile string            `json:"dockerfile"`
		Args       map[string]string `json:"args,omitempty"`
		Target     string            `json:"target,omitempty"`
		Labels     map[string]string `json:"labels,omitempty"`
		buildSettings
	}{b.Dockerfile, b.Args, b.Target, b.Labels, b.settings()})
	h.Write(settings)
	writeField(h, "dockerfile", string(df))
	if err := digestEntries(h, b.Context, entries); err != nil {
		return "", err
	}
	for _, name := range sortedKeysOf(b.AdditionalContexts) {
		dir := b.AdditionalContexts[name]
		if !filepath.IsAbs(dir) {
			continue // an image, a service's image or a URL: its value is in the settings
		}
		entries, err := walkContext(dir, nil)
		if err != nil {
			return "", fmt.Errorf("build.additional_contexts %s (%s): %w", name, dir, notExist(errors.Unwrap(err)))
		}
		writeField(h, "additional context", name)
		if err := digestEntries(h, dir, entries); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// buildSettings are the build's keys beyond the first four that
// ContextDigest fingerprints, each left out when unset so that a digest
// made before they were carried stays the same.
type buildSettings struct {
	Inline             bool              `json:"inline,omitempty"`
	AdditionalContexts map[string]string `json:"additionalContexts,omitempty"`
	Ulimits            map[string]Ulimit `json:"ulimits,omitempty"`
	ShmSize            int64             `json:"shmSize,omitempty"`
	ExtraHosts         []string          `json:"extraHosts,omitempty"`
	Network            string            `json:"network,omitempty"`
	CacheFrom          []string          `json:"cacheFrom,omitempty"`
	Tags               []string          `json:"tags,omitempty"`
	Platform           string            `json:"platform,omitempty"`
	Secrets            []string          `json:"secrets,omitempty"`
}

func (b *Build) settings() buildSettings {
	out := buildSettings{Inline: b.DockerfileInline != "", AdditionalContexts: b.AdditionalContexts, Ulimits: b.Ulimits,
		ShmSize: b.ShmSize, ExtraHosts: b.ExtraHosts, Network: b.Network, CacheFrom: b.CacheFrom, Tags: b.Tags, Platform: b.Platform}
	for _, sec := range b.Secrets {
		out.Secrets = append(out.Secrets, sec.ID+"="+sec.Source+":"+sec.File+":"+sec.Environment)
	}
	return out
}

// notExist drops the path from a PathError (the message names it) and
// keeps it an fs.ErrNotExist where it is one.
func notExist(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ignorePatterns reads the exclusions Podman applies to a context, in its
// order: the context's .containerignore, else its .dockerignore, else the
// Dockerfile's own <Dockerfile>.containerignore or .dockerignore.
func ignorePatterns(context, dockerfile string) ([]string, error) {
	for _, f := range []string{filepath.Join(context, ".containerignore"), filepath.Join(context, ".dockerignore"),
		dockerfile + ".containerignore", dockerfile + ".dockerignore"} {
		r, err := os.Open(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ignore file %s: %w", f, err)
		}
		patterns, err := ignorefile.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("ignore file %s: %w", f, err)
		}
		return patterns, nil
	}
	return nil, nil
}

// entry is one thing in a context: a file (to digest), a directory or a
// symlink (its target).
type entry struct {
	rel  string
	mode fs.FileMode
	size int64
	// meta is what stands for the content: a symlink's target, or a large
	// file's size and modification time; "" for a file digested by content.
	meta string
}

// walkContext lists the context's entries in walk (lexical) order, leaving out
// what the patterns exclude; an excluded directory is not entered unless
// an exception ("!pattern") may apply inside it.
func walkContext(root string, excludes []string) ([]entry, error) {
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return nil, fmt.Errorf("ignore patterns of %s: %w", root, err)
	}
	var out []entry
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		excluded, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if excluded {
			if d.IsDir() && !exceptionInside(pm, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{rel: rel, mode: info.Mode()}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			if e.meta, err = os.Readlink(path); err != nil {
				return err
			}
		case d.Type().IsRegular():
			e.size = info.Size()
			if e.size > ContentLimit {
				e.meta = fmt.Sprintf("size=%d mtime=%d", e.size, info.ModTime().UnixNano())
			}
		case d.IsDir():
		default:
			return nil // sockets, devices, pipes: not sent with a context
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", root, err)
	}
	return out, nil
}

// exceptionInside reports whether an exception pattern may re-include
// something under the excluded directory dir, as Docker's own walk decides.
func exceptionInside(pm *patternmatcher.PatternMatcher, dir string) bool {
	if !pm.Exclusions() {
		return false
	}
	for _, p := range pm.Patterns() {
		if p.Exclusion() && strings.HasPrefix(p.String()+"/", dir+"/") {
			return true
		}
	}
	return false
}

// digestEntries writes every entry into h in order, the regular files'
// contents digested by a few workers at once (reading dominates).
func digestEntries(h hash.Hash, root string, entries []entry) error {
	sums := make([]string, len(entries))
	work := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0)*2, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for i := range work {
				sum, err := fileDigest(filepath.Join(root, filepath.FromSlash(entries[i].rel)), entries[i].size, buf)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				sums[i] = sum
			}
		}()
	}
	for i, e := range entries {
		if e.mode.IsRegular() && e.meta == "" {
			work <- i
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("build context %s: %w", root, err)
	default:
	}
	for i, e := range entries {
		content := e.meta
		if content == "" {
			content = sums[i]
		}
		writeField(h, e.rel, fmt.Sprintf("%o %s", uint32(e.mode), content))
	}
	return nil
}

// fileDigest digests a file's content, reading through buf. It calls the
// system directly: os.Open's poller setup and the read that finds the end
// would double the system calls per file, and a context has thousands.
func fileDigest(path string, size int64, buf []byte) (string, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	h := sha256.New()
	for read := int64(0); ; {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", &fs.PathError{Op: "read", Path: path, Err: err}
		}
		h.Write(buf[:n])
		read += int64(n)
		if n == 0 || (read == size && n < len(buf)) {
			break // the end, or all of it in a short read: the end is next
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeField writes a length-prefixed name and value, so no two different
// sequences of fields write the same bytes.
func writeField(h hash.Hash, name, value string) {
	fmt.Fprintf(h, "%d:%s%d:%s", len(name), name, len(value), value)
}

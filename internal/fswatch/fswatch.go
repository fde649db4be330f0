package fswatch

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// Watcher reports the paths that change under its roots: a file that is
// written, created, removed or renamed, and every file of a directory tree
// that appears. Roots may be files, directories or paths that do not exist
// yet; directories are watched recursively, including the ones created
// later. Permission changes alone are not reported.
type Watcher struct {
	w      *fsnotify.Watcher
	roots  []string
	skip   func(dir string) bool
	events chan string
	errors chan error
	done   chan struct{}
	closed sync.Once
	wg     sync.WaitGroup
}

// New watches the roots (absolute paths). skip, when not nil, names
// directories not to descend into (a .git directory, say); their changes
// are not reported.
func New(roots []string, skip func(dir string) bool) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if skip == nil {
		skip = func(string) bool { return false }
	}
	w := &Watcher{w: fw, skip: skip, events: make(chan string, 256), errors: make(chan error, 16), done: make(chan struct{})}
	for _, r := range roots {
		w.roots = append(w.roots, filepath.Clean(r))
	}
	for _, r := range w.roots {
		if err := w.addRoot(r); err != nil {
			fw.Close()
			return nil, err
		}
	}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

// Events delivers the changed paths. It is closed by Close.
func (w *Watcher) Events() <-chan string { return w.events }

// Errors delivers what went wrong watching (a directory that could not be
// added); watching goes on.
func (w *Watcher) Errors() <-chan error { return w.errors }

// Close stops watching.
func (w *Watcher) Close() error {
	var err error
	w.closed.Do(func() {
		close(w.done)
		err = w.w.Close()
		w.wg.Wait()
		close(w.events)
		close(w.errors)
	})
	return err
}

// addRoot watches a root: a directory tree, the directory holding a file,
// or the nearest existing directory above a path that does not exist yet.
func (w *Watcher) addRoot(root string) error {
	info, err := os.Stat(root)
	switch {
	case err == nil && info.IsDir():
		return w.addTree(root, nil)
	case err == nil:
		return w.w.Add(filepath.Dir(root))
	case errors.Is(err, fs.ErrNotExist):
		dir := filepath.Dir(root)
		for {
			if info, err := os.Stat(dir); err == nil && info.IsDir() {
				return w.w.Add(dir)
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return nil
			}
			dir = parent
		}
	default:
		return err
	}
}

// addTree watches dir and every directory below it; with found, it also
// calls found for every file there (a tree that appeared: its files were
// created before the watch could see them).
func (w *Watcher) addTree(dir string, found func(string)) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone while walking
			}
			return err
		}
		if !d.IsDir() {
			if found != nil {
				found(path)
			}
			return nil
		}
		if path != dir && w.skip(path) {
			return filepath.SkipDir
		}
		return w.w.Add(path)
	})
}

// under says whether path is a root or inside one.
func (w *Watcher) under(path string) bool {
	for _, r := range w.roots {
		if path == r || strings.HasPrefix(path, r+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// above says whether dir is a directory between a missing root and the
// filesystem's root: creating it brings the root a step nearer.
func (w *Watcher) above(dir string) bool {
	for _, r := range w.roots {
		if strings.HasPrefix(r, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (w *Watcher) loop() {
	defer w.wg.Done()
	for {
		select {
		case <-w.done:
			return
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			w.fail(err)
		case e, ok := <-w.w.Events:
			if !ok {
				return
			}
			w.handle(e)
		}
	}
}

func (w *Watcher) handle(e fsnotify.Event) {
	if e.Op == fsnotify.Chmod {
		return
	}
	path := filepath.Clean(e.Name)
	if e.Has(fsnotify.Create) {
		if info, err := os.Stat(path); err == nil && info.IsDir() {
			switch {
			case w.under(path):
				if w.skipped(path) {
					return
				}
				if err := w.addTree(path, w.emit); err != nil {
					w.fail(err)
				}
				return
			case w.above(path):
				// A missing root's parent appeared: watch it, and
				// whatever of the root is already inside.
				if err := w.w.Add(path); err != nil {
					w.fail(err)
				}
				for _, r := range w.roots {
					if !strings.HasPrefix(r, path+string(filepath.Separator)) {
						continue
					}
					info, err := os.Stat(r)
					switch {
					case err != nil:
					case info.IsDir():
						if err := w.addTree(r, w.emit); err != nil {
							w.fail(err)
						}
					default:
						if err := w.addRoot(r); err != nil {
							w.fail(err)
						}
						w.emit(r)
					}
				}
				return
			}
		}
	}
	if w.under(path) && !w.skipped(filepath.Dir(path)) {
		w.emit(path)
	}
}

// skipped says whether dir, or a directory between it and its root, is
// one skip names.
func (w *Watcher) skipped(dir string) bool {
	for w.under(dir) {
		for _, r := range w.roots {
			if dir == r {
				return false
			}
		}
		if w.skip(dir) {
			return true
		}
		dir = filepath.Dir(dir)
	}
	return false
}

func (w *Watcher) emit(path string) {
	select {
	case w.events <- path:
	case <-w.done:
	}
}

func (w *Watcher) fail(err error) {
	select {
	case w.errors <- err:
	case <-w.done:
	default: // nobody reads errors: drop rather than stall events
	}
}

package tarcopy

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// PackOptions tune Pack.
type PackOptions struct {
	// Name is the archive's top entry: src itself, renamed (docker cp
	// SRC CONTAINER:NEW copies SRC as NEW). "" keeps src's base name.
	Name string
	// Contents packs a directory's entries without the directory itself
	// (docker cp SRC/. CONTAINER:DIR).
	Contents bool
	// FollowLink packs what src links to when src is a symlink.
	FollowLink bool
	// KeepOwner keeps the files' uid and gid; else they are 0.
	KeepOwner bool
}

// Pack writes a tar archive of the file or directory src to w. Symlinks
// inside src are packed as links; devices, sockets and pipes are skipped.
func Pack(src string, o PackOptions, w io.Writer) error {
	stat := os.Lstat
	if o.FollowLink {
		stat = os.Stat
	}
	info, err := stat(src)
	if err != nil {
		return err
	}
	name := o.Name
	if name == "" {
		name = filepath.Base(src)
	}
	tw := tar.NewWriter(w)
	if info.IsDir() {
		err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, p)
			if err != nil {
				return err
			}
			entry := path.Join(name, filepath.ToSlash(rel))
			if o.Contents {
				if rel == "." {
					return nil
				}
				entry = filepath.ToSlash(rel)
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return add(tw, p, entry, fi, o.KeepOwner)
		})
	} else {
		err = add(tw, src, name, info, o.KeepOwner)
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

// add writes one file's header and content.
func add(tw *tar.Writer, file, name string, fi fs.FileInfo, keepOwner bool) error {
	link := ""
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		var err error
		if link, err = os.Readlink(file); err != nil {
			return err
		}
	case fi.IsDir(), fi.Mode().IsRegular():
	default:
		return nil // devices, sockets, pipes: docker cp skips them too
	}
	h, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	h.Name = name
	if fi.IsDir() {
		h.Name += "/"
	}
	h.Uname, h.Gname = "", ""
	if !keepOwner {
		h.Uid, h.Gid = 0, 0
	}
	h.Format = tar.FormatPAX
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

// UnpackOptions tune Unpack.
type UnpackOptions struct {
	// Rename gives the archive's top entry this name (docker cp
	// CONTAINER:SRC NEW).
	Rename string
	// Strip drops the top entry and unpacks what it holds (docker cp
	// CONTAINER:DIR/. DEST).
	Strip bool
	// KeepOwner gives the files the archive's uid and gid; else they
	// belong to whoever unpacks them.
	KeepOwner bool
}

// Unpack extracts the tar archive r into the existing directory dir.
// Nothing is written outside dir: every path is resolved inside it, links
// included (an archive is data from a container, not to be trusted).
// Devices and pipes are skipped.
func Unpack(r io.Reader, dir string, o UnpackOptions) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	type dirTime struct {
		name string
		t    time.Time
	}
	var dirs []dirTime
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name, ok := o.rename(h.Name)
		if !ok {
			continue
		}
		if !fs.ValidPath(name) {
			return fmt.Errorf("archive entry %q: not a path inside %s", h.Name, dir)
		}
		if parent := path.Dir(name); parent != "." {
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return err
			}
		}
		mode := h.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			if err := root.Chmod(name, mode); err != nil {
				return err
			}
			dirs = append(dirs, dirTime{name, h.ModTime})
		case tar.TypeReg:
			if err := replaceable(root, name); err != nil {
				return err
			}
			f, err := root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := root.Chmod(name, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := replaceable(root, name); err != nil {
				return err
			}
			_ = root.Remove(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return err
			}
		case tar.TypeLink:
			target, ok := o.rename(h.Linkname)
			if !ok || !fs.ValidPath(target) {
				return fmt.Errorf("archive entry %q: hard link to %q outside the copy", h.Name, h.Linkname)
			}
			if err := replaceable(root, name); err != nil {
				return err
			}
			_ = root.Remove(name)
			if err := root.Link(target, name); err != nil {
				return err
			}
		default:
			continue
		}
		if o.KeepOwner {
			if err := root.Lchown(name, h.Uid, h.Gid); err != nil {
				return err
			}
		}
		if h.Typeflag != tar.TypeSymlink && h.Typeflag != tar.TypeDir {
			_ = root.Chtimes(name, h.ModTime, h.ModTime)
		}
	}
	// Directories last: writing into one changes its time.
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = root.Chtimes(dirs[i].name, dirs[i].t, dirs[i].t)
	}
	return nil
}

// rename maps an archive path to the path to write, and says whether to
// write it at all.
func (o UnpackOptions) rename(name string) (string, bool) {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" {
		return "", false
	}
	_, rest, _ := strings.Cut(name, "/")
	switch {
	case o.Strip:
		return rest, rest != ""
	case o.Rename != "":
		return path.Join(o.Rename, rest), true
	}
	return name, true
}

// replaceable makes way for a file or link at name: an existing link is
// removed (never written through), an existing directory is an error (a
// file does not replace a directory; docker cp refuses that too).
func replaceable(root *os.Root, name string) error {
	fi, err := root.Lstat(name)
	switch {
	case err != nil:
		return nil
	case fi.IsDir():
		return fmt.Errorf("cannot overwrite directory %q with a non-directory", name)
	case fi.Mode()&fs.ModeSymlink != 0:
		return root.Remove(name)
	}
	return nil
}

package tarcopy

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// tree lists the files under dir as "path=content" ("path/" for
// directories, "path->target" for links), sorted.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+"->"+target)
		case fi.IsDir():
			out = append(out, rel+"/")
		default:
			data, _ := os.ReadFile(p)
			out = append(out, rel+"="+string(data))
		}
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, " ")
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

// TestPackUnpack: docker cp's naming: a file or directory under its own
// name, renamed, or a directory's contents alone.
func TestPackUnpack(t *testing.T) {
	src := t.TempDir()
	write(t, filepath.Join(src, "site", "index.html"), "hi")
	write(t, filepath.Join(src, "site", "css", "a.css"), "body{}")
	if err := os.Symlink("index.html", filepath.Join(src, "site", "home.html")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "dump.sql"), "CREATE")
	for _, c := range []struct {
		name string
		src  string
		pack PackOptions
		un   UnpackOptions
		want string
	}{
		{"dir", "site", PackOptions{}, UnpackOptions{}, "site/ site/css/ site/css/a.css=body{} site/home.html->index.html site/index.html=hi"},
		{"dir renamed", "site", PackOptions{Name: "www"}, UnpackOptions{}, "www/ www/css/ www/css/a.css=body{} www/home.html->index.html www/index.html=hi"},
		{"dir contents", "site", PackOptions{Contents: true}, UnpackOptions{}, "css/ css/a.css=body{} home.html->index.html index.html=hi"},
		{"file", "dump.sql", PackOptions{}, UnpackOptions{}, "dump.sql=CREATE"},
		{"file renamed on unpack", "dump.sql", PackOptions{}, UnpackOptions{Rename: "seed.sql"}, "seed.sql=CREATE"},
		{"dir stripped on unpack", "site", PackOptions{}, UnpackOptions{Strip: true}, "css/ css/a.css=body{} home.html->index.html index.html=hi"},
		{"dir renamed on unpack", "site", PackOptions{}, UnpackOptions{Rename: "copy"}, "copy/ copy/css/ copy/css/a.css=body{} copy/home.html->index.html copy/index.html=hi"},
	} {
		var buf bytes.Buffer
		if err := Pack(filepath.Join(src, c.src), c.pack, &buf); err != nil {
			t.Fatalf("%s: pack: %v", c.name, err)
		}
		dst := t.TempDir()
		if err := Unpack(&buf, dst, c.un); err != nil {
			t.Fatalf("%s: unpack: %v", c.name, err)
		}
		if got := tree(t, dst); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	fi, err := os.Stat(filepath.Join(src, "dump.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	Pack(filepath.Join(src, "dump.sql"), PackOptions{}, &buf)
	dst := t.TempDir()
	Unpack(&buf, dst, UnpackOptions{})
	got, err := os.Stat(filepath.Join(dst, "dump.sql"))
	if err != nil || got.Mode() != fi.Mode() || got.ModTime().Unix() != fi.ModTime().Unix() {
		t.Errorf("mode and time not kept: %v, %v %v, want %v %v", err, got.Mode(), got.ModTime(), fi.Mode(), fi.ModTime())
	}
}

// archive builds a tar archive of headers (content for regular files).
func archive(t *testing.T, entries ...*tar.Header) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		body := h.Linkname
		if h.Typeflag == tar.TypeReg {
			h.Linkname = ""
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(body))
		}
	}
	tw.Close()
	return &buf
}

// TestUnpackStaysInside: an archive from a container is not trusted: no
// entry lands outside the target directory, through .. or a link.
func TestUnpackStaysInside(t *testing.T) {
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	write(t, victim, "safe")
	for name, a := range map[string]*bytes.Buffer{
		"dot-dot": archive(t, &tar.Header{Name: "x/../../victim", Typeflag: tar.TypeReg, Linkname: "owned"}),
		"absolute link then write": archive(t,
			&tar.Header{Name: "x/", Typeflag: tar.TypeDir, Mode: 0o755},
			&tar.Header{Name: "x/link", Typeflag: tar.TypeSymlink, Linkname: victim},
			&tar.Header{Name: "x/link/../victim", Typeflag: tar.TypeReg, Linkname: "owned"},
		),
		"link dir then write through": archive(t,
			&tar.Header{Name: "x/", Typeflag: tar.TypeDir, Mode: 0o755},
			&tar.Header{Name: "x/out", Typeflag: tar.TypeSymlink, Linkname: outside},
			&tar.Header{Name: "x/out/victim", Typeflag: tar.TypeReg, Linkname: "owned"},
		),
		"hard link out": archive(t, &tar.Header{Name: "x/h", Typeflag: tar.TypeLink, Linkname: "../../victim"}),
	} {
		dst := t.TempDir()
		Unpack(a, dst, UnpackOptions{}) // an error or a harmless result: both fine
		if data, _ := os.ReadFile(victim); string(data) != "safe" {
			t.Fatalf("%s: wrote outside the target: %q", name, data)
		}
	}
	// A file never replaces a directory.
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, "x", "keep"), 0o755)
	if err := Unpack(archive(t, &tar.Header{Name: "x/keep", Typeflag: tar.TypeReg, Linkname: "file"}), dst, UnpackOptions{}); err == nil {
		t.Error("a file replaced a directory")
	}
}

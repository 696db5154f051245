package buildfile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/errdefs"
)

func TestKeys(t *testing.T) {
	base := BaseKey("debian", "id1")
	s := Step{Op: OpRun, Text: "RUN make", Workdir: "/src", EnvAll: []EnvVar{{"A", "1"}}}
	key := StepKey(base, s, "")
	if len(key) != 64 || StepKey(base, s, "") != key {
		t.Fatalf("StepKey is not a stable hex sha256: %q", key)
	}
	changed := map[string]string{
		"base from":     BaseKey("debiam", "id1"),
		"base identity": BaseKey("debian", "id2"),
		"base split":    BaseKey("debianid", "1"),
		"parent":        StepKey(BaseKey("debian", "id2"), s, ""),
		"content":       StepKey(base, s, "digest"),
	}
	for what, change := range map[string]func(*Step){
		"op":        func(s *Step) { s.Op = OpCopy },
		"text":      func(s *Step) { s.Text = "RUN make install" },
		"workdir":   func(s *Step) { s.Workdir = "/" },
		"env value": func(s *Step) { s.EnvAll[0].Value = "2" },
		"env name":  func(s *Step) { s.EnvAll[0].Name = "B" },
		"env split": func(s *Step) { s.EnvAll[0] = EnvVar{"A1", ""} },
		"env more":  func(s *Step) { s.EnvAll = append(s.EnvAll, EnvVar{"B", ""}) },
		"env none":  func(s *Step) { s.EnvAll = nil },
		"text/workdir split": func(s *Step) {
			s.Text, s.Workdir = "RUN make/src", ""
		},
	} {
		c := s
		c.EnvAll = append([]EnvVar(nil), s.EnvAll...)
		change(&c)
		changed[what] = StepKey(base, c, "")
	}
	seen := map[string]string{base: "base", key: "step"}
	for what, k := range changed {
		if other, ok := seen[k]; ok {
			t.Errorf("changing the %s gives the key of %s", what, other)
		}
		seen[k] = what
	}
}

// context makes a build context from files (a path and its content; a
// trailing / makes a directory).
func context(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f)
		if strings.HasSuffix(f, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("content of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func digest(t *testing.T, dir string, sources ...string) string {
	t.Helper()
	d, err := ContentDigest(dir, sources)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestContentDigest(t *testing.T) {
	dir := context(t, "a", "sub/b", "sub/deep/c", "empty/")
	sum := digest(t, dir, "a", "sub")
	if digest(t, dir, "a", "sub") != sum {
		t.Fatal("ContentDigest is not stable")
	}
	// Each change is undone before the next, so that each must change the
	// digest on its own.
	for what, change := range map[string][2]func() error{
		"content": {
			func() error { return os.WriteFile(filepath.Join(dir, "sub/deep/c"), []byte("other"), 0o644) },
			func() error {
				return os.WriteFile(filepath.Join(dir, "sub/deep/c"), []byte("content of sub/deep/c"), 0o644)
			},
		},
		"mode": {
			func() error { return os.Chmod(filepath.Join(dir, "a"), 0o755) },
			func() error { return os.Chmod(filepath.Join(dir, "a"), 0o644) },
		},
		"setuid": {
			func() error { return os.Chmod(filepath.Join(dir, "a"), 0o644|os.ModeSetuid) },
			func() error { return os.Chmod(filepath.Join(dir, "a"), 0o644) },
		},
		"directory mode": {
			func() error { return os.Chmod(filepath.Join(dir, "sub/deep"), 0o700) },
			func() error { return os.Chmod(filepath.Join(dir, "sub/deep"), 0o755) },
		},
		"name": {
			func() error { return os.Rename(filepath.Join(dir, "sub/b"), filepath.Join(dir, "sub/b2")) },
			func() error { return os.Rename(filepath.Join(dir, "sub/b2"), filepath.Join(dir, "sub/b")) },
		},
		"new file": {
			func() error { return os.WriteFile(filepath.Join(dir, "sub/new"), nil, 0o644) },
			func() error { return os.Remove(filepath.Join(dir, "sub/new")) },
		},
		"file to symlink": {
			func() error {
				os.Remove(filepath.Join(dir, "a"))
				return os.Symlink("content of a", filepath.Join(dir, "a"))
			},
			func() error {
				os.Remove(filepath.Join(dir, "a"))
				return os.WriteFile(filepath.Join(dir, "a"), []byte("content of a"), 0o644)
			},
		},
	} {
		if err := change[0](); err != nil {
			t.Fatal(err)
		}
		if digest(t, dir, "a", "sub") == sum {
			t.Errorf("changing the %s leaves the digest", what)
		}
		if err := change[1](); err != nil {
			t.Fatal(err)
		}
		if digest(t, dir, "a", "sub") != sum {
			t.Fatalf("undoing the change of the %s does not restore the digest", what)
		}
	}
	past := time.Unix(1e9, 0)
	if err := os.Chtimes(filepath.Join(dir, "sub/b"), past, past); err != nil {
		t.Fatal(err)
	}
	if digest(t, dir, "a", "sub") != sum {
		t.Error("changing an mtime changes the digest")
	}
	if digest(t, dir, "sub", "a") == sum || digest(t, dir, "a") == sum || digest(t, dir, ".") == sum {
		t.Error("other sources give the same digest")
	}
}

func TestContentDigestSymlink(t *testing.T) {
	outside := context(t, "secret")
	dir := context(t)
	for name, target := range map[string]string{"le": "/etc", "out": outside, "up": "../../.."} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	sum := digest(t, dir, ".")
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if digest(t, dir, ".") != sum {
		t.Error("the digest follows a symlink out of the context")
	}
	if err := os.Remove(filepath.Join(dir, "le")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/", filepath.Join(dir, "le")); err != nil {
		t.Fatal(err)
	}
	if digest(t, dir, ".") == sum {
		t.Error("a symlink's target is not in the digest")
	}
	// Through a symlink, a path resolves inside the context, where there
	// is no passwd and no secret.
	for _, src := range []string{"le/passwd", "out/secret", "up/etc/passwd", "le/*", "up/*/passwd"} {
		if _, err := ContentDigest(dir, []string{src}); err == nil || !strings.Contains(err.Error(), "matches nothing") {
			t.Errorf("ContentDigest of %s: %v, want matches nothing", src, err)
		}
	}
	// A symlink inside the context leads where it would in the rootfs.
	dir = context(t, "real/f")
	if err := os.Symlink("/real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if got, err := Expand(dir, "link/*"); err != nil || !reflect.DeepEqual(got, []string{"link/f"}) {
		t.Errorf("Expand(link/*) = %q, %v", got, err)
	}
}

func TestExpand(t *testing.T) {
	dir := context(t, "a.txt", "b.txt", "c.md", "d/x.txt", "e/x.txt", "e/y.md", "f/")
	for src, want := range map[string][]string{
		"*.txt":    {"a.txt", "b.txt"},
		"./*.txt":  {"a.txt", "b.txt"},
		"?.md":     {"c.md"},
		"[ab].txt": {"a.txt", "b.txt"},
		"*/x.txt":  {"d/x.txt", "e/x.txt"},
		"*/*":      {"d/x.txt", "e/x.txt", "e/y.md"},
		"e/":       {"e"},
		"f":        {"f"},
		".":        {"."},
		`c\.md`:    {"c.md"},
	} {
		got, err := Expand(dir, src)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Expand(%q) = %q, %v; want %q", src, got, err, want)
		}
	}
	for _, src := range []string{"*.go", "nope", "a.txt/x", "f/*", "../*", "/etc", "[", ""} {
		_, err := Expand(dir, src)
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Expand(%q): %v, want an ErrInvalidArgument", src, err)
		}
	}
	if _, err := Expand(dir, "*.go"); err == nil || err.Error() != "COPY source *.go matches nothing: invalid argument" {
		t.Errorf("Expand(*.go): %v", err)
	}
}

func TestContentDigestSpecial(t *testing.T) {
	dir := context(t, "sub/ok")
	if err := unix.Mkfifo(filepath.Join(dir, "sub/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ContentDigest(dir, []string{"sub"})
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "sub/fifo is a FIFO") {
		t.Errorf("ContentDigest of a FIFO: %v", err)
	}
	// Only what the sources match is read.
	if _, err := ContentDigest(dir, []string{"sub/ok"}); err != nil {
		t.Error(err)
	}
}

package rootonly

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sdme/sdme/internal/testroot"
)

func TestCheck(t *testing.T) {
	testroot.Require(t) // to make files of other owners
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	// t.TempDir lives below $TMPDIR, which may itself be anyone's; the
	// cases below are judged relative to a tree that is root's alone.
	if err := Check(base); err != nil {
		testroot.Missing(t, "the temporary directory is not root's alone: %v", err)
	}
	mk := func(rel string, mode os.FileMode, uid int) string {
		p := filepath.Join(base, rel)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, uid, 0); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := mk("good", 0o755, 0)
	open := mk("open", 0o777, 0)
	users := mk("users", 0o755, 1000)
	sticky := mk("sticky", 0o777|os.ModeSticky, 0)
	mk("sticky/roots", 0o700, 0)
	mk("sticky/theirs", 0o700, 1000)
	if err := os.Symlink(open, filepath.Join(good, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(good, filepath.Join(base, "tolink")); err != nil {
		t.Fatal(err)
	}
	// A root-owned link to a link of someone else's, which leads back
	// into root's tree: the middle link can be changed at any time.
	if err := os.Symlink(good, filepath.Join(users, "theirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(filepath.Join(users, "theirlink"), 1000, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(users, "theirlink"), filepath.Join(good, "via")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../good/./..", filepath.Join(good, "up")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop2", filepath.Join(good, "loop1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop1", filepath.Join(good, "loop2")); err != nil {
		t.Fatal(err)
	}
	if err := Check(filepath.Join(good, "loop1")); err == nil {
		t.Error("Check of a symlink loop succeeded")
	}
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{good, true},
		{filepath.Join(good, "missing/deeper"), true},
		{open, false},
		{filepath.Join(open, "missing"), false},
		{users, false},
		{filepath.Join(users, "x"), false},
		{filepath.Join(sticky, "roots"), true},
		{filepath.Join(sticky, "roots/x"), true},
		{filepath.Join(sticky, "theirs"), false},
		{filepath.Join(sticky, "missing"), false},
		{sticky, false},
		{filepath.Join(good, "link"), false},         // leads to an open directory
		{filepath.Join(good, "link/missing"), false}, // and below it
		{filepath.Join(base, "tolink/missing"), true},
		{filepath.Join(good, "via"), false},         // through a user's link
		{filepath.Join(good, "via/missing"), false}, // and below it
		{filepath.Join(good, "up/good"), true},      // .. after a symlink
		{filepath.Join(good, "up/open/x"), false},
	} {
		err := Check(c.path)
		if c.ok && err != nil {
			t.Errorf("Check(%s) = %v, want nil", c.path, err)
		}
		if !c.ok && !errors.Is(err, ErrNotRootOnly) {
			t.Errorf("Check(%s) = %v, want ErrNotRootOnly", c.path, err)
		}
	}
}

package fsmeta

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/internal/testroot"
)

// TestXattrsRoundTrip copies attributes larger than the buffers Xattrs
// starts with, from a file by descriptor and from a symlink by name.
func TestXattrsRoundTrip(t *testing.T) {
	testroot.Require(t) // trusted.* xattrs
	dir := t.TempDir()
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	os.Symlink("f", filepath.Join(dir, "l"))
	os.Symlink("f", filepath.Join(dir, "l2"))

	var want []Xattr
	for i := range 16 { // a list longer than 512 bytes
		want = append(want, Xattr{fmt.Sprintf("trusted.attribute-with-a-long-name-%02d", i), []byte{byte(i)}})
	}
	want = append(want, Xattr{"trusted.big", bytes.Repeat([]byte("v"), 1500)})
	for _, node := range []Node{At(d, "l", true), At(d, "f", false)} {
		if err := Set(node, &Meta{Uid: 1, Gid: 2, Mode: 0o4750, Xattrs: want}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := unix.Open(filepath.Join(dir, "f"), unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(f)
	for _, node := range []Node{File(f), At(d, "l", true)} {
		got, err := Xattrs(node)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(a, b Xattr) int { return strings.Compare(a.Name, b.Name) })
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%+v: got %d attributes, want %d", node, len(got), len(want))
		}
	}
	var st unix.Stat_t
	unix.Fstat(f, &st)
	if st.Mode&0o7777 != 0o4750 || st.Uid != 1 || st.Gid != 2 {
		t.Errorf("f: mode %o, owner %d:%d", st.Mode, st.Uid, st.Gid)
	}
	// The symlink's attributes are its own, not its target's.
	if got, _ := Xattrs(At(d, "l2", true)); len(got) != 0 {
		t.Errorf("l2 has attributes: %v", got)
	}
}

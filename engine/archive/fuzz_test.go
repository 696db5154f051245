package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/internal/testroot"
)

// FuzzApply applies arbitrary bytes into parent/target and checks that
// nothing outside target changed. The corpus starts from the hostile
// archives of TestEscapes and a tree of every kind of entry.
func FuzzApply(f *testing.F) {
	testroot.Require(f)
	tmpName := filepath.Join(os.TempDir(), "sdme-archive-fuzz")
	for _, tt := range escapeTests(tmpName) {
		// The absolute paths of the sandbox change from run to run;
		// the fuzzer makes do with those of one.
		f.Add(tarball(f, tt.ents("/tmp/fuzz")...), tt.whiteouts)
	}
	null := mk(tar.TypeChar, "dev/null", 0o666)
	null.Devmajor, null.Devminor = 1, 3
	f.Add(tarball(f, dir("./"), dir("a"), file("a/f", "x"), hardlink("a/h", "a/f"), symlink("a/l", "../.."),
		null, mk(tar.TypeFifo, "p", 0o600), file("a/l/x", "y"), file(".wh.a", ""), file("b/.wh..wh..opq", "")), true)

	// A tmpfs of its own makes each run faster than a disk, where each
	// directory removed may wait for a discard, and bounds what a run can
	// write.
	base := f.TempDir()
	if err := unix.Mount("tmpfs", base, "tmpfs", 0, "size=256m"); err != nil {
		f.Logf("fuzzing on the disk: mount tmpfs: %v", err)
	} else {
		f.Cleanup(func() { unix.Unmount(base, unix.MNT_DETACH) })
	}
	f.Fuzz(func(t *testing.T, data []byte, whiteouts bool) {
		data = fixChecksums(data)
		// Entries as large as the fuzzer likes would only test the disk.
		tr := tar.NewReader(bytes.NewReader(data))
		for {
			hdr, err := tr.Next()
			if err != nil {
				break
			}
			if hdr.Size > 1<<20 {
				t.Skip("entry too large")
			}
		}
		parent, err := os.MkdirTemp(base, "")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(parent)
		target := fillSandbox(t, parent)
		before := snapshot(t, parent, target)
		Apply(context.Background(), target, bytes.NewReader(data), Options{Whiteouts: whiteouts})
		sameSnapshot(t, before, snapshot(t, parent, target))
		if _, err := os.Lstat(tmpName); err == nil {
			os.Remove(tmpName)
			t.Fatalf("%s created", tmpName)
		}
	})
}

// fixChecksums rewrites the checksum of every block that looks like a tar
// header (ustar magic at 257). Without it, nearly every change the fuzzer
// makes to a header's names, types or links would only test the checksum
// check. Blocks whose magic it breaks stay broken, for the parser to meet.
func fixChecksums(data []byte) []byte {
	data = bytes.Clone(data) // the fuzzer's own
	for off := 0; off+512 <= len(data); off += 512 {
		blk := data[off : off+512]
		if !bytes.Equal(blk[257:262], []byte("ustar")) {
			continue
		}
		copy(blk[148:156], "        ")
		sum := 0
		for _, b := range blk {
			sum += int(b)
		}
		copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
	}
	return data
}

// TestMain caps the time the fuzzer spends minimizing an input, unless
// -test.fuzzminimizetime says otherwise: inputs here are archives of a
// few kilobytes, which the minimizer, quadratic in their length, cannot
// shrink within its default 60 s, so that a 60 s run would only minimize.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		flag.Set("test.fuzzminimizetime", "5s")
	}
	os.Exit(m.Run())
}

package containers

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSubordinateRanges(t *testing.T) {
	f := filepath.Join(t.TempDir(), "subuid")
	// alice: 100000-165535 overlaps the slots at 65536 and 131072; bob's
	// range starts on a slot and ends inside the next one.
	os.WriteFile(f, []byte("alice:100000:65536\nbob:524288:65537\n# junk\nbroken:x:1\n"), 0o644)
	used := subordinateRanges(f, filepath.Join(t.TempDir(), "missing"))
	for _, s := range []uint32{65536, 131072, 524288, 589824} {
		if !used[s] {
			t.Errorf("slot %d not taken", s)
		}
	}
	for _, s := range []uint32{0, 196608, 655360} {
		if used[s] {
			t.Errorf("slot %d taken", s)
		}
	}
}

package importer

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestLowSpace(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		size, avail uint64 // MiB
		low         bool
	}{
		{40, 1, true},       // a small tmpfs: 16 MiB kept
		{40, 17, false},     //
		{1000, 49, true},    // 5% of 1000 MiB
		{1000, 51, false},   //
		{500000, 900, true}, // a large disk: 1 GiB kept
		{500000, 1100, false},
	} {
		st := unix.Statfs_t{Bsize: 4096, Blocks: c.size * mib / 4096, Bavail: c.avail * mib / 4096}
		if low := lowSpace(&st, "/x") != nil; low != c.low {
			t.Errorf("%d MiB free of %d MiB: low = %v, want %v", c.avail, c.size, low, c.low)
		}
	}
}

func TestLowInodes(t *testing.T) {
	for _, c := range []struct {
		files, free uint64
		low         bool
	}{
		{16384, 800, true}, // 5% of 16384 is 819
		{16384, 900, false},
		{0, 0, false}, // btrfs: no inode count
	} {
		st := unix.Statfs_t{Bsize: 4096, Blocks: 1 << 20, Bavail: 1 << 19, Files: c.files, Ffree: c.free}
		if low := lowSpace(&st, "/x") != nil; low != c.low {
			t.Errorf("%d of %d inodes free: low = %v, want %v", c.free, c.files, low, c.low)
		}
	}
}

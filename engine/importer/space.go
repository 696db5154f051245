package importer

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/progress"
)

// An import stops before it fills the filesystem of the store: a
// compressible archive or a sparse disk image can expand to far more than
// its size, and a full /var takes the journal, package updates and every
// other container with it. Whatever wrote the bytes (the tar applier, the
// tree copier, qemu-img), a watcher sees the free space go and cancels the
// import while a reserve is left; the transaction then removes what it
// made.
const (
	spaceInterval   = 25 * time.Millisecond
	reserveFraction = 20       // 1/20: 5% of the filesystem
	reserveMax      = 1 << 30  // but at most 1 GiB
	reserveMin      = 16 << 20 // and at least 16 MiB
)

// reserve is the space an import leaves free on a filesystem of size bytes.
func reserve(size uint64) uint64 {
	return min(max(size/reserveFraction, reserveMin), reserveMax)
}

// lowSpace says, as the error to stop with, whether the filesystem that
// st describes has less room left than its reserve: of blocks, and of
// inodes, since an archive of empty files can take every inode of /var
// in a few compressed megabytes. Bavail, not Bfree: the blocks ext4 keeps
// for root stay for the system, on top of the reserve. A filesystem
// without an inode count (btrfs says 0) has only blocks to run out of.
func lowSpace(st *unix.Statfs_t, dir string) error {
	bs := uint64(st.Bsize)
	if avail, want := st.Bavail*bs, reserve(st.Blocks*bs); avail < want {
		return fmt.Errorf("disk full: %s left on the filesystem of %s, where imports keep %s free; the import stopped there: %w",
			progress.HumanBytes(int64(avail)), dir, progress.HumanBytes(int64(want)), syscall.ENOSPC)
	}
	if want := st.Files / reserveFraction; st.Files > 0 && st.Ffree < want {
		return fmt.Errorf("disk full: %d inodes left on the filesystem of %s, where imports keep %d free; the import stopped there: %w",
			st.Ffree, dir, want, syscall.ENOSPC)
	}
	return nil
}

// watchSpace cancels ctx, with an error saying so, once the filesystem of
// dir runs low; it returns when ctx ends.
func watchSpace(ctx context.Context, dir string, cancel context.CancelCauseFunc) {
	t := time.NewTicker(spaceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) != nil {
			continue
		}
		if err := lowSpace(&st, dir); err != nil {
			cancel(err)
			return
		}
	}
}

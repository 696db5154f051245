package diskimage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/errdefs"
)

// copyChunk is how much is copied between looks at the context, so that
// a cancelled import stops within a second or so.
const copyChunk = 64 << 20

// privateCopy copies src to the new file dst. A reflink (FICLONE) comes
// first: instant where the file system shares extents (btrfs, XFS), and
// like any copy it does not see later writes to src. Where it fails (other
// file systems, or src on another one), the data is copied range by
// range and holes stay holes, so a sparse image takes no more room than
// the original.
func privateCopy(ctx context.Context, src *os.File, dst string) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if unix.IoctlFileClone(int(out.Fd()), int(src.Fd())) != nil {
		err = copyData(ctx, out, src)
	}
	return errors.Join(err, out.Close())
}

// copyData copies the data ranges of src (SEEK_DATA to SEEK_HOLE; a file
// system without holes reports the whole file as one range) and sets the
// length, which leaves the rest as holes.
func copyData(ctx context.Context, dst, src *os.File) error {
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	for off := int64(0); off < size; {
		start, err := src.Seek(off, unix.SEEK_DATA)
		if errors.Is(err, syscall.ENXIO) {
			break // only a hole up to the end
		}
		if err != nil {
			return err
		}
		if start >= size {
			break // data the file gained since Stat
		}
		end, err := src.Seek(start, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		end = min(end, size)
		if err := copyRange(ctx, dst, src, start, end); err != nil {
			return err
		}
		off = end
	}
	return dst.Truncate(size)
}

// copyRange copies bytes start to end of src to the same place in dst.
// io.CopyN between two files uses copy_file_range where the kernel can
// (which may share extents, or copy inside the kernel) and read and write
// where it cannot.
func copyRange(ctx context.Context, dst, src *os.File, start, end int64) error {
	if _, err := src.Seek(start, io.SeekStart); err != nil {
		return err
	}
	if _, err := dst.Seek(start, io.SeekStart); err != nil {
		return err
	}
	for off := start; off < end; off += copyChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.CopyN(dst, src, min(copyChunk, end-off)); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("the image shrank while it was copied: %w", errdefs.ErrCorrupt)
			}
			return err
		}
	}
	return nil
}

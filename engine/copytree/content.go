package copytree

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// chunk is the most one copy_file_range call copies, so that progress
// moves during a large file.
const chunk = 64 << 20

// copyContent copies the content of the regular file src to dst, adding
// to copied as it goes. A file with holes keeps them: only its data
// segments are copied. It stops between chunks once ctx ends.
func copyContent(ctx context.Context, src, dst int, st *unix.Stat_t, copied *atomic.Int64) error {
	if st.Size == 0 {
		return nil
	}
	if st.Blocks*512 >= st.Size {
		return copyRange(ctx, src, dst, 0, st.Size, copied)
	}
	for off := int64(0); off < st.Size; {
		data, err := unix.Seek(src, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // a hole to the end
		}
		if err != nil {
			return err
		}
		hole, err := unix.Seek(src, data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		if err := copyRange(ctx, src, dst, data, min(hole, st.Size)-data, copied); err != nil {
			return err
		}
		off = hole
	}
	return unix.Ftruncate(dst, st.Size)
}

// copyRange copies n bytes at off from src to the same offset in dst,
// with copy_file_range or, where the filesystems cannot, read and write.
// It stops early if src ends early.
func copyRange(ctx context.Context, src, dst int, off, n int64, copied *atomic.Int64) error {
	for end := off + n; off < end; {
		if err := ctx.Err(); err != nil {
			return err
		}
		soff, doff := off, off
		m, err := unix.CopyFileRange(src, &soff, dst, &doff, int(min(end-off, chunk)), 0)
		switch err {
		case nil:
		case unix.EXDEV, unix.ENOSYS, unix.EOPNOTSUPP, unix.EINVAL:
			return readWrite(ctx, src, dst, off, end-off, copied)
		default:
			return err
		}
		if m == 0 {
			return nil // src shrank
		}
		off += int64(m)
		copied.Add(int64(m))
	}
	return nil
}

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 1<<20)
	return &b
}}

func readWrite(ctx context.Context, src, dst int, off, n int64, copied *atomic.Int64) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for end := off + n; off < end; {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf := (*bp)[:min(int64(len(*bp)), end-off)]
		m, err := unix.Pread(src, buf, off)
		if err != nil {
			return err
		}
		if m == 0 {
			return nil
		}
		for w := 0; w < m; {
			k, err := unix.Pwrite(dst, buf[w:m], off+int64(w))
			if err != nil {
				return err
			}
			if k == 0 {
				return io.ErrShortWrite
			}
			w += k
		}
		off += int64(m)
		copied.Add(int64(m))
	}
	return nil
}

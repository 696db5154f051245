package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/progress"
	"github.com/sdme/sdme/engine/readahead"
	"github.com/ulikunitz/xz"
)

// Compression is the kind of compression of a stream.
type Compression int

const (
	None Compression = iota
	Gzip
	Bzip2
	Xz
	Zstd
)

func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Bzip2:
		return "bzip2"
	case Xz:
		return "xz"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

var magics = []struct {
	c     Compression
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{Bzip2, []byte("BZh")},
	{Xz, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
}

// maxMagic is the length of the longest magic number.
const maxMagic = 6

// maxWindow bounds the memory a decompressor takes for its window (zstd)
// or dictionary (xz), whose size a stream declares in its first bytes,
// and which is allocated before any data proves the stream real: 128 MiB,
// the most the zstd command accepts without --long or --memory, and twice
// what xz -9 uses. gzip's window is 32 KiB and bzip2's blocks 900 kB.
const maxWindow = 128 << 20

// DetectCompression tells the compression of a stream from its first
// bytes. A file's name is no guide: registries and mirrors name files as
// they please. A head shorter than a magic number does not match it, and a
// stream that matches none is taken as uncompressed.
func DetectCompression(head []byte) Compression {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.c
		}
	}
	return None
}

// Decompress reads the first bytes of r to detect its compression and
// returns a reader of the decompressed stream, and the kind it detected.
// A stream that matches no magic number is returned as it is. The caller
// closes the reader, which does not close r.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, err := br.Peek(maxMagic)
	if err != nil && err != io.EOF { // a short stream just matches no magic
		return nil, None, err
	}
	c := DetectCompression(head)
	rc, err := decompressor(c, br)
	if err != nil {
		if !errors.Is(err, errdefs.ErrUnsupported) && !errors.Is(err, errdefs.ErrCorrupt) {
			err = fmt.Errorf("%s stream: %w: %w", c, err, errdefs.ErrCorrupt)
		}
		return nil, c, err
	}
	if c != None {
		// The decompressor runs on one core, the caller writes on another,
		// as tar with an external decompressor does.
		rc = readahead.New(rc, 1<<20, 4)
	}
	return rc, c, nil
}

func decompressor(c Compression, r *bufio.Reader) (io.ReadCloser, error) {
	switch c {
	case Gzip:
		return gzip.NewReader(r)
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	case Xz:
		g := newXZGuard(r, maxWindow)
		if err := g.start(); err != nil {
			return nil, err
		}
		xr, err := xz.NewReader(g)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(xr), nil
	case Zstd:
		if err := checkZstdWindow(r); err != nil {
			return nil, err
		}
		// One decoder goroutine is faster than zstd's own concurrency
		// (measured: 1.1 vs 0.7 GB/s on two cores); readahead overlaps it
		// with the writing of files. The limits refuse the frames after
		// the first whose windows are too large (MaxMemory bounds those
		// of single-segment frames, their whole content).
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(maxWindow), zstd.WithDecoderMaxMemory(maxWindow))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

// checkZstdWindow refuses a stream whose first frame asks for a window
// over the limit, saying how large; the decoder refuses such later frames
// as corrupt data.
func checkZstdWindow(r *bufio.Reader) error {
	head, _ := r.Peek(zstd.HeaderMaxSize)
	var h zstd.Header
	if h.Decode(head) != nil {
		return nil // the decoder says what is wrong with it
	}
	window := h.WindowSize
	if h.SingleSegment { // the window is the frame's whole content
		window = h.FrameContentSize
	}
	if window > maxWindow {
		return fmt.Errorf("zstd stream: a window of %s is more than the %s sdme accepts (compressed with --long or --ultra): %w",
			progress.HumanBytes(int64(min(window, 1<<62))), progress.HumanBytes(maxWindow), errdefs.ErrUnsupported)
	}
	return nil
}

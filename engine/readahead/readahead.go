// Package readahead reads a stream in a goroutine of its own, a bounded
// number of chunks ahead of its reader: a decompressor then runs on one
// core while files are written on another, and a download goes on while
// the layer before it is unpacked.
package readahead

import (
	"fmt"
	"io"

	"github.com/sdme/sdme/engine/errdefs"
)

// Reader is a stream being read ahead.
type Reader struct {
	src    io.Reader
	chunks chan []byte
	stop   chan struct{}
	err    error // set before chunks is closed
	cur    []byte
}

// New starts reading src in chunks of chunkSize bytes, at most n chunks
// ahead. If src is an io.Closer, the goroutine closes it when it ends.
func New(src io.Reader, chunkSize, n int) *Reader {
	r := &Reader{src: src, chunks: make(chan []byte, n), stop: make(chan struct{})}
	go r.fill(chunkSize)
	return r
}

func (r *Reader) fill(size int) {
	if c, ok := r.src.(io.Closer); ok {
		defer c.Close()
	}
	defer close(r.chunks)
	// The source is often a decoder of data from elsewhere, and a panic in
	// a goroutine ends the process: in the varlink service, every client's
	// work. A decoder that panics on crafted input fails its stream instead.
	defer func() {
		if p := recover(); p != nil {
			r.err = fmt.Errorf("decoding the stream failed: panic: %v: %w", p, errdefs.ErrCorrupt)
		}
	}()
	for {
		buf, err := readChunk(r.src, size)
		if len(buf) > 0 {
			select {
			case r.chunks <- buf:
			case <-r.stop:
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			r.err = err
			return
		}
	}
}

// readChunk fills a chunk from r. Unlike io.ReadFull it keeps an error
// that comes with the last bytes: a verifying reader reports a digest
// mismatch there.
func readChunk(r io.Reader, size int) ([]byte, error) {
	buf := make([]byte, size)
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return buf[:n], err
		}
	}
	return buf[:n], nil
}

// Read returns the stream's bytes in order, then its error or io.EOF.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		c, ok := <-r.chunks
		if !ok {
			if r.err != nil {
				return 0, r.err
			}
			return 0, io.EOF
		}
		r.cur = c
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Close stops reading ahead. It does not wait for a read in progress,
// which may be stuck on a stalled network: that read ends when the source
// is closed or its context cancelled, and the goroutine then exits.
func (r *Reader) Close() error {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	return nil
}

package oci

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sdme/sdme/engine/archive"
	"github.com/sdme/sdme/engine/progress"
)

// Fetching runs ahead of unpacking by at most this many layers, each
// buffered in memory up to prefetchBytes: enough to overlap downloads
// with the writing of the layer before, without spooling blobs to disk.
const (
	prefetchLayers = 3
	prefetchBytes  = 16 << 20
	chunkSize      = 256 << 10
)

// Unpack applies the layers of img in order into dir, which must exist,
// with OCI whiteout semantics. Every blob is verified against its digest;
// a mismatch fails the unpack. Download progress goes to rep, one task a
// layer.
func (img *Image) Unpack(ctx context.Context, dir string, rep progress.Reporter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan struct{}, prefetchLayers)
	streams := make([]*prefetch, len(img.Layers))
	for i := range streams {
		streams[i] = &prefetch{chunks: make(chan []byte, prefetchBytes/chunkSize), done: make(chan struct{})}
	}
	// One dispatcher starts the fetches in layer order, so a later layer
	// can never hold the slot an earlier one waits for.
	go func() {
		for i, l := range img.Layers {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			label := fmt.Sprintf("layer %d/%d %s", i+1, len(img.Layers), short(l.Digest))
			task := progress.StartTask(rep, l.Digest, label, l.Size)
			go streams[i].fetch(ctx, l, task)
		}
	}()
	for i, l := range img.Layers {
		err := apply(ctx, dir, streams[i])
		<-slots
		if err != nil {
			return fmt.Errorf("image %s: layer %d/%d (%s): %w", img.Ref, i+1, len(img.Layers), l.Digest, err)
		}
	}
	return nil
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

// apply unpacks one layer, then reads its blob to the end so that the
// digest is checked even past the tar's end-of-archive marker.
func apply(ctx context.Context, dir string, p *prefetch) error {
	defer p.close()
	dec, _, err := archive.Decompress(p)
	if err != nil {
		return err
	}
	defer dec.Close()
	if err := archive.Apply(ctx, dir, dec, archive.Options{Whiteouts: true}); err != nil {
		// A digest or transfer error explains a broken tar better.
		if ferr := p.failure(); ferr != nil {
			return ferr
		}
		return err
	}
	if _, err := io.Copy(io.Discard, dec); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, p)
	return err
}

// prefetch is a layer's blob being downloaded ahead of its reader into a
// bounded queue of chunks.
type prefetch struct {
	chunks chan []byte
	done   chan struct{} // closed by the reader when it stops
	err    error         // set before chunks is closed
	cur    []byte
}

// errStopped ends a fetch whose reader gave up first.
var errStopped = errors.New("unpacking stopped")

func (p *prefetch) fetch(ctx context.Context, l Layer, task *progress.Task) {
	defer close(p.chunks)
	err := p.copy(ctx, l, task)
	task.Finish(err)
	if err != errStopped {
		p.err = err
	}
}

func (p *prefetch) copy(ctx context.Context, l Layer, task *progress.Task) error {
	rc, err := l.open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	for {
		buf, err := readChunk(rc)
		if len(buf) > 0 {
			task.Add(int64(len(buf)))
			select {
			case p.chunks <- buf:
			case <-p.done:
				return errStopped
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readChunk fills a chunk from r. Unlike io.ReadFull it keeps an error
// that comes with the last bytes: a blob reports a digest mismatch there.
func readChunk(r io.Reader) ([]byte, error) {
	buf := make([]byte, chunkSize)
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

// Read returns the blob's bytes in order, then its fetch error or io.EOF.
func (p *prefetch) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		c, ok := <-p.chunks
		if !ok {
			if p.err != nil {
				return 0, p.err
			}
			return 0, io.EOF
		}
		p.cur = c
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// failure reads the rest of the blob and returns the fetch's error, if
// any: only at its end does a blob show whether its digest matched.
func (p *prefetch) failure() error {
	_, err := io.Copy(io.Discard, p)
	return err
}

func (p *prefetch) close() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
}

package oci

import (
	"context"
	"fmt"
	"io"

	"github.com/sdme/sdme/engine/archive"
	"github.com/sdme/sdme/engine/progress"
	"github.com/sdme/sdme/engine/readahead"
)

// Fetching runs ahead of unpacking by at most prefetchLayers layers, each
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
	f := img.prefetch(ctx, rep)
	// Cancelled first, so that the dispatcher and the downloads stop.
	defer f.stop()
	defer cancel()
	for i, l := range img.Layers {
		r, err := f.take(ctx, i)
		if err != nil {
			return err
		}
		err = apply(ctx, dir, r)
		f.release(r)
		if err != nil {
			return fmt.Errorf("image %s: layer %d/%d (%s): %w", img.Ref, i+1, len(img.Layers), l.Digest, err)
		}
	}
	return nil
}

// prefetcher fetches the layers of an image in order, at most
// prefetchLayers ahead of the one being applied.
type prefetcher struct {
	slots chan struct{}
	ready []chan *readahead.Reader
	done  chan struct{} // closed when the dispatcher has returned
}

// prefetch starts the dispatcher, which runs until it has started every
// layer's fetch or ctx is cancelled.
func (img *Image) prefetch(ctx context.Context, rep progress.Reporter) *prefetcher {
	f := &prefetcher{
		slots: make(chan struct{}, prefetchLayers),
		ready: make([]chan *readahead.Reader, len(img.Layers)),
		done:  make(chan struct{}),
	}
	for i := range f.ready {
		f.ready[i] = make(chan *readahead.Reader, 1)
	}
	// One dispatcher starts the fetches in layer order, so a later layer
	// can never hold the slot an earlier one waits for.
	go func() {
		defer close(f.done)
		for i, l := range img.Layers {
			select {
			case f.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			label := fmt.Sprintf("layer %d/%d %s", i+1, len(img.Layers), short(l.Digest))
			blob := &blobStream{ctx: ctx, layer: l, task: progress.StartTask(rep, l.Digest, label, l.Size)}
			f.ready[i] <- readahead.New(blob, chunkSize, prefetchBytes/chunkSize)
		}
	}()
	return f
}

// take waits for the stream of layer i.
func (f *prefetcher) take(ctx context.Context, i int) (*readahead.Reader, error) {
	select {
	case r := <-f.ready[i]:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release closes a stream that take returned and frees its slot.
func (f *prefetcher) release(r *readahead.Reader) {
	r.Close()
	<-f.slots
}

// stop waits for the dispatcher, whose context the caller has cancelled,
// and closes the streams it started that were never taken. Left open,
// each would keep its read-ahead goroutine blocked for good, with up to
// prefetchBytes of buffers and its download.
func (f *prefetcher) stop() {
	<-f.done
	for _, c := range f.ready {
		select {
		case r := <-c:
			r.Close()
		default:
		}
	}
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

// apply unpacks one layer, then reads its blob to the end so that the
// digest is checked even past the tar's end-of-archive marker.
func apply(ctx context.Context, dir string, blob io.Reader) error {
	dec, _, err := archive.Decompress(blob)
	if err != nil {
		return err
	}
	defer dec.Close()
	if err := archive.Apply(ctx, dir, dec, archive.Options{Whiteouts: true}); err != nil {
		// A digest or transfer error explains a broken tar better, and
		// only the end of the blob tells whether there is one.
		if ferr := drain(ctx, blob); ferr != nil {
			return ferr
		}
		return err
	}
	if err := drain(ctx, dec); err != nil {
		return err
	}
	return drain(ctx, blob)
}

// drain reads r to its end, as io.Copy to io.Discard does, but stops once
// ctx ends: what follows a tar's end may be gigabytes that decompress
// from a few bytes, or a large blob on a slow disk.
func drain(ctx context.Context, r io.Reader) error {
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := r.Read(buf); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// blobStream opens a layer's blob on first read, counts what it reads as
// the layer's download progress, and finishes the task at the end.
type blobStream struct {
	ctx   context.Context
	layer Layer
	task  *progress.Task
	rc    io.ReadCloser
	done  bool
}

func (b *blobStream) Read(p []byte) (int, error) {
	if b.rc == nil {
		rc, err := b.layer.open(b.ctx)
		if err != nil {
			b.finish(err)
			return 0, err
		}
		b.rc = rc
	}
	n, err := b.rc.Read(p)
	b.task.Add(int64(n))
	if err == io.EOF {
		b.finish(nil)
	} else if err != nil {
		b.finish(err)
	}
	return n, err
}

func (b *blobStream) finish(err error) {
	if !b.done {
		b.done = true
		b.task.Finish(err)
	}
}

// Close ends the download, finished or not.
func (b *blobStream) Close() error {
	b.finish(context.Canceled)
	if b.rc == nil {
		return nil
	}
	return b.rc.Close()
}

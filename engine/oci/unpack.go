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
	defer cancel()
	slots := make(chan struct{}, prefetchLayers)
	ready := make([]chan *readahead.Reader, len(img.Layers))
	for i := range ready {
		ready[i] = make(chan *readahead.Reader, 1)
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
			blob := &blobStream{ctx: ctx, layer: l, task: progress.StartTask(rep, l.Digest, label, l.Size)}
			ready[i] <- readahead.New(blob, chunkSize, prefetchBytes/chunkSize)
		}
	}()
	for i, l := range img.Layers {
		var r *readahead.Reader
		select {
		case r = <-ready[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		err := apply(ctx, dir, r)
		r.Close()
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
func apply(ctx context.Context, dir string, blob io.Reader) error {
	dec, _, err := archive.Decompress(blob)
	if err != nil {
		return err
	}
	defer dec.Close()
	if err := archive.Apply(ctx, dir, dec, archive.Options{Whiteouts: true}); err != nil {
		// A digest or transfer error explains a broken tar better, and
		// only the end of the blob tells whether there is one.
		if _, ferr := io.Copy(io.Discard, blob); ferr != nil {
			return ferr
		}
		return err
	}
	if _, err := io.Copy(io.Discard, dec); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, blob)
	return err
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

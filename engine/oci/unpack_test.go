package oci

import (
	"context"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdme/sdme/engine/progress"
)

// recordedBlob is a layer's blob that records whether it was closed.
type recordedBlob struct {
	io.Reader
	closed chan struct{}
}

func (b *recordedBlob) Close() error { close(b.closed); return nil }

// zeros is a blob larger than what is read ahead of it: its read-ahead
// goroutine fills its buffers and waits.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestFailedLayerStopsThePrefetch: when a layer fails, the layers fetched
// ahead of it are closed and every goroutine Unpack started ends.
func TestFailedLayerStopsThePrefetch(t *testing.T) {
	var mu sync.Mutex
	var opened []*recordedBlob
	layer := func(content io.Reader) Layer {
		return Layer{Digest: "sha256:fake", Size: -1, open: func(context.Context) (io.ReadCloser, error) {
			b := &recordedBlob{Reader: content, closed: make(chan struct{})}
			mu.Lock()
			opened = append(opened, b)
			mu.Unlock()
			return b, nil
		}}
	}
	img := &Image{Ref: "test", Layers: []Layer{
		layer(strings.NewReader("not a tar archive")),
		layer(zeros{}), layer(zeros{}), layer(zeros{}), layer(zeros{}),
	}}
	before := runtime.NumGoroutine()
	if err := img.Unpack(context.Background(), t.TempDir(), progress.Discard); err == nil {
		t.Fatal("a layer that is not a tar archive was applied")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		open := 0
		for _, b := range opened {
			select {
			case <-b.closed:
			default:
				open++
			}
		}
		mu.Unlock()
		running := runtime.NumGoroutine() - before
		if open == 0 && running <= 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Unpack returned: %d blobs still open, %d goroutines still running", open, running)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

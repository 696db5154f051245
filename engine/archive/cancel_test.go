package archive

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// zeroReader reads as endless zeros.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// One entry of 64 GiB of zeros, which a few kilobytes of compressed
// layer can hold: cancelling must stop Apply inside the entry, not at
// its end.
func TestApplyStopsInsideAnEntry(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 64 << 30})
		_, err := io.Copy(tw, io.LimitReader(zeroReader{}, 64<<30))
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err := Apply(ctx, t.TempDir(), pr, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Apply took %s to see the cancellation", d)
	}
}

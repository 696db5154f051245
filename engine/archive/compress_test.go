package archive

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/internal/testroot"
	"github.com/ulikunitz/xz"
)

func TestDetectCompression(t *testing.T) {
	tests := []struct {
		head []byte
		want Compression
	}{
		{[]byte{0x1f, 0x8b, 0x08, 0x00}, Gzip},
		{[]byte("BZh91AY&SY"), Bzip2},
		{[]byte{0xfd, '7', 'z', 'X', 'Z', 0x00, 0x00}, Xz},
		{[]byte{0x28, 0xb5, 0x2f, 0xfd, 0x04}, Zstd},
		{[]byte("usr/\x00\x00\x00"), None},
		{nil, None},
		{[]byte{0x1f}, None},                           // shorter than gzip's magic
		{[]byte("BZ"), None},                           // shorter than bzip2's
		{[]byte{0xfd, '7', 'z', 'X', 'Z'}, None},       // one byte short of xz's
		{[]byte{0x28, 0xb5, 0x2f}, None},               // one byte short of zstd's
		{[]byte{0xfd, '7', 'z', 'X', 'Z', 0x01}, None}, // xz's with a wrong last byte
	}
	for _, tt := range tests {
		if got := DetectCompression(tt.head); got != tt.want {
			t.Errorf("DetectCompression(%q) = %v, want %v", tt.head, got, tt.want)
		}
	}
}

// bzip2Hello is "hello, bzip2\n" compressed by bzip2 -9: the standard
// library reads bzip2 but cannot write it.
var bzip2Hello = []byte{
	0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0xb1, 0x23,
	0xde, 0x43, 0x00, 0x00, 0x03, 0x59, 0x80, 0x00, 0x10, 0x40, 0x04, 0x10,
	0x00, 0x12, 0x64, 0xc0, 0x10, 0x20, 0x00, 0x31, 0x03, 0x40, 0xd0, 0x20,
	0x01, 0xa6, 0x91, 0x03, 0xab, 0x6c, 0x82, 0x84, 0xf8, 0xbb, 0x92, 0x29,
	0xc2, 0x84, 0x85, 0x89, 0x1e, 0xf2, 0x18,
}

func TestDecompress(t *testing.T) {
	const text = "hello, bzip2\n"
	compress := func(w func(io.Writer) io.WriteCloser) []byte {
		var buf bytes.Buffer
		zw := w(&buf)
		zw.Write([]byte(text))
		zw.Close()
		return buf.Bytes()
	}
	tests := []struct {
		data []byte
		want Compression
		text string
	}{
		{[]byte(text), None, text},
		{[]byte{0x1f}, None, "\x1f"}, // a stream shorter than any magic
		{nil, None, ""},
		{compress(func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }), Gzip, text},
		{bzip2Hello, Bzip2, text},
		{compress(func(w io.Writer) io.WriteCloser { zw, _ := xz.NewWriter(w); return zw }), Xz, text},
		{compress(func(w io.Writer) io.WriteCloser { zw, _ := zstd.NewWriter(w); return zw }), Zstd, text},
	}
	for _, tt := range tests {
		// One byte at a time: detection must not need the magic in one read.
		r, c, err := Decompress(iotest.OneByteReader(bytes.NewReader(tt.data)))
		if err != nil {
			t.Errorf("%v: %v", tt.want, err)
			continue
		}
		got, err := io.ReadAll(r)
		r.Close()
		if c != tt.want || string(got) != tt.text || err != nil {
			t.Errorf("Decompress(%.8q) = %v, %q, %v; want %v, %q", tt.data, c, got, err, tt.want, tt.text)
		}
	}
}

func TestDecompressCorrupt(t *testing.T) {
	for _, data := range [][]byte{
		{0x1f, 0x8b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0xfd, '7', 'z', 'X', 'Z', 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		[]byte("BZh9garbage garbage garbage"),
	} {
		r, c, err := Decompress(bytes.NewReader(data))
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
			if err == nil {
				t.Errorf("%v: corrupt stream read without error", c)
			}
			continue // errors while reading are Apply's to classify
		}
		if !errors.Is(err, errdefs.ErrCorrupt) {
			t.Errorf("%v: got %v, want ErrCorrupt", c, err)
		}
	}
}

func TestApplyCorruptCompressed(t *testing.T) {
	testroot.Require(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(tarball(t, file("a", "x"), file("b", string(bytes.Repeat([]byte("y"), 100000)))))
	zw.Close()
	cut := buf.Bytes()[:buf.Len()/2]
	r, _, err := Decompress(bytes.NewReader(cut))
	if err != nil {
		t.Fatal(err)
	}
	err = Apply(t.Context(), t.TempDir(), r, Options{})
	if !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
}

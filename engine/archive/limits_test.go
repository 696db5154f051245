package archive

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/internal/testroot"
	"github.com/ulikunitz/xz"
)

// xzStream compresses data with the xz library; opts change its writer.
func xzStream(t testing.TB, data []byte, opts func(*xz.WriterConfig)) []byte {
	t.Helper()
	c := xz.WriterConfig{}
	if opts != nil {
		opts(&c)
	}
	var buf bytes.Buffer
	w, err := c.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withDictCode rewrites the LZMA2 dictionary size of the first block
// header of an xz stream, and its CRC32: what a hostile stream declares
// costs it one byte.
func withDictCode(t testing.TB, stream []byte, code byte) []byte {
	t.Helper()
	s := bytes.Clone(stream)
	h := s[xzHeaderLen : xzHeaderLen+(int(s[xzHeaderLen])+1)*4]
	i := bytes.Index(h, []byte{lzma2FilterID, 1})
	if i < 0 {
		t.Fatal("no LZMA2 filter in the first block header")
	}
	h[i+2] = code
	binary.LittleEndian.PutUint32(h[len(h)-4:], crc32.ChecksumIEEE(h[:len(h)-4]))
	return s
}

// readAll decompresses data and reports what was read, the error, and
// the bytes allocated meanwhile.
func readAll(t *testing.T, data []byte) ([]byte, error, uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, _, err := Decompress(bytes.NewReader(data))
	var got []byte
	if err == nil {
		got, err = io.ReadAll(r)
		r.Close()
	}
	runtime.ReadMemStats(&after)
	return got, err, after.TotalAlloc - before.TotalAlloc
}

func TestXZDictionaryOverTheLimit(t *testing.T) {
	tar := tarball(t, file("etc/os-release", "ID=tiny\n"))
	for _, tt := range []struct {
		code byte
		want string
	}{
		{40, "4.0 GiB"},   // 4 GiB - 1, the most the format can say
		{31, "192.0 MiB"}, // the first size over 128 MiB
	} {
		stream := withDictCode(t, xzStream(t, tar, nil), tt.code)
		_, err, alloc := readAll(t, stream)
		if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "xz stream") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("a %d-byte xz stream declaring a dictionary of %s: got %v, want ErrUnsupported naming xz and the size", len(stream), tt.want, err)
		}
		if alloc > 32<<20 {
			t.Errorf("refusing it allocated %d MiB", alloc>>20)
		}
	}
	// 128 MiB itself (code 30) is accepted; the decoder allocates it.
	if _, err, _ := readAll(t, withDictCode(t, xzStream(t, tar, nil), 30)); err != nil {
		t.Errorf("a dictionary of 128 MiB: %v", err)
	}
}

// TestXZGuardPassesValidStreams: what the guard walks through is every
// part of the format the decoder reads: blocks with and without sizes,
// LZMA and uncompressed chunks, each kind of check, concatenated streams
// and stream padding.
func TestXZGuardPassesValidStreams(t *testing.T) {
	text := bytes.Repeat([]byte("a compressible line of a root filesystem\n"), 20000)
	random := make([]byte, 300_000) // stored as uncompressed chunks
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	data := append(bytes.Clone(text), random...)
	streams := map[string][]byte{
		"one block": xzStream(t, data, nil),
		"blocks":    xzStream(t, data, func(c *xz.WriterConfig) { c.BlockSize = 100_000 }),
		"no check":  xzStream(t, data, func(c *xz.WriterConfig) { c.CheckSum = xz.None }),
		"crc32":     xzStream(t, data, func(c *xz.WriterConfig) { c.CheckSum = xz.CRC32 }),
		"sha256":    xzStream(t, data, func(c *xz.WriterConfig) { c.CheckSum = xz.SHA256 }),
		"empty":     xzStream(t, nil, nil),
	}
	two := xzStream(t, text, nil)
	streams["two streams, padded"] = append(append(append(bytes.Clone(two), 0, 0, 0, 0, 0, 0, 0, 0), two...), 0, 0, 0, 0)
	want := map[string][]byte{"empty": {}, "two streams, padded": append(bytes.Clone(text), text...)}
	// The xz command writes block headers with sizes, and multithreaded,
	// many blocks.
	if _, err := exec.LookPath("xz"); err == nil {
		for name, args := range map[string][]string{
			"xz -T2 --block-size": {"-T2", "--block-size=65536", "--check=sha256"},
			"xz -0 --check=none":  {"-0", "--check=none"},
			"xz -9e":              {"-9e"},
		} {
			cmd := exec.Command("xz", append(args, "-c")...)
			cmd.Stdin = bytes.NewReader(data)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			streams[name] = out
		}
	}
	for name, stream := range streams {
		w, ok := want[name]
		if !ok {
			w = data
		}
		got, err, _ := readAll(t, stream)
		if err != nil || !bytes.Equal(got, w) {
			t.Errorf("%s: read %d bytes of %d, %v", name, len(got), len(w), err)
		}
	}
}

// zstdFrame is a zstd frame header with descriptor fhd, then a last,
// empty raw block.
func zstdFrame(fhd byte, fields ...byte) []byte {
	f := append([]byte{0x28, 0xb5, 0x2f, 0xfd, fhd}, fields...)
	return append(f, 0x01, 0x00, 0x00)
}

func TestZstdWindowOverTheLimit(t *testing.T) {
	var small bytes.Buffer
	zw, _ := zstd.NewWriter(&small)
	zw.Write([]byte("hello"))
	zw.Close()
	huge := zstdFrame(0x00, 22<<3) // window descriptor: 2^(10+22)
	over := zstdFrame(0x00, 18<<3) // 256 MiB: the decoder's default would take it
	for _, tt := range []struct {
		name, want string
		data       []byte
		class      error
	}{
		{"a 4 GiB window", "4.0 GiB", huge, errdefs.ErrUnsupported},
		{"a 256 MiB window", "256.0 MiB", over, errdefs.ErrUnsupported},
		// single segment, 8-byte content size: the window is the content
		{"a single segment of 4 GiB", "4.0 GiB", zstdFrame(0xe0, 0, 0, 0, 0, 1, 0, 0, 0), errdefs.ErrUnsupported},
		{"a small frame, then a 256 MiB window", "", append(small.Bytes(), over...), errdefs.ErrCorrupt},
	} {
		_, err, alloc := readAll(t, tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error naming %q", tt.name, err, tt.want)
		}
		if tt.class == errdefs.ErrUnsupported && (!errors.Is(err, tt.class) || !strings.Contains(err.Error(), "zstd stream")) {
			t.Errorf("%s: got %v, want ErrUnsupported naming zstd", tt.name, err)
		}
		if alloc > 32<<20 {
			t.Errorf("%s: refusing it allocated %d MiB", tt.name, alloc>>20)
		}
	}
	// 128 MiB itself is accepted.
	if _, err, _ := readAll(t, zstdFrame(0x00, 17<<3)); err != nil {
		t.Errorf("a 128 MiB window: %v", err)
	}
}

// TestApplyReportsTheRefusedWindow: a block refused after the first (here
// in a second stream) fails Apply with the refusal, not as a corrupt
// archive.
func TestApplyReportsTheRefusedWindow(t *testing.T) {
	testroot.Require(t)
	tar := tarball(t, file("a", strings.Repeat("x", 2000)), file("b", "y"))
	stream := append(xzStream(t, tar[:1024], nil), withDictCode(t, xzStream(t, tar[1024:], nil), 40)...)
	r, _, err := Decompress(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	err = Apply(t.Context(), t.TempDir(), r, Options{})
	if !errors.Is(err, errdefs.ErrUnsupported) || errors.Is(err, errdefs.ErrCorrupt) || !strings.Contains(err.Error(), "dictionary of 4.0 GiB") {
		t.Fatalf("got %v, want the refusal, not a corrupt archive", err)
	}
}

// TestXZRefusedWhenOpened: a refusal at the first block comes from
// Decompress, before the caller reads (which would take a stream that
// fails at once for an empty one).
func TestXZRefusedWhenOpened(t *testing.T) {
	stream := withDictCode(t, xzStream(t, tarball(t, file("a", "x")), nil), 40)
	_, _, err := Decompress(bytes.NewReader(stream))
	if !errors.Is(err, errdefs.ErrUnsupported) || !strings.Contains(err.Error(), "xz stream: block 1 needs a dictionary of 4.0 GiB") {
		t.Fatalf("Decompress: %v, want the refusal", err)
	}
	_, _, err = Decompress(bytes.NewReader(xzMagic))
	if !errors.Is(err, errdefs.ErrCorrupt) || strings.Count(err.Error(), "xz stream") != 1 {
		t.Fatalf("Decompress of a bare magic: %v", err)
	}
}

// FuzzXZGuard: the guard never panics, and it refuses as damaged only
// streams the xz library refuses too; what it passes decodes as without
// it. (The library runs unguarded only on streams that name no dictionary
// over the limit anywhere, so that the fuzzer cannot make it take 4 GiB.)
func FuzzXZGuard(f *testing.F) {
	text := bytes.Repeat([]byte("a line of a root filesystem\n"), 3000)
	f.Add(xzStream(f, text, nil))
	f.Add(xzStream(f, text, func(c *xz.WriterConfig) { c.BlockSize = 4096; c.CheckSum = xz.SHA256 }))
	f.Add(xzStream(f, nil, func(c *xz.WriterConfig) { c.CheckSum = xz.None }))
	two := xzStream(f, text[:500], nil)
	f.Add(append(append(bytes.Clone(two), 0, 0, 0, 0), two...))
	f.Add(withDictCode(f, xzStream(f, text, nil), 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		guarded, gerr := decodeXZ(data, true)
		if errors.Is(gerr, errdefs.ErrUnsupported) || namesLargeDictionary(data) {
			return
		}
		plain, perr := decodeXZ(data, false)
		switch {
		case gerr == nil && (perr != nil || !bytes.Equal(guarded, plain)):
			t.Fatalf("guarded: %d bytes; unguarded: %d bytes, %v", len(guarded), len(plain), perr)
		// The library takes a stream that ends where a block or index
		// should start as complete; the guard, as the xz command, calls
		// it truncated.
		case gerr != nil && perr == nil && !strings.Contains(gerr.Error(), "truncated"):
			t.Fatalf("the guard refused what the library decodes: %v", gerr)
		}
	})
}

func decodeXZ(data []byte, guarded bool) ([]byte, error) {
	var r io.Reader = bytes.NewReader(data)
	if guarded {
		g := newXZGuard(bufio.NewReader(r), maxWindow)
		if err := g.start(); err != nil {
			return nil, err
		}
		r = g
	}
	xr, err := xz.NewReader(r)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(xr, 16<<20))
}

// namesLargeDictionary reports whether data holds LZMA2's filter flags
// (ID 0x21, one byte of properties) with a dictionary over the limit.
func namesLargeDictionary(data []byte) bool {
	for i := 0; i+2 < len(data); i++ {
		if data[i] == lzma2FilterID && data[i+1] == 1 && lzma2DictSize(min(data[i+2], 40)) > maxWindow {
			return true
		}
	}
	return false
}

package archive

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/progress"
)

// xzGuard passes an xz stream through to the decoder, walking its
// structure (the xz file format 1.2: stream headers, block headers, LZMA2
// chunks, indexes, footers) to read each block's dictionary size before
// the decoder sees the block, and refuses a block whose dictionary is
// larger than limit.
//
// It exists because github.com/ulikunitz/xz cannot be told a limit: its
// ReaderConfig.DictCap is a floor (the larger of it and the block's size
// wins), and it allocates the block's dictionary on the block's first
// read, so 216 bytes that declare 4 GiB get 4 GiB. Everything else (the
// checks, the index, the decoding) is left to that library: the guard
// only needs the lengths the format states, and needs no state past one
// block.
type xzGuard struct {
	r     *bufio.Reader
	limit int64

	head []byte // checked bytes, passed on from off
	off  int
	body int // then this many bytes of chunk data, passed on unread
	step func() error
	err  error // what the next read returns once head and body are passed on

	checkLen int   // the size of each block's check in this stream
	block    int   // blocks so far, for messages
	blockLen int64 // the current block's header and data so far
	indexLen int64 // the current index so far
	records  uint64
}

func newXZGuard(r *bufio.Reader, limit int64) *xzGuard {
	g := &xzGuard{r: r, limit: limit}
	g.step = g.streamHeader
	return g
}

// start reads the stream header and the first block's header (or the
// index of a stream without blocks) ahead, so that a stream refused at its
// first block is refused when it is opened, before anything is read from
// it.
func (g *xzGuard) start() error {
	for range 2 {
		if err := g.step(); err != nil {
			return err
		}
	}
	return nil
}

// xzMagic starts every xz stream.
var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

const (
	xzHeaderLen   = 12
	lzma2FilterID = 0x21
)

// xzCheckLen is the size of a block's check for each check ID.
var xzCheckLen = [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

func (g *xzGuard) Read(p []byte) (int, error) {
	for g.off == len(g.head) && g.body == 0 {
		if g.err != nil {
			return 0, g.err
		}
		g.head, g.off = g.head[:0], 0
		if g.err = g.step(); g.err != nil {
			// Nothing of a refused header reaches the decoder.
			g.head, g.body = g.head[:0], 0
		}
	}
	if g.off < len(g.head) {
		n := copy(p, g.head[g.off:])
		g.off += n
		return n, nil
	}
	if len(p) > g.body {
		p = p[:g.body]
	}
	n, err := g.r.Read(p)
	g.body -= n
	if err == io.EOF {
		err = g.corrupt("truncated in a chunk")
	}
	return n, err
}

// take reads the next n bytes of the stream and queues them to pass on.
func (g *xzGuard) take(n int) ([]byte, error) {
	start := len(g.head)
	g.head = slices.Grow(g.head, n)[:start+n]
	if _, err := io.ReadFull(g.r, g.head[start:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, g.corrupt("truncated")
		}
		return nil, err
	}
	return g.head[start:], nil
}

// takeVLI reads a variable-length integer (at most 9 bytes of 7 bits).
func (g *xzGuard) takeVLI() (uint64, int, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		b, err := g.take(1)
		if err != nil {
			return 0, 0, err
		}
		v |= uint64(b[0]&0x7f) << (7 * i)
		if b[0]&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, g.corrupt("integer too long")
}

func (g *xzGuard) streamHeader() error {
	h, err := g.take(xzHeaderLen)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(h, xzMagic) || h[6] != 0 || h[7]&0xf0 != 0 {
		return g.corrupt("bad stream header")
	}
	g.checkLen = xzCheckLen[h[7]]
	g.step = g.blockOrIndex
	return nil
}

// blockOrIndex reads a block header, or the index that follows the last
// block, which starts with a zero where a block header has its size.
func (g *xzGuard) blockOrIndex() error {
	b, err := g.take(1)
	if err != nil {
		return err
	}
	if b[0] == 0 {
		g.indexLen = 1
		g.step = g.indexCount
		return nil
	}
	g.block++
	size := (int(b[0]) + 1) * 4
	rest, err := g.take(size - 1)
	if err != nil {
		return err
	}
	if err := g.checkBlockHeader(rest[:len(rest)-4]); err != nil { // less the CRC32
		return err
	}
	g.blockLen = int64(size)
	g.step = g.chunk
	return nil
}

// checkBlockHeader reads a block header (after its size byte, before its
// CRC32): the flags, the optional sizes and the one filter the decoder
// knows, LZMA2, with its dictionary size.
func (g *xzGuard) checkBlockHeader(h []byte) error {
	flags, h := h[0], h[1:]
	if flags&0x3c != 0 {
		return g.corrupt("reserved block flags set")
	}
	if filters := flags&3 + 1; filters != 1 {
		return fmt.Errorf("xz stream: block %d has %d filters, and sdme decodes only LZMA2 alone: %w", g.block, filters, errdefs.ErrUnsupported)
	}
	var fields []uint64 // the sizes, if present; the filter ID; its properties' size
	for range 2 + int(flags>>6&1) + int(flags>>7) {
		v, n := binary.Uvarint(h)
		if n <= 0 {
			return g.corrupt("bad block header")
		}
		fields, h = append(fields, v), h[n:]
	}
	id, propsLen := fields[len(fields)-2], fields[len(fields)-1]
	if id != lzma2FilterID {
		return fmt.Errorf("xz stream: block %d uses filter %#x, and sdme decodes only LZMA2: %w", g.block, id, errdefs.ErrUnsupported)
	}
	if propsLen != 1 || len(h) < 1 || h[0] > 40 {
		return g.corrupt("bad LZMA2 properties")
	}
	if dict := lzma2DictSize(h[0]); dict > g.limit {
		return fmt.Errorf("xz stream: block %d needs a dictionary of %s, more than the %s sdme accepts: %w",
			g.block, progress.HumanBytes(dict), progress.HumanBytes(g.limit), errdefs.ErrUnsupported)
	}
	return nil
}

// lzma2DictSize decodes the dictionary size of LZMA2's property byte
// (at most 40): 2 or 3 times a power of two, from 4 KiB to 4 GiB - 1.
func lzma2DictSize(code byte) int64 {
	if code == 40 {
		return 1<<32 - 1
	}
	return int64(2|code&1) << (code/2 + 11)
}

// chunk reads the header of an LZMA2 chunk and passes its data on unread.
func (g *xzGuard) chunk() error {
	c, err := g.take(1)
	if err != nil {
		return err
	}
	switch control := c[0]; {
	case control == 0: // the end of the block's data
		g.blockLen++
		g.step = g.blockTail
	case control == 1 || control == 2: // uncompressed: size - 1
		h, err := g.take(2)
		if err != nil {
			return err
		}
		g.body = int(binary.BigEndian.Uint16(h)) + 1
		g.blockLen += 3 + int64(g.body)
	case control >= 0x80: // LZMA: unpacked size - 1, packed size - 1, then properties if reset
		n := 4
		if control >= 0xc0 {
			n++
		}
		h, err := g.take(n)
		if err != nil {
			return err
		}
		g.body = int(binary.BigEndian.Uint16(h[2:4])) + 1
		g.blockLen += 1 + int64(n) + int64(g.body)
	default:
		return g.corrupt("bad LZMA2 chunk")
	}
	return nil
}

// blockTail passes on the padding to a multiple of four and the check.
func (g *xzGuard) blockTail() error {
	pad := int((4 - g.blockLen%4) % 4)
	if _, err := g.take(pad + g.checkLen); err != nil {
		return err
	}
	g.step = g.blockOrIndex
	return nil
}

func (g *xzGuard) indexCount() error {
	count, n, err := g.takeVLI()
	if err != nil {
		return err
	}
	g.indexLen += int64(n)
	g.records = count
	g.step = g.indexRecord
	return nil
}

// indexRecord passes on the sizes of one block, one record at a time:
// the count is the stream's word, not a size to allocate.
func (g *xzGuard) indexRecord() error {
	if g.records == 0 {
		pad := int((4 - g.indexLen%4) % 4)
		if _, err := g.take(pad + 4); err != nil { // and the CRC32
			return err
		}
		g.step = g.footer
		return nil
	}
	for range 2 { // unpadded size, uncompressed size
		_, n, err := g.takeVLI()
		if err != nil {
			return err
		}
		g.indexLen += int64(n)
	}
	g.records--
	return nil
}

func (g *xzGuard) footer() error {
	f, err := g.take(xzHeaderLen)
	if err != nil {
		return err
	}
	if !bytes.Equal(f[10:], []byte("YZ")) {
		return g.corrupt("bad stream footer")
	}
	g.step = g.streamPadding
	return nil
}

// streamPadding reads what follows a stream: the end, four zero bytes of
// padding, or another stream.
func (g *xzGuard) streamPadding() error {
	p, err := g.r.Peek(4)
	switch {
	case len(p) == 0 && err == io.EOF:
		return io.EOF
	case bytes.Equal(p, []byte{0, 0, 0, 0}):
		_, err = g.take(4)
		return err
	}
	return g.streamHeader()
}

func (g *xzGuard) corrupt(what string) error {
	return fmt.Errorf("xz stream: %s: %w", what, errdefs.ErrCorrupt)
}

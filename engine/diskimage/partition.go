package diskimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/sdme/sdme/engine/errdefs"
)

// Partition is a byte range of a disk that may hold a file system.
type Partition struct {
	// Index is the partition number as Linux counts it (1-4 primary or
	// GPT entries, 5 and up MBR logical partitions), or 0 when the image
	// is a bare file system without a partition table.
	Index int
	// Start and Size are in bytes from the start of the disk.
	Start, Size int64
	// Type is the GPT partition type GUID in lower case
	// ("0fc63daf-8483-4772-8e79-3d69d8477de4"), the MBR type byte as two
	// hex digits ("83"), or for a bare file system its kind ("ext", "xfs",
	// "btrfs", "squashfs", "erofs").
	Type string
}

const maxGPTEntryBytes = 4 << 20 // 32768 entries of 128 bytes; real tables use 16 KiB

// Partitions reads the partition table of a disk of size bytes: GPT
// (a protective or hybrid MBR defers to it; the backup header at the end
// of the disk stands in for a damaged primary one), or MBR with primary
// and logical partitions. A disk without a table that holds a file system
// is one partition covering it all. Unused, zero-sized and MBR extended
// entries are left out. A damaged table wraps errdefs.ErrCorrupt, a disk
// with neither a table nor a file system errdefs.ErrUnsupported.
func Partitions(r io.ReaderAt, size int64) ([]Partition, error) {
	head := make([]byte, 1024)
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	head = head[:n]
	mbrSig := len(head) >= 512 && head[510] == 0x55 && head[511] == 0xAA
	if mbrSig && protectiveMBR(head) || len(head) >= 520 && string(head[512:520]) == "EFI PART" {
		return readGPT(r, size)
	}
	if mbrSig {
		parts, err := readMBR(r, size, head)
		if err == nil && len(parts) > 0 {
			return parts, nil
		}
		// Boot sectors of FAT and NTFS file systems end in 0x55 0xAA too;
		// their boot code makes a garbage table that is no table at all.
		if fs := fsKind(r); fs != "" {
			return []Partition{{Index: 0, Start: 0, Size: size, Type: fs}}, nil
		}
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("the MBR partition table is empty: %w", errdefs.ErrUnsupported)
	}
	if fs := fsKind(r); fs != "" {
		return []Partition{{Index: 0, Start: 0, Size: size, Type: fs}}, nil
	}
	return nil, fmt.Errorf("no partition table and no file system found: %w", errdefs.ErrUnsupported)
}

// protectiveMBR reports whether an MBR has an entry of type 0xEE, which
// says "the real table is a GPT" in both protective and hybrid MBRs.
func protectiveMBR(sector []byte) bool {
	for i := 0; i < 4; i++ {
		if sector[446+16*i+4] == 0xEE {
			return true
		}
	}
	return false
}

// readMBR reads the four primary entries of the MBR in sector 0 and
// follows the chain of extended boot records of an extended partition.
func readMBR(r io.ReaderAt, size int64, sector []byte) ([]Partition, error) {
	var parts []Partition
	for i := 0; i < 4; i++ {
		e := sector[446+16*i : 446+16*i+16]
		if e[0] != 0 && e[0] != 0x80 {
			return nil, fmt.Errorf("MBR entry %d has boot flag %#x: %w", i+1, e[0], errdefs.ErrCorrupt)
		}
		typ := e[4]
		start := int64(binary.LittleEndian.Uint32(e[8:])) * 512
		length := int64(binary.LittleEndian.Uint32(e[12:])) * 512
		if typ == 0 || length == 0 {
			continue
		}
		if start == 0 || start+length > size {
			return nil, fmt.Errorf("MBR partition %d (%d+%d bytes) lies outside the %d-byte disk: %w", i+1, start, length, size, errdefs.ErrCorrupt)
		}
		if typ == 0x05 || typ == 0x0F || typ == 0x85 {
			logical, err := readEBRs(r, size, start, length)
			if err != nil {
				return nil, err
			}
			parts = append(parts, logical...)
			continue
		}
		parts = append(parts, Partition{Index: i + 1, Start: start, Size: length, Type: fmt.Sprintf("%02x", typ)})
	}
	return parts, nil
}

// readEBRs walks the linked list of extended boot records. Each holds a
// logical partition relative to itself and a link relative to the start
// of the extended partition.
func readEBRs(r io.ReaderAt, size, extStart, extSize int64) ([]Partition, error) {
	var parts []Partition
	seen := map[int64]bool{}
	ebr := extStart
	for index := 5; ; index++ {
		if seen[ebr] || len(seen) >= 256 {
			return nil, fmt.Errorf("the chain of extended boot records loops: %w", errdefs.ErrCorrupt)
		}
		seen[ebr] = true
		sector := make([]byte, 512)
		if _, err := r.ReadAt(sector, ebr); err != nil {
			return nil, fmt.Errorf("extended boot record at byte %d: %w: %w", ebr, err, errdefs.ErrCorrupt)
		}
		if sector[510] != 0x55 || sector[511] != 0xAA {
			return nil, fmt.Errorf("extended boot record at byte %d has no signature: %w", ebr, errdefs.ErrCorrupt)
		}
		e := sector[446:462]
		start := ebr + int64(binary.LittleEndian.Uint32(e[8:]))*512
		length := int64(binary.LittleEndian.Uint32(e[12:])) * 512
		if e[4] != 0 && length > 0 {
			if start <= ebr || start+length > extStart+extSize || start+length > size {
				return nil, fmt.Errorf("logical partition %d lies outside its extended partition: %w", index, errdefs.ErrCorrupt)
			}
			parts = append(parts, Partition{Index: index, Start: start, Size: length, Type: fmt.Sprintf("%02x", e[4])})
		}
		link := sector[462:478]
		next := int64(binary.LittleEndian.Uint32(link[8:])) * 512
		if link[4] == 0 || next == 0 {
			return parts, nil
		}
		ebr = extStart + next
		if ebr >= extStart+extSize {
			return nil, fmt.Errorf("extended boot record link points outside the extended partition: %w", errdefs.ErrCorrupt)
		}
	}
}

// readGPT reads the primary GPT, or the backup one when the primary is
// damaged, with 512-byte logical sectors and then with 4096-byte ones
// (which some disk images made for 4Kn drives use).
func readGPT(r io.ReaderAt, size int64) ([]Partition, error) {
	var first error
	for _, sector := range []int64{512, 4096} {
		last := size/sector - 1
		for _, lba := range []int64{1, last} {
			parts, err := readGPTAt(r, size, sector, lba)
			if err == nil {
				return parts, nil
			}
			if first == nil {
				first = err
			}
		}
	}
	return nil, first
}

func readGPTAt(r io.ReaderAt, size, sector, lba int64) ([]Partition, error) {
	if lba < 1 {
		return nil, fmt.Errorf("GPT: disk too small: %w", errdefs.ErrCorrupt)
	}
	h := make([]byte, sector)
	if _, err := r.ReadAt(h, lba*sector); err != nil {
		return nil, fmt.Errorf("GPT header at LBA %d: %w: %w", lba, err, errdefs.ErrCorrupt)
	}
	if string(h[:8]) != "EFI PART" {
		return nil, fmt.Errorf("no GPT header at LBA %d: %w", lba, errdefs.ErrCorrupt)
	}
	le := binary.LittleEndian
	hsize := int64(le.Uint32(h[12:]))
	if hsize < 92 || hsize > sector {
		return nil, fmt.Errorf("GPT header at LBA %d: size %d: %w", lba, hsize, errdefs.ErrCorrupt)
	}
	sum := le.Uint32(h[16:])
	c := bytes.Clone(h[:hsize])
	clear(c[16:20])
	if crc32.ChecksumIEEE(c) != sum {
		return nil, fmt.Errorf("GPT header at LBA %d: checksum mismatch: %w", lba, errdefs.ErrCorrupt)
	}
	if my := int64(le.Uint64(h[24:])); my != lba {
		return nil, fmt.Errorf("GPT header at LBA %d says it is at LBA %d: %w", lba, my, errdefs.ErrCorrupt)
	}
	table := int64(le.Uint64(h[72:]))
	count := int64(le.Uint32(h[80:]))
	esize := int64(le.Uint32(h[84:]))
	if esize < 128 || esize%8 != 0 {
		return nil, fmt.Errorf("GPT header at LBA %d: entries of %d bytes: %w", lba, esize, errdefs.ErrCorrupt)
	}
	// Each factor is bounded before they are multiplied: the product of
	// two uint32s can exceed int64, wrap negative and pass every size
	// check below.
	if esize > maxGPTEntryBytes || count > maxGPTEntryBytes/esize {
		return nil, fmt.Errorf("GPT header at LBA %d: %d entries of %d bytes, more than the %d MiB a table may take: %w", lba, count, esize, maxGPTEntryBytes>>20, errdefs.ErrCorrupt)
	}
	if table < 1 || table > size/sector || table*sector+count*esize > size {
		return nil, fmt.Errorf("GPT entries at LBA %d lie outside the disk: %w", table, errdefs.ErrCorrupt)
	}
	entries := make([]byte, count*esize)
	if _, err := r.ReadAt(entries, table*sector); err != nil {
		return nil, fmt.Errorf("GPT entries at LBA %d: %w: %w", table, err, errdefs.ErrCorrupt)
	}
	if crc32.ChecksumIEEE(entries) != le.Uint32(h[88:]) {
		return nil, fmt.Errorf("GPT entries at LBA %d: checksum mismatch: %w", table, errdefs.ErrCorrupt)
	}
	var parts []Partition
	for i := int64(0); i < count; i++ {
		e := entries[i*esize : (i+1)*esize]
		if allZero(e[:16]) {
			continue
		}
		firstLBA, lastLBA := le.Uint64(e[32:]), le.Uint64(e[40:])
		if lastLBA < firstLBA || firstLBA == 0 || lastLBA >= uint64(size/sector) {
			return nil, fmt.Errorf("GPT partition %d (LBA %d-%d) lies outside the disk: %w", i+1, firstLBA, lastLBA, errdefs.ErrCorrupt)
		}
		parts = append(parts, Partition{
			Index: int(i + 1),
			Start: int64(firstLBA) * sector,
			Size:  int64(lastLBA-firstLBA+1) * sector,
			Type:  guid(e[:16]),
		})
	}
	return parts, nil
}

// guid formats a GUID as it is written: the first three fields are stored
// little-endian, the last two as bytes.
func guid(b []byte) string {
	le := binary.LittleEndian
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]), b[8:10], b[10:16])
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// fsMagics are the superblock signatures of the file systems a root can
// be on, for bare file system images and to pick mount options that keep
// a read-only mount from wanting to replay a journal.
var fsMagics = []struct {
	kind  string
	off   int64
	magic string
}{
	{"ext", 1080, "\x53\xef"},
	{"xfs", 0, "XFSB"},
	{"squashfs", 0, "hsqs"},
	{"erofs", 1024, "\xe2\xe1\xf5\xe0"},
	{"btrfs", 0x10040, "_BHRfS_M"},
}

// fsKind names the file system starting at offset 0 of r, or "".
func fsKind(r io.ReaderAt) string {
	for _, m := range fsMagics {
		b := make([]byte, len(m.magic))
		if _, err := r.ReadAt(b, m.off); err == nil && string(b) == m.magic {
			return m.kind
		}
	}
	return ""
}

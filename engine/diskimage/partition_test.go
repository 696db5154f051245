package diskimage

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/internal/testroot"
)

const linuxGUID = "0fc63daf-8483-4772-8e79-3d69d8477de4"

// guidBytes is the inverse of guid.
func guidBytes(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		panic(err)
	}
	le := binary.LittleEndian
	out := make([]byte, 16)
	le.PutUint32(out, binary.BigEndian.Uint32(b))
	le.PutUint16(out[4:], binary.BigEndian.Uint16(b[4:]))
	le.PutUint16(out[6:], binary.BigEndian.Uint16(b[6:]))
	copy(out[8:], b[8:])
	return out
}

type gptPart struct {
	first, last uint64
	typ         string
}

// makeGPT builds a disk of sectors 512-byte sectors with a protective MBR,
// a primary GPT of 128 entries (the usual 16 KiB) and, if backup, a
// backup GPT at the end.
func makeGPT(sectors int64, parts []gptPart, backup bool) []byte {
	return makeGPTn(sectors, 128, parts, backup)
}

// makeGPTn is makeGPT with a table of n entries (a multiple of 4).
func makeGPTn(sectors int64, n int, parts []gptPart, backup bool) []byte {
	disk := make([]byte, sectors*512)
	mbr := disk[:512]
	mbr[446+4] = 0xEE
	binary.LittleEndian.PutUint32(mbr[446+8:], 1)
	binary.LittleEndian.PutUint32(mbr[446+12:], uint32(sectors-1))
	mbr[510], mbr[511] = 0x55, 0xAA
	entries := make([]byte, n*128)
	tableSectors := int64(len(entries) / 512)
	for i, p := range parts {
		e := entries[i*128:]
		copy(e, guidBytes(p.typ))
		e[16] = byte(i + 1) // unique GUID
		binary.LittleEndian.PutUint64(e[32:], p.first)
		binary.LittleEndian.PutUint64(e[40:], p.last)
	}
	header := func(my, alt, table int64) []byte {
		h := make([]byte, 512)
		copy(h, "EFI PART")
		le := binary.LittleEndian
		le.PutUint32(h[8:], 0x00010000)
		le.PutUint32(h[12:], 92)
		le.PutUint64(h[24:], uint64(my))
		le.PutUint64(h[32:], uint64(alt))
		le.PutUint64(h[40:], uint64(2+tableSectors))
		le.PutUint64(h[48:], uint64(sectors-2-tableSectors))
		le.PutUint64(h[72:], uint64(table))
		le.PutUint32(h[80:], uint32(n))
		le.PutUint32(h[84:], 128)
		le.PutUint32(h[88:], crc32.ChecksumIEEE(entries))
		le.PutUint32(h[16:], crc32.ChecksumIEEE(h[:92]))
		return h
	}
	copy(disk[512:], header(1, sectors-1, 2))
	copy(disk[1024:], entries)
	if backup {
		copy(disk[(sectors-1-tableSectors)*512:], entries)
		copy(disk[(sectors-1)*512:], header(sectors-1, 1, sectors-1-tableSectors))
	}
	return disk
}

type mbrPart struct {
	typ          byte
	start, count uint32
}

func putMBR(sector []byte, parts []mbrPart) {
	for i, p := range parts {
		e := sector[446+16*i:]
		e[4] = p.typ
		binary.LittleEndian.PutUint32(e[8:], p.start)
		binary.LittleEndian.PutUint32(e[12:], p.count)
	}
	sector[510], sector[511] = 0x55, 0xAA
}

func TestDetect(t *testing.T) {
	ext := make([]byte, 4096)
	ext[1080], ext[1081] = 0x53, 0xEF
	gptOnly := make([]byte, 4096)
	copy(gptOnly[512:], "EFI PART")
	garbage := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(garbage)
	garbage[510] = 0
	for _, c := range []struct {
		name string
		head []byte
		kind Kind
		ok   bool
	}{
		{"qcow2", []byte("QFI\xfb\x00\x00\x00\x03"), QCOW2, true},
		{"gpt", makeGPT(128, nil, false)[:4096], Raw, true},
		{"gpt without mbr", gptOnly, Raw, true},
		{"mbr", func() []byte { b := make([]byte, 4096); putMBR(b, []mbrPart{{0x83, 2048, 100}}); return b }(), Raw, true},
		{"ext4", ext, Raw, true},
		{"xfs", append([]byte("XFSB"), make([]byte, 4092)...), Raw, true},
		{"garbage", garbage, 0, false},
		{"short", []byte("QF"), 0, false},
		{"empty", nil, 0, false},
		{"zeros", make([]byte, 4096), 0, false},
	} {
		kind, ok := Detect(c.head)
		if kind != c.kind || ok != c.ok {
			t.Errorf("%s: Detect = %v, %v; want %v, %v", c.name, kind, ok, c.kind, c.ok)
		}
	}
}

func TestPartitionsGPT(t *testing.T) {
	const swap = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"
	disk := makeGPT(4096, []gptPart{{34, 1033, linuxGUID}, {1034, 1057, swap}, {2048, 4000, linuxGUID}}, true)
	want := []Partition{
		{1, 34 * 512, 1000 * 512, linuxGUID},
		{2, 1034 * 512, 24 * 512, swap},
		{3, 2048 * 512, 1953 * 512, linuxGUID},
	}
	got, err := Partitions(bytes.NewReader(disk), int64(len(disk)))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Partitions = %v, %v; want %v", got, err, want)
	}

	// A damaged primary table: the backup stands in.
	broken := bytes.Clone(disk)
	broken[1024+32] ^= 1
	got, err = Partitions(bytes.NewReader(broken), int64(len(broken)))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("damaged primary: Partitions = %v, %v; want %v", got, err, want)
	}

	// Without a backup, it is corrupt.
	broken = makeGPT(4096, []gptPart{{34, 1033, linuxGUID}}, false)
	broken[512+30] ^= 1 // alternate LBA, under the header checksum
	if _, err := Partitions(bytes.NewReader(broken), int64(len(broken))); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Errorf("damaged header: err = %v, want ErrCorrupt", err)
	}

	// A partition past the end of the disk.
	broken = makeGPT(4096, []gptPart{{34, 5000, linuxGUID}}, false)
	if _, err := Partitions(bytes.NewReader(broken), int64(len(broken))); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Errorf("partition past the end: err = %v, want ErrCorrupt", err)
	}

	// Truncated image: the entries are gone.
	if _, err := Partitions(bytes.NewReader(disk[:1100]), 1100); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Errorf("truncated: err = %v, want ErrCorrupt", err)
	}
}

// A hybrid MBR lists the 0xEE entry beside real ones; the GPT rules.
func TestPartitionsHybridMBR(t *testing.T) {
	disk := makeGPT(4096, []gptPart{{2048, 4000, linuxGUID}}, false)
	putMBR(disk[:512], []mbrPart{{0xEE, 1, 2047}, {0x83, 2048, 1953}})
	got, err := Partitions(bytes.NewReader(disk), int64(len(disk)))
	want := []Partition{{1, 2048 * 512, 1953 * 512, linuxGUID}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Partitions = %v, %v; want %v", got, err, want)
	}
}

func TestPartitionsMBR(t *testing.T) {
	disk := make([]byte, 8192*512)
	// 1: Linux, 2: extended holding two logical partitions, 3: empty.
	putMBR(disk, []mbrPart{{0x83, 2048, 1000}, {0x05, 4096, 4000}})
	putMBR(disk[4096*512:], []mbrPart{{0x82, 63, 500}, {0x05, 1000, 2000}})
	putMBR(disk[5096*512:], []mbrPart{{0x83, 63, 1500}})
	want := []Partition{
		{1, 2048 * 512, 1000 * 512, "83"},
		{5, (4096 + 63) * 512, 500 * 512, "82"},
		{6, (5096 + 63) * 512, 1500 * 512, "83"},
	}
	got, err := Partitions(bytes.NewReader(disk), int64(len(disk)))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Partitions = %v, %v; want %v", got, err, want)
	}

	// An EBR chain that points back to itself.
	loop := bytes.Clone(disk)
	putMBR(loop[5096*512:], []mbrPart{{0x83, 63, 1500}, {0x05, 1000, 10}})
	if _, err := Partitions(bytes.NewReader(loop), int64(len(loop))); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Errorf("looping EBRs: err = %v, want ErrCorrupt", err)
	}

	// A partition past the end of the disk.
	big := make([]byte, 4096*512)
	putMBR(big, []mbrPart{{0x83, 2048, 4000}})
	if _, err := Partitions(bytes.NewReader(big), int64(len(big))); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Errorf("partition past the end: err = %v, want ErrCorrupt", err)
	}

	// An empty table.
	empty := make([]byte, 4096*512)
	putMBR(empty, nil)
	if _, err := Partitions(bytes.NewReader(empty), int64(len(empty))); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("empty table: err = %v, want ErrUnsupported", err)
	}
}

func TestPartitionsBareFileSystem(t *testing.T) {
	ext := make([]byte, 64*1024)
	ext[1080], ext[1081] = 0x53, 0xEF
	btrfs := make([]byte, 128*1024)
	copy(btrfs[0x10040:], "_BHRfS_M")
	// A FAT boot sector: 0x55 0xAA, but boot code where the table would be.
	fat := make([]byte, 64*1024)
	fat[446], fat[510], fat[511] = 0x33, 0x55, 0xAA
	copy(fat[0:], "XFSB") // stands in for a file system sdme can detect
	for name, c := range map[string]struct {
		disk []byte
		typ  string
	}{"ext": {ext, "ext"}, "btrfs": {btrfs, "btrfs"}, "boot sector": {fat, "xfs"}} {
		got, err := Partitions(bytes.NewReader(c.disk), int64(len(c.disk)))
		want := []Partition{{0, 0, int64(len(c.disk)), c.typ}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Partitions = %v, %v; want %v", name, got, err, want)
		}
	}
}

func TestPartitionsGarbage(t *testing.T) {
	garbage := make([]byte, 1<<20)
	rand.New(rand.NewSource(2)).Read(garbage)
	garbage[510] = 0
	if _, err := Partitions(bytes.NewReader(garbage), int64(len(garbage))); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("garbage: err = %v, want ErrUnsupported", err)
	}
	// Garbage with an MBR signature: boot flags that are neither 0 nor 0x80.
	garbage[510], garbage[511] = 0x55, 0xAA
	garbage[446] = 0x12
	if _, err := Partitions(bytes.NewReader(garbage), int64(len(garbage))); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Errorf("garbage with signature: err = %v, want ErrCorrupt", err)
	}
	if _, err := Partitions(bytes.NewReader(nil), 0); !errors.Is(err, errdefs.ErrUnsupported) {
		t.Errorf("empty: err = %v, want ErrUnsupported", err)
	}
}

// TestPartitionsSfdisk checks the parser against tables sfdisk writes.
func TestPartitionsSfdisk(t *testing.T) {
	sfdisk, err := exec.LookPath("sfdisk")
	if err != nil {
		testroot.Missing(t, "sfdisk not installed")
	}
	for label, script := range map[string]string{
		"gpt": "label: gpt\nsize=4M, type=L\nsize=2M, type=S\nsize=3M, type=L\n",
		"dos": "label: dos\nsize=4M, type=83\ntype=5\nsize=2M, type=82\nsize=3M, type=83\n",
	} {
		img := filepath.Join(t.TempDir(), label+".img")
		if err := os.WriteFile(img, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, 16<<20); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sfdisk, "-q", img)
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sfdisk %s: %v: %s", label, err, out)
		}
		out, err := exec.Command(sfdisk, "--json", img).Output()
		if err != nil {
			t.Fatal(err)
		}
		var dump struct {
			Partitiontable struct {
				Partitions []struct {
					Node        string
					Start, Size int64
					Type        string
				}
			}
		}
		if err := json.Unmarshal(out, &dump); err != nil {
			t.Fatal(err)
		}
		var want []Partition
		for _, p := range dump.Partitiontable.Partitions {
			if p.Type == "5" {
				continue // extended container
			}
			index, _ := strconv.Atoi(strings.TrimPrefix(p.Node, img))
			typ := strings.ToLower(p.Type)
			if len(typ) == 1 {
				typ = "0" + typ
			}
			want = append(want, Partition{index, p.Start * 512, p.Size * 512, typ})
		}
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Partitions(f, 16<<20)
		f.Close()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Partitions = %v, %v; want %v", label, got, err, want)
		}
	}
}

// setGPTHeader edits the GPT header at byte off of disk and fixes its
// checksum, as a crafted image would.
func setGPTHeader(disk []byte, off int, edit func(h []byte)) {
	h := disk[off : off+92]
	edit(h)
	le := binary.LittleEndian
	le.PutUint32(h[16:], 0)
	le.PutUint32(h[16:], crc32.ChecksumIEEE(h))
}

// A header whose entry count times entry size overflows int64: the
// product of 0xffffffff and 0xfffffff8 wraps to a negative number, which
// passed the size checks and made make panic (through varlink this took
// the whole service down).
func TestPartitionsGPTEntryOverflow(t *testing.T) {
	for _, c := range []struct{ count, esize uint32 }{
		{0xffffffff, 0xfffffff8}, // the crafted header that panicked
		{0x80000000, 0x80000000},
		{0xffffffff, 128},
		{1, 0xfffffff8},
		{32769, 128}, // one entry more than the 4 MiB sdme reads
	} {
		disk := makeGPT(128, []gptPart{{34, 100, linuxGUID}}, false)
		setGPTHeader(disk, 512, func(h []byte) {
			binary.LittleEndian.PutUint32(h[80:], c.count)
			binary.LittleEndian.PutUint32(h[84:], c.esize)
		})
		_, err := Partitions(bytes.NewReader(disk), int64(len(disk)))
		if !errors.Is(err, errdefs.ErrCorrupt) || !strings.Contains(err.Error(), "GPT") {
			t.Errorf("%d entries of %d bytes: err = %v; want ErrCorrupt naming the GPT", c.count, c.esize, err)
		}
	}
}

// zeroTail is a disk of size bytes that starts with data and reads as
// zeros after it, as a sparse image does: the fuzzer can try tables on
// disks of terabytes with inputs of kilobytes.
type zeroTail struct {
	data []byte
	size int64
}

func (z zeroTail) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= z.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.size-off))
	clear(p[:n])
	if off < int64(len(z.data)) {
		copy(p[:n], z.data[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// FuzzPartitions feeds crafted tables to the parser: it must neither
// panic nor allocate without bound, and whatever it returns must lie
// inside the disk, or be an error of the classes an import reports.
//
//	go test -run='^$' -fuzz=FuzzPartitions -fuzztime=5m ./engine/diskimage
func FuzzPartitions(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.data, s.sectorsMore)
	}
	f.Fuzz(func(t *testing.T, data []byte, sectorsMore uint32) {
		size := int64(len(data)) + int64(sectorsMore)*512
		parts, err := Partitions(zeroTail{data, size}, size)
		if err != nil {
			if !errors.Is(err, errdefs.ErrCorrupt) && !errors.Is(err, errdefs.ErrUnsupported) {
				t.Fatalf("err = %v; want ErrCorrupt or ErrUnsupported", err)
			}
			return
		}
		if len(parts) == 0 {
			t.Fatal("no partitions and no error")
		}
		for _, p := range parts {
			if p.Start < 0 || p.Size <= 0 || p.Start > size-p.Size || p.Type == "" {
				t.Fatalf("partition %+v on a disk of %d bytes", p, size)
			}
		}
	})
}

type fuzzSeed struct {
	data        []byte
	sectorsMore uint32 // zero sectors after data
}

// fuzzSeeds are disks of each kind Partitions reads, cut after their
// last byte that is not zero: the fuzzer mutates (and minimises) small
// inputs much faster than large ones.
func fuzzSeeds() []fuzzSeed {
	const swap = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"
	// Tables of 4 entries: MBR, header and table end after 3 sectors.
	gptHead := func(disk []byte) fuzzSeed { return fuzzSeed{disk[:3*512], uint32(len(disk)/512 - 3)} }
	gpt := makeGPTn(128, 4, []gptPart{{34, 63, linuxGUID}, {64, 95, swap}, {96, 110, linuxGUID}}, false)
	hybrid := makeGPTn(128, 4, []gptPart{{64, 110, linuxGUID}}, false)
	putMBR(hybrid[:512], []mbrPart{{0xEE, 1, 63}, {0x83, 64, 47}})
	overflow := makeGPTn(128, 4, []gptPart{{34, 100, linuxGUID}}, false)
	setGPTHeader(overflow, 512, func(h []byte) {
		binary.LittleEndian.PutUint32(h[80:], 0xffffffff)
		binary.LittleEndian.PutUint32(h[84:], 0xfffffff8)
	})
	// 1: Linux; 2: extended, with a swap and a Linux logical partition.
	mbr := make([]byte, 5*512)
	putMBR(mbr, []mbrPart{{0x83, 32, 40}, {0x05, 2, 240}})
	putMBR(mbr[2*512:], []mbrPart{{0x82, 100, 20}, {0x05, 2, 140}})
	putMBR(mbr[4*512:], []mbrPart{{0x83, 130, 100}})
	// A damaged primary table, so that the backup at the end is read.
	backup := makeGPTn(8, 4, []gptPart{{3, 5, linuxGUID}}, true)
	backup[1024+32] ^= 1
	ext := make([]byte, 1082)
	ext[1080], ext[1081] = 0x53, 0xEF
	erofs := make([]byte, 1028)
	copy(erofs[1024:], "\xe2\xe1\xf5\xe0")
	return []fuzzSeed{
		gptHead(gpt), gptHead(hybrid), gptHead(overflow),
		{backup, 0},
		{mbr, 256 - 5},
		{ext, 100}, {erofs, 100},
		{[]byte("XFSB"), 100}, {[]byte("hsqs"), 100},
	}
}

package importer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sdme/sdme/engine/archive"
	"github.com/sdme/sdme/engine/copytree"
	"github.com/sdme/sdme/engine/diskimage"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/fetch"
	"github.com/sdme/sdme/engine/intree"
	"github.com/sdme/sdme/engine/oci"
	"github.com/sdme/sdme/engine/progress"
	"github.com/sdme/sdme/engine/rootfs"
)

// fill builds the tree of txn from the source and records what it learns
// (a digest, a finer kind) in info.
func (s source) fill(ctx context.Context, txn *rootfs.Txn, opts Options, rep progress.Reporter, info *record) error {
	switch s.kind {
	case kindDirectory:
		return copyDir(ctx, s.arg, txn.Root(), rep)
	case kindTarball:
		return fillTarballFile(ctx, s.arg, txn, opts, rep, info)
	case kindURL:
		return fillURL(ctx, s.arg, txn, opts, rep, info)
	case kindRegistry:
		insecure := opts.Insecure
		if opts.AnyInsecure {
			insecure = append(insecure, "*")
		}
		img, err := oci.Registry(ctx, s.arg, oci.RegistryOptions{Platform: opts.Platform, Insecure: insecure})
		if err != nil {
			return err
		}
		return unpackImage(ctx, img, txn.Root(), rep, info)
	case kindLayout:
		img, err := oci.Layout(ctx, s.arg, opts.Platform)
		if err != nil {
			return err
		}
		return unpackImage(ctx, img, txn.Root(), rep, info)
	case kindDockerArchive:
		img, err := oci.DockerArchive(s.arg)
		if err != nil {
			return err
		}
		return unpackImage(ctx, img, txn.Root(), rep, info)
	case kindDisk:
		return fillDisk(ctx, s.arg, txn, rep, info)
	}
	return fmt.Errorf("source kind %v: %w", s.kind, errdefs.ErrUnsupported)
}

// record is what an import learns on the way: the rootfs's description,
// and the image, when the source turned out to be one.
type record struct {
	rootfs.Info
	image *oci.Image
}

func unpackImage(ctx context.Context, img *oci.Image, root string, rep progress.Reporter, info *record) error {
	progress.Logf(rep, "unpacking %s (%s, %d layers)", img.Ref, img.Platform, len(img.Layers))
	info.Digest = img.Digest
	info.image = img
	return img.Unpack(ctx, root, rep)
}

func copyDir(ctx context.Context, src, dst string, rep progress.Reporter) error {
	task := progress.StartTask(rep, "copy", "copying "+src, -1)
	err := copytree.Copy(ctx, src, dst, task.Add)
	task.Finish(err)
	return err
}

func fillTarballFile(ctx context.Context, path string, txn *rootfs.Txn, opts Options, rep progress.Reporter, info *record) error {
	f, err := intree.OpenFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var size int64 = -1
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	task := progress.StartTask(rep, "extract", "extracting "+filepath.Base(path), size)
	err = extractTarball(ctx, task.Reader(f), txn, opts, rep, info)
	task.Finish(err)
	return err
}

// extractTarball unpacks a tarball of any compression into the tree. An
// archive that turns out to hold an OCI layout or a docker save archive
// is then read as an image.
func extractTarball(ctx context.Context, r io.Reader, txn *rootfs.Txn, opts Options, rep progress.Reporter, info *record) error {
	dec, c, err := archive.Decompress(r)
	if err != nil {
		return err
	}
	defer dec.Close()
	br := bufio.NewReaderSize(dec, 1<<20)
	head, err := br.Peek(512)
	if err != nil && err != io.EOF {
		// The first read failed (a corrupt stream, a refused one): that
		// is the news, not that there was nothing to read.
		return err
	}
	if len(head) == 0 {
		return fmt.Errorf("%s: the file is empty: %w", info.Source, errdefs.ErrUnsupported)
	}
	if !isTarHeader(head) {
		if len(head) == 512 && bytes.Count(head, []byte{0}) == 512 {
			return fmt.Errorf("%s: the archive is empty: %w", info.Source, errdefs.ErrUnsupported)
		}
		if c == archive.None {
			return fmt.Errorf("%s: unknown file kind: not a tar archive, disk image, OCI layout or directory: %w", info.Source, errdefs.ErrUnsupported)
		}
		return fmt.Errorf("%s: %s-compressed, but not a tar archive: %w", info.Source, c, errdefs.ErrUnsupported)
	}
	if err := archive.Apply(ctx, txn.Root(), br, archive.Options{}); err != nil {
		return err
	}
	return asImage(ctx, txn, opts, rep, info)
}

// asImage re-reads an extracted tree that is an image archive: the archive
// moves to the scratch space and its image is unpacked in its place.
func asImage(ctx context.Context, txn *rootfs.Txn, opts Options, rep progress.Reporter, info *record) error {
	root := txn.Root()
	open := func(dir string) (*oci.Image, error) { return oci.Layout(ctx, dir, opts.Platform) }
	switch {
	case oci.IsLayout(root):
		info.Kind = kindLayout.String()
	case oci.IsDockerArchive(root):
		info.Kind = kindDockerArchive.String()
		open = func(dir string) (*oci.Image, error) { return oci.DockerArchive(dir) }
	default:
		return nil
	}
	dir := filepath.Join(txn.Work(), "image")
	if err := os.Rename(root, dir); err != nil {
		return err
	}
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	img, err := open(dir)
	if err != nil {
		return err
	}
	img.Ref = info.Source // not the scratch directory it was unpacked to
	if err := unpackImage(ctx, img, root, rep, info); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// isTarHeader reports whether block is a tar header: its checksum field
// matches the sum of its bytes (with the field itself counted as spaces).
func isTarHeader(block []byte) bool {
	if len(block) < 512 {
		return false
	}
	var sum, ssum int64
	for i, b := range block[:512] {
		if i >= 148 && i < 156 {
			b = ' '
		}
		sum += int64(b)
		ssum += int64(int8(b))
	}
	var want int64
	digits := 0
	for _, b := range block[148:156] {
		switch {
		case b >= '0' && b <= '7':
			want = want*8 + int64(b-'0')
			digits++
		case b == 0 || b == ' ':
			if digits > 0 {
				return want == sum || want == ssum
			}
		default:
			return false
		}
	}
	return digits > 0 && (want == sum || want == ssum)
}

// fillURL streams a tarball from the network straight into the tree; a
// disk image, which must be seekable, is saved in the scratch space first.
func fillURL(ctx context.Context, rawURL string, txn *rootfs.Txn, opts Options, rep progress.Reporter, info *record) error {
	progress.Logf(rep, "downloading %s", rawURL)
	resp, err := fetch.Get(ctx, fetch.Client(), rawURL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	task := progress.StartTask(rep, "download", "downloading "+filepath.Base(rawURL), resp.Size)
	br := bufio.NewReaderSize(task.Reader(resp.Body), headSize)
	head, _ := br.Peek(headSize)
	if k, ok := diskimage.Detect(head); ok {
		file := filepath.Join(txn.Work(), "download."+k.String())
		err = save(br, file)
		task.Finish(err)
		if err != nil {
			return fmt.Errorf("download %s: %w", rawURL, err)
		}
		return fillDisk(ctx, file, txn, rep, info)
	}
	info.Kind = kindTarball.String()
	err = extractTarball(ctx, br, txn, opts, rep, info)
	task.Finish(err)
	return err
}

func save(r io.Reader, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fillDisk(ctx context.Context, image string, txn *rootfs.Txn, rep progress.Reporter, info *record) error {
	m, err := diskimage.Mount(ctx, image, txn.DiskDir())
	if err != nil {
		return err
	}
	defer m.Close()
	info.Kind = m.Kind.String()
	if m.Copied != "" {
		progress.Logf(rep, "copied %s first: %s", image, m.Copied)
	}
	progress.Logf(rep, "copying the root filesystem of %s (partition %d, attached with %s)", filepath.Base(image), m.Partition.Index, m.Via)
	if err := copyDir(ctx, m.Dir, txn.Root(), rep); err != nil {
		return err
	}
	return m.Close()
}

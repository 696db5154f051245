package importer

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/sdme/sdme/engine/diskimage"
	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/intree"
	"github.com/sdme/sdme/engine/names"
	"github.com/sdme/sdme/engine/oci"
)

// kind is the kind of a source.
type kind int

const (
	kindDirectory kind = iota
	kindTarball
	kindURL
	kindRegistry
	kindLayout
	kindDockerArchive
	kindDisk
)

func (k kind) String() string {
	return [...]string{"directory", "tarball", "url", "registry", "oci-layout", "docker-archive", "disk-image"}[k]
}

// source is a classified source.
type source struct {
	kind kind
	arg  string // the source as given
}

// headSize is how much of a file is read to tell its kind.
const headSize = 4096

// detect classifies arg: a URL by its scheme, an existing path by what it
// holds (never by its name), anything else that parses as an image
// reference as a registry image.
func detect(arg string) (source, error) {
	if arg == "" {
		return source{}, fmt.Errorf("empty source: %w", errdefs.ErrInvalidArgument)
	}
	if strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://") {
		if _, err := url.Parse(arg); err != nil {
			return source{}, fmt.Errorf("URL %q: %w: %w", arg, err, errdefs.ErrInvalidArgument)
		}
		return source{kindURL, arg}, nil
	}
	fi, err := os.Stat(arg)
	if err == nil {
		// Recorded as the source, so it must mean the same thing later.
		if arg, err = filepath.Abs(arg); err != nil {
			return source{}, err
		}
	}
	switch {
	case err == nil && fi.IsDir():
		switch {
		case oci.IsLayout(arg):
			return source{kindLayout, arg}, nil
		case oci.IsDockerArchive(arg):
			return source{kindDockerArchive, arg}, nil
		}
		return source{kindDirectory, arg}, nil
	case err == nil && fi.Mode().IsRegular():
		head, err := readHead(arg)
		if err != nil {
			return source{}, err
		}
		if _, ok := diskimage.Detect(head); ok {
			return source{kindDisk, arg}, nil
		}
		return source{kindTarball, arg}, nil
	case err == nil:
		return source{}, fmt.Errorf("source %s is neither a directory nor a regular file: %w", arg, errdefs.ErrUnsupported)
	case oci.LooksLikeReference(arg):
		return source{kindRegistry, arg}, nil
	}
	return source{}, fmt.Errorf("source %q: no such file or directory, and not an image reference (like docker.io/debian:12): %w", arg, errdefs.ErrNotFound)
}

func readHead(p string) ([]byte, error) {
	f, err := intree.OpenFile(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, headSize)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	return head[:n], nil
}

// suffixes are stripped from a file name to make a rootfs name, longest
// first.
var suffixes = []string{
	".oci.tar.gz", ".oci.tar.xz", ".oci.tar.zst", ".oci.tar.bz2", ".oci.tar",
	".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2", ".tgz", ".txz", ".tzst", ".tbz2", ".tar",
	".qcow2", ".raw", ".img", ".gz", ".xz", ".zst", ".bz2",
}

// defaultName derives a rootfs name from the source: the repository's last
// component for an image (docker.io/library/debian:12 -> debian), the file
// name without its archive suffixes otherwise. It is validated, never
// rewritten, so a surprising name is an error that asks for --name.
func (s source) defaultName() (string, error) {
	var base string
	switch s.kind {
	case kindRegistry:
		r, err := oci.ParseReference(s.arg)
		if err != nil {
			return "", err
		}
		base = path.Base(r.Repository)
	case kindURL:
		u, _ := url.Parse(s.arg)
		base = path.Base(u.Path)
	default:
		base = path.Base(strings.TrimRight(s.arg, "/"))
	}
	for _, suf := range suffixes {
		if t, ok := strings.CutSuffix(base, suf); ok && t != "" {
			base = t
			break
		}
	}
	if err := names.Validate(base); err != nil {
		return "", &errdefs.Error{Err: fmt.Errorf("cannot name the rootfs after %q: %w", s.arg, err), Hint: errdefs.HintName}
	}
	return base, nil
}

package oci

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/mediatype"
	v1 "github.com/regclient/regclient/types/oci/v1"
	"github.com/regclient/regclient/types/platform"

	"github.com/sdme/sdme/engine/errdefs"
	"github.com/sdme/sdme/engine/progress"
)

// fakeRegistry serves manifests and blobs of one repository, "test", and
// can lie: a declared Content-Length, or a body that never ends.
type fakeRegistry struct {
	t         *testing.T
	srv       *httptest.Server
	manifests map[string][]byte // by tag and by digest
	blobs     map[digest.Digest][]byte
	// lies, by tag or digest: "length=N" sends that Content-Length, and
	// "endless" a body without one that goes on until the client leaves.
	lies map[string]string

	mu        sync.Mutex
	requested []string
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	r := &fakeRegistry{t: t, manifests: map[string][]byte{}, blobs: map[digest.Digest][]byte{}, lies: map[string]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *fakeRegistry) host() string { return strings.TrimPrefix(r.srv.URL, "http://") }

func (r *fakeRegistry) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requested = append(r.requested, req.URL.Path)
	r.mu.Unlock()
	p := strings.TrimPrefix(req.URL.Path, "/v2/test/")
	var body []byte
	var key string
	switch {
	case req.URL.Path == "/v2/":
		w.WriteHeader(http.StatusOK)
		return
	case strings.HasPrefix(p, "manifests/"):
		key = strings.TrimPrefix(p, "manifests/")
		body = r.manifests[key]
		var mt struct{ MediaType string }
		if body != nil && json.Unmarshal(body, &mt) == nil {
			w.Header().Set("Content-Type", mt.MediaType)
			w.Header().Set("Docker-Content-Digest", digest.FromBytes(body).String())
		}
	case strings.HasPrefix(p, "blobs/"):
		key = strings.TrimPrefix(p, "blobs/")
		body = r.blobs[digest.Digest(key)]
	}
	lie := r.lies[key]
	if body == nil && lie == "" {
		http.NotFound(w, req)
		return
	}
	switch {
	case strings.HasPrefix(lie, "length="):
		w.Header().Set("Content-Length", strings.TrimPrefix(lie, "length="))
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	case lie == "endless":
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 64<<10)
		for range 1 << 14 { // 1 GiB at most
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	default:
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}
}

// fetched reports whether anything asked for path.
func (r *fakeRegistry) fetched(suffix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.requested {
		if strings.HasSuffix(p, suffix) {
			return true
		}
	}
	return false
}

func (r *fakeRegistry) blob(mt string, data []byte) descriptor.Descriptor {
	d := descriptor.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
	r.blobs[d.Digest] = data
	return d
}

// image publishes an image of one layer as tag, with its config
// descriptor as spoil leaves it, and returns the config's descriptor.
func (r *fakeRegistry) image(tag string, spoil func(*descriptor.Descriptor)) descriptor.Descriptor {
	layer := r.blob(mediatype.OCI1Layer, layerTar(r.t, "etc/os-release", "ID=registry\n"))
	config := r.blob(mediatype.OCI1ImageConfig, configJSON(r.t, platform.Local().Architecture, layer.Digest))
	if spoil != nil {
		spoil(&config)
	}
	m := v1.Manifest{MediaType: mediatype.OCI1Manifest, Config: config, Layers: []descriptor.Descriptor{layer}}
	m.SchemaVersion = 2
	data := mustJSON(r.t, m)
	r.manifests[tag] = data
	r.manifests[digest.FromBytes(data).String()] = data
	return config
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestRegistryImageUnpacks(t *testing.T) {
	r := newFakeRegistry(t)
	r.image("latest", nil)
	img, err := Registry(t.Context(), r.host()+"/test:latest", RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := img.Unpack(t.Context(), root, progress.Discard); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc/os-release")); string(data) != "ID=registry\n" {
		t.Fatalf("etc/os-release: %q", data)
	}
}

func TestRegistryMetadataBounds(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(r *fakeRegistry) (never string) // a path that must never be asked for
		want  string
		class error
	}{
		{"a config that declares 5 GiB", func(r *fakeRegistry) string {
			cfg := r.image("latest", func(d *descriptor.Descriptor) { d.Size = 5 << 30 })
			return "blobs/" + cfg.Digest.String()
		}, "config of 5.0 GiB is larger than the 4.0 MiB sdme accepts", errdefs.ErrUnsupported},
		{"a config longer than it declares", func(r *fakeRegistry) string {
			cfg := r.image("latest", func(d *descriptor.Descriptor) { d.Size = 100 })
			r.lies[cfg.Digest.String()] = "endless"
			return "-"
		}, "larger than the 100 bytes its descriptor declares", errdefs.ErrCorrupt},
		{"a config of unknown size that never ends", func(r *fakeRegistry) string {
			cfg := r.image("latest", func(d *descriptor.Descriptor) { d.Size = 0 })
			r.lies[cfg.Digest.String()] = "endless"
			return "-"
		}, "config is larger than the 4.0 MiB sdme accepts", errdefs.ErrUnsupported},
		{"a manifest whose length says 5 GiB", func(r *fakeRegistry) string {
			r.image("latest", nil)
			r.lies["latest"] = "length=" + strconv.Itoa(5<<30)
			return "-"
		}, "a manifest larger than the 4.0 MiB sdme accepts", errdefs.ErrUnsupported},
		{"a manifest that never ends", func(r *fakeRegistry) string {
			r.lies["latest"] = "endless"
			return "-"
		}, "a manifest larger than the 4.0 MiB sdme accepts", errdefs.ErrUnsupported},
		{"an index whose manifest declares 5 GiB", func(r *fakeRegistry) string {
			r.image("image", nil)
			m := r.manifests["image"]
			p := platform.Local()
			d := descriptor.Descriptor{MediaType: mediatype.OCI1Manifest, Digest: digest.FromBytes(m), Size: 5 << 30, Platform: &p}
			idx := v1.Index{MediaType: mediatype.OCI1ManifestList, Manifests: []descriptor.Descriptor{d}}
			idx.SchemaVersion = 2
			r.manifests["latest"] = mustJSON(r.t, idx)
			return "manifests/" + d.Digest.String()
		}, "of 5.0 GiB is larger than the 4.0 MiB sdme accepts", errdefs.ErrUnsupported},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newFakeRegistry(t)
			never := c.setup(r)
			var err error
			alloc := allocated(func() { _, err = Registry(t.Context(), r.host()+"/test:latest", RegistryOptions{}) })
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.class) {
				t.Fatalf("got %v; want %q and %v", err, c.want, c.class)
			}
			if r.fetched(never) {
				t.Errorf("%s was fetched", never)
			}
			if alloc > 64<<20 {
				t.Errorf("refusing it allocated %d MiB", alloc>>20)
			}
		})
	}
}

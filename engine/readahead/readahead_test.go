package readahead

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sdme/sdme/engine/errdefs"
)

func TestReadsEverythingInOrder(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	r := New(iotest.HalfReader(bytes.NewReader(data)), 4096, 3)
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	r.Close()
}

// lastWords returns its data together with an error in the same Read.
type lastWords struct{ data []byte }

func (l *lastWords) Read(p []byte) (int, error) {
	n := copy(p, l.data)
	l.data = l.data[n:]
	if len(l.data) == 0 {
		return n, errBad
	}
	return n, nil
}

var errBad = errors.New("digest mismatch")

func TestErrorWithTheLastBytesIsKept(t *testing.T) {
	r := New(&lastWords{data: []byte("abcdefgh")}, 8, 2) // the error comes with a full chunk
	got, err := io.ReadAll(r)
	if string(got) != "abcdefgh" || !errors.Is(err, errBad) {
		t.Fatalf("got %q, %v", got, err)
	}
}

type closer struct {
	io.Reader
	closed chan struct{}
}

func (c *closer) Close() error { close(c.closed); return nil }

func TestCloseStopsAndClosesTheSource(t *testing.T) {
	c := &closer{Reader: bytes.NewReader(make([]byte, 1<<20)), closed: make(chan struct{})}
	r := New(c, 1024, 1)
	r.Read(make([]byte, 10))
	r.Close()
	r.Close()
	<-c.closed // the goroutine ends and closes the source
}

// crasher is a decoder with a bug that crafted input reaches.
type crasher struct{ calls int }

func (c *crasher) Read(p []byte) (int, error) {
	c.calls++
	if c.calls == 1 {
		return copy(p, "good"), nil
	}
	var table []int
	return table[c.calls], nil // index out of range
}

func TestAPanickingSourceFailsTheStream(t *testing.T) {
	r := New(&crasher{}, 4, 2)
	defer r.Close()
	got, err := io.ReadAll(r)
	if string(got) != "good" || !errors.Is(err, errdefs.ErrCorrupt) || !strings.Contains(err.Error(), "index out of range") {
		t.Fatalf("got %q, %v; want the bytes before the panic and an error wrapping ErrCorrupt", got, err)
	}
}

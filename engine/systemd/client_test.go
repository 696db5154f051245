package systemd

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/sdme/sdme/engine/errdefs"
)

// The causes of a failed connection stay reachable: a missing bus socket,
// and a cancelled context, which the CLI turns into exit status 130.
func TestConnectKeepsTheCause(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "bus")
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+sock)
	_, err := Connect(context.Background())
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("Connect without a bus = %v, want ErrNotExist and ErrUnavailable", err)
	}

	// A bus that never answers: Connect waits until the context ends.
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := Connect(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Connect cancelled = %v, want context.Canceled", err)
	}
}

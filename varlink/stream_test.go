package varlink

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdme/sdme/engine/progress"
)

// stuckConn is a client that takes no reply until unblock is closed.
type stuckConn struct {
	unblock chan struct{}
	mu      sync.Mutex
	out     bytes.Buffer
}

func (c *stuckConn) Write(_ context.Context, b []byte) (int, error) {
	<-c.unblock
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(b)
}

func (c *stuckConn) Read(context.Context, []byte) (int, error)       { return 0, errNoReads }
func (c *stuckConn) ReadBytes(context.Context, byte) ([]byte, error) { return nil, errNoReads }

func TestStreamerNeverBlocksTheImportOnTheClient(t *testing.T) {
	reported := make(chan time.Duration, 1)
	table := map[string]method{"Import": {false, func(ctx context.Context, c *call) error {
		s := newStreamer(ctx, c)
		start := time.Now()
		task := progress.StartTask(s, "layer", "layer 1/1", 1000)
		for i := 0; i < 1000; i++ {
			progress.Logf(s, "step %d", i)
			task.Add(1)
		}
		task.Finish(nil)
		reported <- time.Since(start)
		s.close()
		c.Continues = false
		return c.Reply(ctx, struct{}{})
	}}}
	svc := newTestService(t, Options{}, table)
	conn := &stuckConn{unblock: make(chan struct{})}
	served := make(chan error, 1)
	go func() {
		served <- svc.vs.HandleMessage(context.Background(), conn, []byte(`{"method":"io.sdme.Import","more":true}`))
	}()
	select {
	case took := <-reported:
		t.Logf("3002 events reported in %v to a client that reads nothing", took)
	case <-time.After(10 * time.Second):
		t.Fatal("Report is blocked on a client that does not read")
	}
	close(conn.unblock)
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	replies := strings.Split(strings.TrimSuffix(conn.out.String(), "\x00"), "\x00")
	logs := strings.Count(conn.out.String(), `"log":`)
	if logs == 0 || logs > 2*maxPendingLogs {
		t.Errorf("%d log replies; want some, and at most the %d being written and as many waiting", logs, maxPendingLogs)
	}
	if !strings.Contains(conn.out.String(), `{"progress":100}`) {
		t.Error("the last progress (100%) was not sent")
	}
	if last := replies[len(replies)-1]; last != `{"parameters":{}}` {
		t.Errorf("last reply %s, want the final one", last)
	}
}

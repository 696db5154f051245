package varlink

import (
	"context"
	"sync"
	"time"

	"github.com/sdme/sdme/engine/progress"
)

const (
	// progressInterval spaces the progress replies.
	progressInterval = 250 * time.Millisecond
	// maxPendingLogs bounds the log lines waiting for a slow client;
	// more are dropped. An import logs a few lines a step.
	maxPendingLogs = 64
)

// streamer turns an import's progress events into the replies of
// io.systemd.Import.Pull's pattern: {log} for each step and {progress}
// with the percent done over every task of known size, at most a few
// times a second.
//
// The import never waits for the client. Report only notes what is due
// and a goroutine of the streamer writes it: a client that reads slowly
// misses progress replies (only the latest percent waits) and, past
// maxPendingLogs, log lines; one that does not read at all loses its
// connection at the write deadline. Either way the import goes on.
type streamer struct {
	ctx     context.Context
	c       *call
	wake    chan struct{} // something is due
	done    chan struct{} // closed by close: send what is due, then stop
	stopped chan struct{} // closed when the sending goroutine returns

	mu          sync.Mutex
	tasks       map[string][2]int64 // done, total
	logs        []string            // due
	percent     float64             // due if progressDue
	progressDue bool
	marked      time.Time // when progress last became due
	gone        bool      // the client went away; the import goes on
}

func newStreamer(ctx context.Context, c *call) *streamer {
	c.Continues = true
	s := &streamer{
		ctx:     ctx,
		c:       c,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
		tasks:   map[string][2]int64{},
	}
	go s.run()
	return s
}

type logMessage struct {
	Message  string `json:"message"`
	Priority int    `json:"priority"`
}

func (s *streamer) Report(ev progress.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone {
		return
	}
	switch ev.Kind {
	case progress.Log:
		if len(s.logs) < maxPendingLogs {
			s.logs = append(s.logs, ev.Message)
		}
	case progress.Start, progress.Advance, progress.Finish:
		if ev.Total > 0 {
			s.tasks[ev.Task] = [2]int64{ev.Done, ev.Total}
		}
		if now := time.Now(); now.Sub(s.marked) >= progressInterval || ev.Kind == progress.Finish {
			s.marked = now
			s.percent, s.progressDue = s.percentDone(), true
		}
	}
	select {
	case s.wake <- struct{}{}:
	default: // already woken
	}
}

func (s *streamer) percentDone() float64 {
	var done, total int64
	for _, t := range s.tasks {
		done += min(t[0], t[1])
		total += t[1]
	}
	if total == 0 {
		return 0
	}
	return float64(done) * 100 / float64(total)
}

// run sends what is due whenever Report notes something, until close.
func (s *streamer) run() {
	defer close(s.stopped)
	for {
		select {
		case <-s.wake:
			if !s.flush() {
				return
			}
		case <-s.done:
			s.flush()
			return
		}
	}
}

// flush sends the log lines due, then the progress; false when the
// client has gone.
func (s *streamer) flush() bool {
	s.mu.Lock()
	logs, percent, progressDue := s.logs, s.percent, s.progressDue
	s.logs, s.progressDue = nil, false
	s.mu.Unlock()
	for _, m := range logs {
		if !s.send(struct {
			Log logMessage `json:"log"`
		}{logMessage{m, 6}}) {
			return false
		}
	}
	return !progressDue || s.send(struct {
		Progress float64 `json:"progress"`
	}{percent})
}

func (s *streamer) send(v any) bool {
	if err := s.c.Reply(s.ctx, v); err != nil {
		s.mu.Lock()
		s.gone, s.logs = true, nil
		s.mu.Unlock()
		return false
	}
	return true
}

// close sends what is still due and stops the streamer; the call's final
// reply comes after it.
func (s *streamer) close() {
	close(s.done)
	<-s.stopped
}

package varlink

import (
	"context"
	"sync"
	"time"

	"github.com/sdme/sdme/engine/progress"
)

// streamer turns an import's progress events into the replies of
// io.systemd.Import.Pull's pattern: {log} for each step and {progress}
// with the percent done over every task of known size, at most a few
// times a second.
type streamer struct {
	ctx   context.Context
	c     *call
	mu    sync.Mutex
	tasks map[string][2]int64 // done, total
	sent  time.Time
	gone  bool // the client went away; the import goes on
}

func newStreamer(ctx context.Context, c *call) *streamer {
	c.Continues = true
	return &streamer{ctx: ctx, c: c, tasks: map[string][2]int64{}}
}

// reporter is s as a progress.Reporter; a nil streamer reports nowhere.
func (s *streamer) reporter() progress.Reporter {
	if s == nil {
		return progress.Discard
	}
	return s
}

type logMessage struct {
	Message  string `json:"message"`
	Priority int    `json:"priority"`
}

func (s *streamer) Report(ev progress.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ev.Kind {
	case progress.Log:
		s.send(struct {
			Log logMessage `json:"log"`
		}{logMessage{ev.Message, 6}})
		return
	case progress.Start, progress.Advance, progress.Finish:
		if ev.Total > 0 {
			s.tasks[ev.Task] = [2]int64{ev.Done, ev.Total}
		}
	}
	if now := time.Now(); now.Sub(s.sent) >= 250*time.Millisecond || ev.Kind == progress.Finish {
		s.sent = now
		s.send(struct {
			Progress float64 `json:"progress"`
		}{s.percent()})
	}
}

func (s *streamer) percent() float64 {
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

func (s *streamer) send(v any) {
	if s.gone {
		return
	}
	if err := s.c.Reply(s.ctx, v); err != nil {
		s.gone = true
	}
}

// close stops streaming before the final reply.
func (s *streamer) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.gone = true
	s.mu.Unlock()
}

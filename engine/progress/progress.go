// Package progress is how long engine work (downloads, extraction, copies)
// tells a front end what it is doing. The engine emits Events to a
// Reporter; the CLI draws them as bars or lines, the varlink service
// streams them to its client. Nothing here prints.
package progress

import (
	"fmt"
	"io"
	"sync"
)

// Kind says what an Event is about.
type Kind int

const (
	// Log is a step in words ("pulling docker.io/library/debian:latest").
	Log Kind = iota
	// Start opens a task that moves Total bytes (Total < 0: unknown).
	Start
	// Advance says a task has moved Done bytes so far.
	Advance
	// Finish closes a task; Err says whether it failed.
	Finish
)

// Event is one report. Task identifies the task an event belongs to, so
// that several tasks (layers fetched in parallel) can run at once.
type Event struct {
	Kind    Kind
	Task    string
	Message string // Log: the text; Start: the task's label
	Total   int64
	Done    int64
	Err     error
}

// Reporter receives events. Implementations must be safe for concurrent
// use: parallel work reports from several goroutines.
type Reporter interface {
	Report(Event)
}

// Discard drops every event.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Report(Event) {}

// Logf reports a step in words.
func Logf(r Reporter, format string, args ...any) {
	r.Report(Event{Kind: Log, Message: fmt.Sprintf(format, args...)})
}

// Task is a measured piece of work in progress.
type Task struct {
	r     Reporter
	id    string
	mu    sync.Mutex
	done  int64
	total int64
}

// StartTask opens a task with id and label of total bytes (< 0: unknown).
func StartTask(r Reporter, id, label string, total int64) *Task {
	r.Report(Event{Kind: Start, Task: id, Message: label, Total: total})
	return &Task{r: r, id: id, total: total}
}

// Add records n more bytes done.
func (t *Task) Add(n int64) {
	if n == 0 {
		return
	}
	t.mu.Lock()
	t.done += n
	done := t.done
	t.mu.Unlock()
	t.r.Report(Event{Kind: Advance, Task: t.id, Done: done, Total: t.total})
}

// Finish closes the task; err is nil on success.
func (t *Task) Finish(err error) {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	t.r.Report(Event{Kind: Finish, Task: t.id, Done: done, Total: t.total, Err: err})
}

// Reader counts the bytes read from r into t.
func (t *Task) Reader(r io.Reader) io.Reader { return &countingReader{r: r, t: t} }

type countingReader struct {
	r io.Reader
	t *Task
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.t.Add(int64(n))
	return n, err
}

// HumanBytes formats n bytes with a binary unit, for messages about
// sizes: 1.5 GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

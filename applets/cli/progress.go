package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/sdme/sdme/engine/printable"
	"github.com/sdme/sdme/engine/progress"
)

// ProgressMode is how engine progress is shown.
type ProgressMode int

const (
	// Quiet shows nothing.
	Quiet ProgressMode = iota
	// Lines prints steps and finished tasks, one line each (not a terminal).
	Lines
	// VerboseLines also prints tasks as they start and every few seconds.
	VerboseLines
	// Bars draws a bar per task and a total (a terminal).
	Bars
)

// Progress draws engine progress events on a writer (stderr). It is a
// progress.Reporter; Close must be called before anything else is
// written to the same writer.
type Progress struct {
	mode  ProgressMode
	w     io.Writer
	mu    sync.Mutex
	tasks map[string]*taskView
	bars  *mpb.Progress
	total *mpb.Bar
	sum   [2]int64 // bytes done and expected over all tasks with a size
	sized int      // tasks with a size seen so far
}

type taskView struct {
	label   string
	total   int64
	done    int64
	started time.Time
	printed time.Time
	bar     *mpb.Bar
}

// NewProgress returns a reporter drawing in mode on w.
func NewProgress(ctx context.Context, w io.Writer, mode ProgressMode) *Progress {
	p := &Progress{mode: mode, w: w, tasks: map[string]*taskView{}}
	if mode == Bars {
		p.bars = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	}
	return p
}

// Report implements progress.Reporter.
func (p *Progress) Report(ev progress.Event) {
	if p.mode == Quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev.Kind {
	case progress.Log:
		p.println(printable.Text(ev.Message))
	case progress.Start:
		t := &taskView{label: printable.Line(ev.Message), total: ev.Total, started: time.Now()}
		p.tasks[ev.Task] = t
		p.start(t)
	case progress.Advance:
		if t := p.tasks[ev.Task]; t != nil {
			p.advance(t, ev.Done)
		}
	case progress.Finish:
		if t := p.tasks[ev.Task]; t != nil {
			p.advance(t, ev.Done)
			p.finish(t, ev.Err)
			delete(p.tasks, ev.Task)
		}
	}
}

func (p *Progress) println(s string) {
	if p.bars != nil {
		fmt.Fprintln(p.bars, s) // above the bars
		return
	}
	fmt.Fprintln(p.w, s)
}

func (p *Progress) start(t *taskView) {
	switch p.mode {
	case VerboseLines:
		p.println(t.label + " ...")
	case Bars:
		if t.total > 0 {
			p.sized++
			p.sum[1] += t.total
			t.bar = p.bars.AddBar(t.total,
				mpb.PrependDecorators(decor.Name(t.label, decor.WCSyncSpaceR)),
				mpb.AppendDecorators(decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WCSyncSpace),
					decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace)))
			// A total is worth a line once there is more than one task.
			if p.total == nil && p.sized > 1 {
				p.total = p.bars.AddBar(p.sum[1], mpb.BarPriority(math.MaxInt),
					mpb.PrependDecorators(decor.Name("total", decor.WCSyncSpaceR)),
					mpb.AppendDecorators(decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WCSyncSpace),
						decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace)))
				p.total.SetCurrent(p.sum[0])
			} else if p.total != nil {
				p.total.SetTotal(p.sum[1], false)
			}
		} else {
			t.bar = p.bars.New(0, mpb.SpinnerStyle(),
				mpb.PrependDecorators(decor.Name(t.label, decor.WCSyncSpaceR)),
				mpb.AppendDecorators(decor.Current(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace),
					decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace)))
		}
	}
}

func (p *Progress) advance(t *taskView, done int64) {
	delta := done - t.done
	t.done = done
	switch p.mode {
	case VerboseLines:
		if now := time.Now(); now.Sub(t.printed) > 5*time.Second && now.Sub(t.started) > 5*time.Second {
			t.printed = now
			p.println(fmt.Sprintf("%s: %s", t.label, sizeOf(done, t.total)))
		}
	case Bars:
		if t.bar != nil {
			t.bar.SetCurrent(done)
		}
		if t.total > 0 {
			p.sum[0] += delta
			if p.total != nil {
				p.total.SetCurrent(p.sum[0])
			}
		}
	}
}

func (p *Progress) finish(t *taskView, err error) {
	switch p.mode {
	case Lines, VerboseLines:
		if err == nil {
			p.println(fmt.Sprintf("%s: %s in %s", t.label, progress.HumanBytes(t.done), time.Since(t.started).Round(100*time.Millisecond)))
		}
	case Bars:
		if t.bar == nil {
			return
		}
		if err != nil {
			t.bar.Abort(false)
		} else {
			t.bar.SetTotal(-1, true)
		}
	}
}

// Close stops drawing; bars still running are left as they are.
func (p *Progress) Close() {
	if p.bars == nil {
		return
	}
	p.mu.Lock()
	for _, t := range p.tasks {
		if t.bar != nil {
			t.bar.Abort(false)
		}
	}
	if p.total != nil {
		p.total.SetTotal(-1, true)
	}
	p.mu.Unlock()
	p.bars.Wait()
}

func sizeOf(done, total int64) string {
	if total > 0 {
		return fmt.Sprintf("%s of %s", progress.HumanBytes(done), progress.HumanBytes(total))
	}
	return progress.HumanBytes(done)
}

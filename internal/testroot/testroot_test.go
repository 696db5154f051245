package testroot

import (
	"runtime"
	"testing"
)

// recorder is a testing.TB that notes how a test ended; like testing's
// own, its Fatalf and Skipf end the goroutine.
type recorder struct {
	testing.TB
	ended string
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatalf(string, ...any) { r.ended = "fatal"; runtime.Goexit() }
func (r *recorder) Skipf(string, ...any)  { r.ended = "skip"; runtime.Goexit() }

func TestMissing(t *testing.T) {
	for env, want := range map[string]string{"": "skip", "0": "skip", "1": "fatal"} {
		t.Setenv(Env, env)
		r := &recorder{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Missing(r, "sfdisk not installed")
		}()
		<-done
		if r.ended != want {
			t.Errorf("%s=%q: the test ended with %q, want %q", Env, env, r.ended, want)
		}
	}
}

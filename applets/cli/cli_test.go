package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/sdme/sdme/engine/errdefs"
)

func TestCode(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{fmt.Errorf("container %q: %w", "x", errdefs.ErrNotFound), 1},
		{fmt.Errorf("name: %w", errdefs.ErrInvalidArgument), 2},
		{fmt.Errorf("%q matches 2 containers: a1, a2: %w", "a", errdefs.ErrAmbiguous), 2},
		{Usagef("bad"), 2},
		{ExitStatus(42), 42},
		{fmt.Errorf("wrapped: %w", ExitStatus(3)), 3},
		{context.Canceled, 130},
	}
	for _, c := range cases {
		if got := Code(c.err); got != c.want {
			t.Errorf("Code(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	root := Group(&cobra.Command{Use: "x"})
	root.AddCommand(&cobra.Command{Use: "sub", Args: RangeArgs(1, 1, "sub needs one NAME"), RunE: func(*cobra.Command, []string) error { return nil }})
	root.AddCommand(&cobra.Command{Use: "big", Args: MaxArgs(0, "big takes no arguments"), RunE: func(*cobra.Command, []string) error {
		return fmt.Errorf("image x: a manifest larger than the 4.0 MiB sdme accepts (5 GiB): %w", errdefs.ErrUnsupported)
	}})
	// Errors are usage errors by type, not by their text.
	root.AddCommand(&cobra.Command{Use: "lookalike", Args: MaxArgs(0, "lookalike takes no arguments"), RunE: func(*cobra.Command, []string) error {
		return errors.New("unknown command in the guest's log")
	}})
	for _, args := range [][]string{{"big"}, {"lookalike"}} {
		var stderr bytes.Buffer
		if got := Run(root, args, &stderr); got != 1 {
			t.Errorf("Run(%v) = %d, want 1 (stderr %q)", args, got, stderr.String())
		}
	}
	for _, args := range [][]string{{"nope"}, {"sub"}, {"sub", "a", "b"}, {"sub", "--bad"}, {"big", "extra"}, {}} {
		var stderr bytes.Buffer
		if got := Run(root, args, &stderr); got != 2 {
			t.Errorf("Run(%v) = %d, want 2 (stderr %q)", args, got, stderr.String())
		}
	}
}

func TestBatch(t *testing.T) {
	// Every call must be under way before any returns: they run side by side.
	var started sync.WaitGroup
	started.Add(3)
	var calls atomic.Int32
	resolve := func(arg string) (string, error) {
		if arg == "nosuch" {
			return "", errors.New(`container "nosuch": not found`)
		}
		return strings.TrimSuffix(arg, "-prefix"), nil
	}
	var out, errw bytes.Buffer
	err := Batch(context.Background(), &out, &errw, "sdme", "containers", "started",
		[]string{"c", "b", "nosuch", "a", "a-prefix"}, resolve, func(n string) error {
			calls.Add(1)
			started.Done()
			started.Wait()
			if n == "b" {
				return errors.New("b is broken")
			}
			return nil
		})
	if err == nil || !strings.Contains(err.Error(), "2 of 5 containers could not be started") {
		t.Errorf("Batch error = %v", err)
	}
	// In argument order; a and a-prefix are one container, started once.
	if out.String() != "c\na\na\n" || errw.String() != "sdme: b is broken\nsdme: container \"nosuch\": not found\n" {
		t.Errorf("Batch wrote %q and %q", out.String(), errw.String())
	}
	if Code(err) != 1 {
		t.Errorf("Batch's failure is status %d, want 1", Code(err))
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3", calls.Load())
	}
	// A name that names no one object is a usage error, in a batch too.
	err = Batch(context.Background(), &out, &errw, "sdme", "containers", "started", []string{"a", "b"}, func(arg string) (string, error) {
		if arg == "a" {
			return "", fmt.Errorf("%q matches 2 containers: a1, a2: %w", arg, errdefs.ErrAmbiguous)
		}
		return arg, nil
	}, func(string) error { return errors.New("b is broken") })
	if Code(err) != 2 {
		t.Errorf("a batch with an ambiguous prefix is status %d, want 2", Code(err))
	}
}

func TestBatchCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errw bytes.Buffer
	aDone := make(chan struct{})
	err := Batch(ctx, &out, &errw, "sdme", "containers", "started", []string{"a", "b"}, nil, func(n string) error {
		if n == "a" {
			close(aDone) // done before the Ctrl-C
			return nil
		}
		<-aDone
		cancel()
		return fmt.Errorf("start %s: %w", n, ctx.Err())
	})
	if !errors.Is(err, context.Canceled) || out.String() != "a\n" || errw.Len() != 0 {
		t.Errorf("Batch = %v, wrote %q and %q", err, out.String(), errw.String())
	}
	err = Batch(ctx, &out, &errw, "sdme", "containers", "started", []string{"c"}, nil, func(string) error {
		t.Error("a call began after the Ctrl-C")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Batch after the Ctrl-C = %v", err)
	}
}

func TestBatchBounded(t *testing.T) {
	args := make([]string, 3*batchSize)
	for i := range args {
		args[i] = fmt.Sprint("c", i)
	}
	var running atomic.Int32
	var once sync.Once
	full := make(chan struct{})
	err := Batch(context.Background(), io.Discard, io.Discard, "sdme", "containers", "started", args, nil, func(string) error {
		n := running.Add(1)
		defer running.Add(-1)
		switch {
		case n > batchSize:
			t.Errorf("%d calls at once, want at most %d", n, batchSize)
		case n == batchSize:
			once.Do(func() { close(full) })
		}
		<-full // the first batchSize wait until all of them run
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// A name waits for the ones it comes after, without holding a place: more
// bases than places, named before their applications, neither block the
// batch nor go before their applications.
func TestBatchAfter(t *testing.T) {
	var args []string
	for i := 0; i < 2*batchSize; i++ {
		args = append(args, fmt.Sprint("base", i))
	}
	for i := 0; i < 2*batchSize; i++ {
		args = append(args, fmt.Sprint("app", i))
	}
	var mu sync.Mutex
	done := map[string]bool{}
	err := BatchAfter(context.Background(), io.Discard, io.Discard, "sdme", "root filesystems", "removed", args, nil,
		func(name string) []string {
			if b, ok := strings.CutPrefix(name, "base"); ok {
				return []string{"app" + b, "not-in-the-batch"}
			}
			return nil
		},
		func(name string) error {
			mu.Lock()
			defer mu.Unlock()
			if b, ok := strings.CutPrefix(name, "base"); ok && !done["app"+b] {
				t.Errorf("%s before app%s", name, b)
			}
			done[name] = true
			return nil
		})
	if err != nil || len(done) != len(args) {
		t.Errorf("err %v, %d of %d done", err, len(done), len(args))
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90": 90 * time.Second, "2m": 2 * time.Minute, "1.5s": 1500 * time.Millisecond} {
		var d Duration
		if err := d.Set(in); err != nil || time.Duration(d) != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	for _, in := range []string{"soon", "-5s", "", "9223372037", "99999999999999999999", "3000000h"} {
		var d Duration
		if err := d.Set(in); err == nil {
			t.Errorf("Set(%q) accepted", in)
		}
	}
}

// The CLI words the engine's hints as its own commands and flags.
func TestMessageWordsHints(t *testing.T) {
	incomplete := &errdefs.Error{Kind: errdefs.Container, Name: "half", Err: fmt.Errorf("not fully created: %w", errdefs.ErrFailedPrecondition), Hint: errdefs.HintRemove}
	exists := &errdefs.Error{Kind: errdefs.Rootfs, Name: "debian", Err: errdefs.ErrExists, Hint: errdefs.HintForce}
	for err, want := range map[error]string{
		incomplete:                          `container "half": not fully created: failed precondition; remove it with 'sdme rm half'`,
		fmt.Errorf("start: %w", incomplete): `start: container "half": not fully created: failed precondition; remove it with 'sdme rm half'`,
		exists:                              `rootfs "debian": already exists; use --force to replace it`,
		&errdefs.Error{Kind: errdefs.Container, Name: "x", Err: errdefs.ErrNotFound}: `container "x": not found`,
	} {
		if got := message(err); got != want {
			t.Errorf("message(%q) = %q, want %q", err, got, want)
		}
	}
	for h := errdefs.HintRemove; h <= errdefs.HintInsecure; h++ {
		if hint(&errdefs.Error{Kind: errdefs.Container, Name: "x", Hint: h}) == "" {
			t.Errorf("hint %d has no words", h)
		}
	}
}

func TestPrintList(t *testing.T) {
	var b bytes.Buffer
	if err := PrintList[string](&b, true, nil, nil, nil); err != nil || b.String() != "[]\n" {
		t.Errorf("an empty list as JSON: %q, %v", b.String(), err)
	}
	b.Reset()
	PrintList(&b, false, []string{"a", "bbbb"}, []string{"NAME", "LEN"}, func(s string) []string { return []string{s, fmt.Sprint(len(s))} })
	if want := "NAME  LEN\na     1\nbbbb  4\n"; b.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", b.String(), want)
	}
}

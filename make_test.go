package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdme/sdme/internal/testroot"
)

// TestBuildNeedsOnlyGo: make and make unit do not install the test
// host's tools; the targets that boot it do.
func TestBuildNeedsOnlyGo(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		testroot.Missing(t, "make not installed")
	}
	for target, want := range map[string]bool{"all": false, "unit": false, "bats": true, "try": true, "bench": true, "test": true} {
		out, err := exec.Command("make", "-n", "-B", target).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %s: %v\n%s", target, err, out)
		}
		if got := strings.Contains(string(out), "deps.sh"); got != want {
			t.Errorf("make %s runs deps.sh: %v, want %v", target, got, want)
		}
	}
}

// TestDepsWaitsForApt: deps.sh waits for another apt-get's locks
// instead of failing at once.
func TestDepsWaitsForApt(t *testing.T) {
	bin := t.TempDir()
	log := filepath.Join(bin, "log")
	stub := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The first update finds the lists locked, as when another apt-get runs.
	stub("apt-get", `echo "$*" >>`+log+`
case "$*" in *update*) [ -e `+log+`.once ] || { : >`+log+`.once; exit 100; };; esac`)
	stub("id", "echo 0")
	stub("sleep", ":")
	cmd := exec.Command("bats/testhost/deps.sh")
	cmd.Env = []string{"PATH=" + bin}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deps.sh: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "update") || !strings.Contains(lines[2], "install") {
		t.Fatalf("apt-get calls:\n%s\nwant update, update again, install", calls)
	}
	for _, l := range lines {
		if !strings.Contains(l, "DPkg::Lock::Timeout=") {
			t.Errorf("apt-get %s: does not wait for dpkg's lock", l)
		}
	}
}

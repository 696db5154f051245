package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps dependencies pointing down: the engine knows nothing
// of front ends (applets, varlink, cobra), and front ends reach systemd and
// the kernel only through the engine.
func TestLayering(t *testing.T) {
	forbidden := []struct {
		pkgs string
		list []string // go list arguments: all dependencies, or direct imports
		bad  []string
	}{
		{"./engine/...", []string{"-deps"}, []string{"github.com/sdme/sdme/applets", "github.com/spf13/cobra", "github.com/varlink/go"}},
		{"./applets/...", []string{"-f", "{{join .Imports \"\\n\"}}"}, []string{"github.com/godbus/dbus", "github.com/coreos/go-systemd", "golang.org/x/sys/unix", "github.com/varlink/go"}},
		{"./varlink/...", []string{"-deps"}, []string{"github.com/sdme/sdme/applets", "github.com/spf13/cobra"}},
	}
	for _, f := range forbidden {
		pkgs, bad := f.pkgs, f.bad
		out, err := exec.Command("go", append(append([]string{"list"}, f.list...), pkgs)...).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkgs, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range bad {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s depends on %s", pkgs, dep)
				}
			}
		}
	}
}

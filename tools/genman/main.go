// genman writes the man pages of sdme's command tree into a directory.
// It runs at build time (make), so that the sdme binary does not carry
// the man page generator and its markdown renderer.
//
//	go run ./tools/genman DIR
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/sdme/sdme/applets/sdme"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genman DIR")
		os.Exit(2)
	}
	root := sdme.Command(os.Stdin, io.Discard, os.Stderr)
	root.DisableAutoGenTag = true
	h := &doc.GenManHeader{Title: "SDME", Section: "1", Source: "sdme " + root.Version, Manual: "sdme manual"}
	if err := os.MkdirAll(os.Args[1], 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "genman:", err)
		os.Exit(1)
	}
	if err := doc.GenManTree(root, h, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "genman:", err)
		os.Exit(1)
	}
}

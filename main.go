// sdme is one binary with several applets, chosen by the name it is run
// as (argv[0]), in the manner of busybox: sdme, and sdme-import and
// sdme-pod as symlinks to it.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/sdme/sdme/applets/sdme"
	"github.com/sdme/sdme/applets/sdmeimport"
	"github.com/sdme/sdme/applets/sdmepod"
)

// applets maps each name the binary answers to onto its entry point.
var applets = map[string]func(args []string) int{
	"sdme":        func(args []string) int { return sdme.Main(args, os.Stdin, os.Stdout, os.Stderr) },
	"sdme-import": func(args []string) int { return sdmeimport.Main(args, os.Stdin, os.Stdout, os.Stderr) },
	"sdme-pod":    func(args []string) int { return sdmepod.Main(args, os.Stdin, os.Stdout, os.Stderr) },
}

func main() {
	// Run without arguments with a socket named varlink, as `varlinkctl
	// call /path/to/sdme ...` and Accept=yes units do: be the io.sdme
	// service, whatever the name.
	if len(os.Args) == 1 && os.Getenv("LISTEN_FDNAMES") == "varlink" && os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) {
		os.Exit(sdme.Main([]string{"varlink"}, os.Stdin, os.Stdout, os.Stderr))
	}
	name := filepath.Base(os.Args[0])
	if run, ok := applets[name]; ok {
		os.Exit(run(os.Args[1:]))
	}
	// Run as something else (a renamed copy): accept the applet as the first
	// argument, "whatever sdme ps".
	if len(os.Args) > 1 {
		if run, ok := applets[os.Args[1]]; ok {
			os.Exit(run(os.Args[2:]))
		}
	}
	known := make([]string, 0, len(applets))
	for n := range applets {
		known = append(known, n)
	}
	sort.Strings(known)
	fmt.Fprintf(os.Stderr, "%s: unknown applet name; this binary runs as one of: %v\n"+
		"(link or copy it under one of those names, or run '%s sdme ...')\n", name, known, os.Args[0])
	os.Exit(2)
}

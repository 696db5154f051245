// Package sdmeimport is the sdme-import applet, which is also `sdme fs
// import`: it imports a root filesystem from a directory, tarball, URL,
// registry image, OCI layout, docker save archive or disk image.
package sdmeimport

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/sdme/sdme/applets/cli"
	"github.com/sdme/sdme/engine"
	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/importer"
	"github.com/sdme/sdme/engine/oci"
	"github.com/sdme/sdme/engine/progress"
)

// Main runs the sdme-import applet and returns its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := Command("sdme-import", stdout, stderr)
	cmd.SetIn(stdin)
	return cli.Run(cmd, args, stderr)
}

type flags struct {
	name           string
	force          bool
	verbose, quiet bool
	platform       string
	baseFS         string
	ociMode        string
	tlsVerify      bool
}

// Command builds the import command under the name use ("import" inside
// `sdme fs`, "sdme-import" as an applet of its own).
func Command(use string, stdout, stderr io.Writer) *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:   use + " [NAME] SOURCE",
		Short: "Import a root filesystem",
		Long: `Import a root filesystem that containers can be made of (sdme new -r NAME).

SOURCE is detected from what it is, not from its name:
  a directory            a tree such as debootstrap makes
  a tarball              plain, gzip, bzip2, xz or zstd
  an http(s) URL         of any file kind here; proxies from http_proxy,
                         https_proxy, all_proxy, no_proxy (either case)
  a registry image       docker.io/debian, quay.io/fedora/fedora:42,
                         host:5000/repo:tag, repo@sha256:...
  an OCI image layout    a directory or a tarball (.oci.tar.xz)
  a docker save archive
  a disk image           QCOW2 or raw, with or without a partition table

An OCI image of an application (no systemd inside, an Entrypoint or Cmd to
run) becomes a service of a base rootfs with systemd (--base-fs, or the
config's default_base_fs): only the application's own files are stored,
and its containers mount the base beneath them.

NAME defaults to the image's repository name or the file name without its
archive suffixes. The import is built aside and appears only when complete.`,
		Example: `  sudo sdme fs import debian docker.io/debian:12
  sudo sdme fs import --name ubuntu /tmp/noble
  sudo sdme fs import nginx docker.io/nginx --base-fs=debian
  sudo sdme fs import sid https://cloud.debian.org/.../debian-sid-generic-amd64.qcow2`,
		Args: cli.RangeArgs(1, 2, "import needs a SOURCE, and takes a NAME before it"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, f, args, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "name of the rootfs (instead of the NAME argument)")
	fl.BoolVarP(&f.force, "force", "f", false, "replace an existing rootfs that no container uses")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "report every step")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "report nothing but errors")
	fl.StringVar(&f.platform, "platform", "", "os/arch[/variant] of a multi-platform image (default: this machine's)")
	fl.StringVar(&f.baseFS, "base-fs", "", "base rootfs (with systemd) to run an OCI application image on (default: default_base_fs, for an image recognised as an application)")
	fl.StringVar(&f.ociMode, "oci-mode", importer.ModeAuto, "how to take an OCI image: auto (recognise an application), base (a plain rootfs) or app (an application)")
	fl.BoolVar(&f.tlsVerify, "tls-verify", true, "require HTTPS with a trusted certificate from the registry (loopback registries are always allowed plain HTTP)")
	return cmd
}

func run(cmd *cobra.Command, f flags, args []string, stdout, stderr io.Writer) error {
	opts := importer.Options{Source: args[len(args)-1], Force: f.force, Platform: f.platform}
	switch {
	case len(args) == 2 && f.name != "":
		return cli.Usagef("give the name either as an argument or with --name, not both")
	case len(args) == 2:
		opts.Name = args[0]
	default:
		opts.Name = f.name
	}
	if f.quiet && f.verbose {
		return cli.Usagef("--quiet and --verbose contradict each other")
	}
	opts.Base, opts.Mode = f.baseFS, f.ociMode
	if f.platform != "" {
		if _, err := oci.ParsePlatform(f.platform); err != nil {
			return cli.UsageError{Err: err}
		}
	}
	e, err := engine.Open(config.Path())
	if err != nil {
		return err
	}
	defer e.Close()
	opts.AnyInsecure = !f.tlsVerify
	mode := cli.Lines
	switch {
	case f.quiet:
		mode = cli.Quiet
	case cli.IsTerminal(stderr):
		mode = cli.Bars
	case f.verbose:
		mode = cli.VerboseLines
	}
	prog := cli.NewProgress(cmd.Context(), stderr, mode)
	res, err := e.Import(cmd.Context(), opts, prog)
	prog.Close()
	if err != nil {
		return err
	}
	if !f.quiet {
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		distro := res.Distro
		if distro == "" {
			distro = "no os-release"
		}
		if res.Base != "" {
			fmt.Fprintf(stderr, "imported application '%s' on base '%s' (%s, %s of its own)\n", res.Name, res.Base, distro, progress.HumanBytes(res.Size))
		} else {
			fmt.Fprintf(stderr, "imported rootfs '%s' (%s, %s)\n", res.Name, distro, progress.HumanBytes(res.Size))
		}
	}
	fmt.Fprintln(stdout, res.Name)
	return nil
}

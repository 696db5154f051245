package sdme

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/sdme/sdme/applets/cli"
)

// manCmd writes man pages for every command; make install calls it.
func manCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the man pages into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root.DisableAutoGenTag = true
			h := &doc.GenManHeader{Title: "SDME", Section: "1", Source: "sdme " + version, Manual: "sdme manual"}
			if err := doc.GenManTree(root, h, args[0]); err != nil {
				return fmt.Errorf("write man pages: %w", err)
			}
			return nil
		},
	}
}

func errUsage(cmd *cobra.Command) error {
	return cli.Usagef("see '%s --help'", cmd.CommandPath())
}

package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// PrintJSON writes v as indented JSON, the form of every --json output.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// PrintList prints list as a JSON array (never null) with asJSON, else
// as a table with header's columns, one row a line.
func PrintList[T any](w io.Writer, asJSON bool, list []T, header []string, row func(T) []string) error {
	if asJSON {
		if list == nil {
			list = []T{}
		}
		return PrintJSON(w, list)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, v := range list {
		fmt.Fprintln(tw, strings.Join(row(v), "\t"))
	}
	return tw.Flush()
}

// YesNo renders a flag in a table.
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// When renders a creation time in a table; "-" if unknown.
func When(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

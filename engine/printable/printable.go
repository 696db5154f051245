// Package printable takes out of foreign text what would drive a
// terminal rather than show on it: an image's PRETTY_NAME or a guest's log
// line can hold escape sequences that move the cursor, retitle the window
// or rewrite what the user sees.
package printable

import (
	"strings"
	"unicode"
)

// Line returns s as one line of plain text: line breaks and tabs become
// spaces, other control characters (C0, DEL and C1, whose U+009B is a CSI
// to many terminals) are dropped, and bytes that are not UTF-8 become
// U+FFFD.
func Line(s string) string { return clean(s, false) }

// Text is Line for text of several lines: newlines and tabs stay.
func Text(s string) string { return clean(s, true) }

func clean(s string, lines bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case lines && (r == '\n' || r == '\t'):
			return r
		case r == '\n' || r == '\t' || r == '\r':
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

package buildfile

import (
	"errors"
	"strings"
)

// words splits s into words as a POSIX shell does, expanding nothing:
// blanks separate words, '...' quotes literally, "..." quotes with a
// backslash escaping only \ " $ and `, and a backslash outside quotes
// takes the next character literally. Unlike a shell, # starts no
// comment: a file name may hold one.
func words(s string) ([]string, error) {
	var (
		out  []string
		w    strings.Builder
		open bool // a word has started, even an empty "" one
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t':
			if open {
				out = append(out, w.String())
				w.Reset()
				open = false
			}
		case '\\':
			if i++; i == len(s) {
				return nil, errors.New("ends in a backslash")
			}
			w.WriteByte(s[i])
			open = true
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated ' quote")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			open = true
		case '"':
			for i++; ; i++ {
				if i == len(s) {
					return nil, errors.New(`unterminated " quote`)
				}
				c = s[i]
				if c == '"' {
					break
				}
				if c == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					i++
					c = s[i]
				}
				w.WriteByte(c)
			}
			open = true
		default:
			w.WriteByte(c)
			open = true
		}
	}
	if open {
		out = append(out, w.String())
	}
	return out, nil
}

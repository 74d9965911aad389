package nmapprobes

import "fmt"

// Unescape decodes the C escapes of a probe string: \\ \0 \a \b \f \n \r
// \t \v \xHH, and \ before any other punctuation for the character itself
// (so \| and \" work whatever the delimiter).
func Unescape(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, fmt.Errorf("trailing backslash")
		}
		switch e := s[i]; e {
		case '\\':
			out = append(out, '\\')
		case '0':
			out = append(out, 0)
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return nil, fmt.Errorf("\\x needs two hex digits")
			}
			out = append(out, hexVal(s[i+1])<<4|hexVal(s[i+2]))
			i += 2
		default:
			if isAlnum(e) {
				return nil, fmt.Errorf("unknown escape \\%c", e)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

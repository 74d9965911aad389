package wire

import "strings"

// Clip returns at most the first n bytes of b, for evidence values and error
// messages that quote what a hostile server sent.
func Clip[T ~string | ~[]byte](b T, n int) T {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// Latin1 maps every byte to the rune of the same value, so that regexes see
// binary protocols byte for byte (the convention nmap's matcher uses too),
// and a body of unknown charset reads the same whatever its encoding: a
// regex byte escape (\xe9) matches the byte.
func Latin1(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

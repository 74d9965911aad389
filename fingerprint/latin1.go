package fingerprint

import "strings"

// Latin1 maps every byte to the rune of the same value, so that regexes see
// binary protocols byte for byte (the convention nmap's matcher uses too).
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

package fingerprint

import "github.com/portrait-scanner/portrait/protocol/wire"

// Latin1 maps every byte to the rune of the same value, so that regexes see
// binary protocols byte for byte (the convention nmap's matcher uses too).
func Latin1(b []byte) string { return wire.Latin1(b) }

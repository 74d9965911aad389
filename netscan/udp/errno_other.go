//go:build !linux

package udp

func errnoReason(error) string { return "" }

//go:build linux

package udp

import (
	"errors"
	"syscall"
)

func errnoReason(err error) string {
	switch {
	case errors.Is(err, syscall.ENETUNREACH):
		return ReasonNetUnreach
	case errors.Is(err, syscall.EHOSTUNREACH):
		return ReasonHostUnreach
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return ReasonProhibited
	}
	return ""
}

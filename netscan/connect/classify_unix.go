//go:build unix

package connect

import (
	"errors"
	"syscall"
)

// classifyErrno maps the errno of a failed connect(2).
func classifyErrno(err error) (verdict, bool) {
	var en syscall.Errno
	if !errors.As(err, &en) {
		return verdict{}, false
	}
	switch en {
	case syscall.ECONNREFUSED:
		return verdict{Closed, ReasonRefused, answered, false}, true
	case syscall.ECONNRESET:
		return verdict{Closed, ReasonReset, answered, false}, true
	case syscall.ETIMEDOUT:
		return verdict{Filtered, ReasonNoResponse, silent, true}, true
	case syscall.EHOSTUNREACH, syscall.EHOSTDOWN:
		return verdict{Filtered, ReasonHostUnreach, silent, false}, true
	case syscall.ENETUNREACH, syscall.ENETDOWN:
		return verdict{Filtered, ReasonNetUnreach, silent, false}, true
	case syscall.EACCES, syscall.EPERM:
		return verdict{Filtered, ReasonProhibited, silent, false}, true
	case syscall.EMFILE, syscall.ENFILE, syscall.EADDRNOTAVAIL, syscall.ENOBUFS,
		syscall.ENOMEM, syscall.EAGAIN, syscall.EADDRINUSE, syscall.EINTR:
		return verdict{Error, ReasonLocalError, local, false}, true
	}
	return verdict{}, false
}

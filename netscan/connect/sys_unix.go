//go:build unix

package connect

import (
	"syscall"
)

// lingerZero sets SO_LINGER {on, 0} before connect so that Close sends an
// RST and leaves no TIME_WAIT socket: a full-range scan would otherwise pin
// tens of thousands of them and exhaust the ephemeral ports.
func lingerZero(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
	})
	if err != nil {
		return err
	}
	return serr
}

// raiseNOFILE lifts the soft open-file limit to the hard limit and returns
// the resulting soft limit (0 when unknown).
func raiseNOFILE() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	if r.Cur < r.Max {
		want := r
		want.Cur = r.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
			r = want
		} else if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			return 0
		}
	}
	const huge = 1 << 20
	if r.Cur > huge { // RLIM_INFINITY and the like
		return huge
	}
	return int(r.Cur)
}

//go:build !unix

package connect

import "syscall"

// lingerZero is a no-op where SO_LINGER cannot be set portably.
func lingerZero(network, address string, c syscall.RawConn) error { return nil }

// raiseNOFILE reports an unknown limit.
func raiseNOFILE() int { return 0 }

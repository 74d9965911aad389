package connect

import (
	"context"
	"errors"
	"net"
	"os"
)

// outcome is how the scheduler treats a classified attempt.
type outcome uint8

const (
	answered outcome = iota + 1 // the host itself answered (open/closed): an RTT sample
	silent                      // no answer from the host (timeout, unreachable)
	local                       // our side failed; retry later without counting
	canceled                    // the scan was cancelled
)

// verdict is the classification of one connect attempt.
type verdict struct {
	state  State
	reason string
	kind   outcome
	retry  bool // worth another attempt (timeouts only)
}

// classify turns a connect error into a port verdict. Errnos are checked
// before timeouts because a dial that ran out of time after an ICMP error
// may carry both.
func classify(err error) verdict {
	if err == nil {
		return verdict{Open, ReasonSynAck, answered, false}
	}
	if v, ok := classifyErrno(err); ok {
		return v
	}
	if errors.Is(err, context.Canceled) {
		return verdict{Error, ReasonLocalError, canceled, false}
	}
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return verdict{Filtered, ReasonNoResponse, silent, true}
	}
	return verdict{Error, ReasonLocalError, local, false}
}

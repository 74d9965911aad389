package simple

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Time is the time service module (RFC 868): server-first, exactly four
// bytes (big-endian seconds since 1900-01-01 UTC), then the server closes.
type Time struct{}

// NewTime returns the time module.
func NewTime() protocol.Module { return Time{} }

// Info describes the time module.
func (Time) Info() protocol.Info {
	return protocol.Info{Name: "time", Service: "time", Ports: []int{37}, ServerFirst: true, Priority: 30}
}

// epoch1900 is the Unix time of 1900-01-01T00:00:00Z.
const epoch1900 = -2208988800

// claimWindow is how far from our clock a passive 4-byte banner may be for
// Claim: four arbitrary bytes are common, a current time is not.
const claimWindow = 24 * time.Hour

// plausibleWindow bounds the clock error Run accepts from a server that did
// not close after the four bytes.
const plausibleWindow = 5 * 365 * 24 * time.Hour

// Claim accepts a banner of exactly four bytes that reads as a time within
// a day of ours.
func (Time) Claim(banner []byte) bool {
	if len(banner) != 4 {
		return false
	}
	t := DecodeTime(banner, time.Now())
	return absDur(time.Until(t)) <= claimWindow
}

// DecodeTime turns the four bytes into an instant. The 32-bit counter wraps
// in 2036, so the era closest to now is chosen.
func DecodeTime(b []byte, now time.Time) time.Time {
	v := int64(binary.BigEndian.Uint32(b))
	best := time.Unix(epoch1900+v, 0).UTC()
	for era := int64(1); era <= 2; era++ {
		t := time.Unix(epoch1900+v+era<<32, 0).UTC()
		if absDur(t.Sub(now)) < absDur(best.Sub(now)) {
			best = t
		}
	}
	return best
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Run reads the four bytes and checks that nothing follows them.
func (Time) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	got := append([]byte(nil), banner...)
	if len(got) < 4 {
		more, err := wire.ReadFull(ctx, conn, env.Timeout, 4-len(got))
		got = append(got, more...)
		if len(got) < 4 {
			if len(got) == 0 {
				return nil, fmt.Errorf("time: no answer: %w", err)
			}
			return nil, fmt.Errorf("time: %d bytes then %v: %w", len(got), err, protocol.ErrNotThisProtocol)
		}
	}
	// The server closes right after the four bytes; anything more is
	// another protocol. A short wait is enough: the close follows at once.
	wait := env.Timeout
	if wait <= 0 || wait > 500*time.Millisecond {
		wait = 500 * time.Millisecond
	}
	extra, rerr := wire.ReadUntil(ctx, conn, wait, 64, nil)
	closed := len(extra) == 0 && errors.Is(rerr, io.EOF)
	got = append(got, extra...)
	res := &protocol.Result{}
	res.Record("NULL", nil, got)
	if len(got) != 4 {
		return nil, fmt.Errorf("time: %d bytes, want 4: %w", len(got), protocol.ErrNotThisProtocol)
	}
	now := time.Now()
	t := DecodeTime(got, now)
	off := t.Sub(now).Round(time.Second)
	// Four bytes then a close is the protocol itself, whatever the clock
	// says (devices without a clock answer 1970 or 2000); without the close
	// only a plausible time counts.
	conf := 90
	switch far := absDur(off); {
	case far > plausibleWindow && !closed:
		return nil, fmt.Errorf("time: %s is too far from now: %w", t.Format(time.RFC3339), protocol.ErrNotThisProtocol)
	case far > plausibleWindow:
		conf = 50
	case far > claimWindow:
		conf = 70
	case !closed:
		conf = 80
	}
	res.Set("time.value", strconv.FormatUint(uint64(binary.BigEndian.Uint32(got)), 10))
	res.Set("time.utc", t.Format(time.RFC3339))
	res.Set("time.offset_seconds", strconv.FormatInt(int64(off/time.Second), 10))
	res.Service, res.Confidence = "time", conf
	return res, nil
}

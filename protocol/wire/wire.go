// Package wire has the bounded read and write helpers every protocol module
// uses, so that a hostile server (endless banner, trickling bytes, silence)
// costs at most one timeout and one size cap, never a stall or a memory spike.
package wire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"time"
)

// DefaultMax caps a response when the caller gives no limit.
const DefaultMax = 64 << 10

// Write sends b with a write deadline.
func Write(ctx context.Context, conn net.Conn, timeout time.Duration, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_ = conn.SetWriteDeadline(deadline(ctx, timeout))
	_, err := conn.Write(b)
	return err
}

// ReadUntil reads until done reports that the buffer holds a complete answer,
// the peer closes, max bytes have arrived or the timeout expires. It returns
// what it has; the error is nil when done was satisfied or the peer closed
// after sending something, and a timeout or EOF error otherwise. done may be nil
// (read until close, cap or timeout).
func ReadUntil(ctx context.Context, conn net.Conn, timeout time.Duration, max int, done func([]byte) bool) ([]byte, error) {
	if max <= 0 {
		max = DefaultMax
	}
	_ = conn.SetReadDeadline(deadline(ctx, timeout))
	defer conn.SetReadDeadline(time.Time{})
	defer interruptOnCancel(ctx, conn)()
	var buf []byte
	chunk := make([]byte, 4096)
	for len(buf) < max {
		if err := ctx.Err(); err != nil {
			return buf, err
		}
		want := len(chunk)
		if rest := max - len(buf); rest < want {
			want = rest
		}
		n, err := conn.Read(chunk[:want])
		buf = append(buf, chunk[:n]...)
		if done != nil && len(buf) > 0 && done(buf) {
			return buf, nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(buf) > 0 {
				return buf, nil
			}
			return buf, err
		}
	}
	return buf, nil
}

// ReadQuiet reads until the peer has been quiet for idle after the first
// bytes, or closes, or max bytes, or the timeout. It is for answers with no
// length framing (banners of several lines, error pages).
func ReadQuiet(ctx context.Context, conn net.Conn, timeout, idle time.Duration, max int) ([]byte, error) {
	return ReadQuietUntil(ctx, conn, timeout, idle, max, nil)
}

// ReadQuietUntil is ReadQuiet that also returns as soon as done reports the
// bytes so far complete (a prompt that waits for input: no need to sit out
// the idle time). done may be nil.
func ReadQuietUntil(ctx context.Context, conn net.Conn, timeout, idle time.Duration, max int, done func([]byte) bool) ([]byte, error) {
	if max <= 0 {
		max = DefaultMax
	}
	end := deadline(ctx, timeout)
	defer conn.SetReadDeadline(time.Time{})
	defer interruptOnCancel(ctx, conn)()
	var buf []byte
	chunk := make([]byte, 4096)
	for len(buf) < max {
		if err := ctx.Err(); err != nil {
			return buf, err
		}
		d := end
		if len(buf) > 0 {
			if q := time.Now().Add(idle); q.Before(d) {
				d = q
			}
		}
		_ = conn.SetReadDeadline(d)
		want := len(chunk)
		if rest := max - len(buf); rest < want {
			want = rest
		}
		n, err := conn.Read(chunk[:want])
		buf = append(buf, chunk[:n]...)
		if err != nil {
			if len(buf) > 0 && (errors.Is(err, io.EOF) || IsTimeout(err)) {
				return buf, nil
			}
			return buf, err
		}
		if done != nil && n > 0 && done(buf) {
			return buf, nil
		}
	}
	return buf, nil
}

// ReadLine reads one line ending in "\n" (bounded by max).
func ReadLine(ctx context.Context, conn net.Conn, timeout time.Duration, max int) ([]byte, error) {
	return ReadUntil(ctx, conn, timeout, max, func(b []byte) bool { return bytes.IndexByte(b, '\n') >= 0 })
}

// ReadFull reads exactly n bytes (n must be ≤ max the caller tolerates).
func ReadFull(ctx context.Context, conn net.Conn, timeout time.Duration, n int) ([]byte, error) {
	b, err := ReadUntil(ctx, conn, timeout, n, func(b []byte) bool { return len(b) >= n })
	if err == nil && len(b) < n {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// interruptOnCancel makes a blocked Read return as soon as ctx is
// cancelled (the engine cancels the other probes once one has identified
// the service); the returned func stops the watch.
func interruptOnCancel(ctx context.Context, conn net.Conn) func() {
	if ctx.Done() == nil {
		return func() {}
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	return func() { stop() }
}

// IsTimeout reports whether err is a deadline expiry.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func deadline(ctx context.Context, timeout time.Duration) time.Time {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	d := time.Now().Add(timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

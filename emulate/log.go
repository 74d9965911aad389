package emulate

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// Logger writes the interaction log: one JSON object a line, one line an
// event. Every event is written and flushed under one lock before Log
// returns, so that no event is lost or interleaved however many sessions
// log at once, and a killed emulator leaves whole lines behind.
//
// Event fields:
//
//	time         RFC 3339 with nanoseconds, UTC
//	session      session number (from 1, per emulator run)
//	event        connect, greeting, command, tls, close, refused, error
//	remote       client address (connect, refused)
//	local        the emulator's address (connect)
//	personality  the personality's name (connect)
//	state        session state before the command (command)
//	class        command class and argument class, "EHLO domain" (command)
//	recv         what the client sent, without its line end, when UTF-8;
//	             recv_b64 (base64) otherwise; recv_len when it was cut
//	sent         what the emulator answered (sent_b64 when not UTF-8)
//	match        exact, fallback or none: how the answer was found
//	reason       why a session ended (quit, server, client, idle, limit,
//	             errors, timeout, shutdown, tls, error) or was refused
//	duration_ms  session length (close)
type Logger struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
	n   int64
}

// NewLogger logs to w.
func NewLogger(w io.Writer) *Logger {
	return &Logger{w: bufio.NewWriterSize(w, 64<<10)}
}

// Event is one log line.
type Event struct {
	Time        time.Time `json:"time"`
	Session     uint64    `json:"session"`
	Event       string    `json:"event"`
	Remote      string    `json:"remote,omitempty"`
	Local       string    `json:"local,omitempty"`
	Personality string    `json:"personality,omitempty"`
	Protocol    string    `json:"protocol,omitempty"`
	State       string    `json:"state,omitempty"`
	Class       string    `json:"class,omitempty"`
	Recv        *string   `json:"recv,omitempty"`
	RecvB64     string    `json:"recv_b64,omitempty"`
	RecvLen     int       `json:"recv_len,omitempty"`
	Sent        *string   `json:"sent,omitempty"`
	SentB64     string    `json:"sent_b64,omitempty"`
	Match       string    `json:"match,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Error       string    `json:"error,omitempty"`
	DurationMS  int64     `json:"duration_ms,omitempty"`
}

// setRecv stores client bytes losslessly.
func (e *Event) setRecv(b []byte) {
	if utf8.Valid(b) {
		s := string(b)
		e.Recv = &s
	} else {
		e.RecvB64 = base64.StdEncoding.EncodeToString(b)
	}
}

// setSent stores emulator bytes losslessly.
func (e *Event) setSent(b []byte) {
	if utf8.Valid(b) {
		s := string(b)
		e.Sent = &s
	} else {
		e.SentB64 = base64.StdEncoding.EncodeToString(b)
	}
}

// Log writes one event. A nil Logger logs nothing.
func (l *Logger) Log(e Event) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	b = append(b, '\n')
	if _, err := l.w.Write(b); err != nil {
		l.err = err
		return
	}
	l.err = l.w.Flush()
	l.n++
}

// Err reports the first write error (the log is then incomplete).
func (l *Logger) Err() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Count is the number of events written.
func (l *Logger) Count() int64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

package simple

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Daytime is the daytime service module (RFC 867): server-first, one line
// of human-readable date and time, then the server closes.
type Daytime struct{}

// NewDaytime returns the daytime module.
func NewDaytime() protocol.Module { return Daytime{} }

// Info describes the daytime module.
func (Daytime) Info() protocol.Info {
	return protocol.Info{Name: "daytime", Service: "daytime", Ports: []int{13}, ServerFirst: true, Priority: 30}
}

// maxDaytime bounds a daytime answer: every known format fits in 80 bytes.
const maxDaytime = 256

// Claim accepts a short single line that parses as a date and time.
func (Daytime) Claim(banner []byte) bool {
	_, ok := ParseDaytime(banner, time.Now())
	return ok
}

// Daytime layouts, tried in order; each names the implementation family
// that prints it. Month and day names are matched case-insensitively because
// xinetd upper-cases them.
var daytimeFormats = []struct {
	name string
	re   *regexp.Regexp
	// layout parses the matched text with time.Parse when it carries a zone
	// we can trust ("" = no offset computed).
	layout string
}{
	// xinetd builtins.c: strftime "%d %b %Y %H:%M:%S %Z", upper-cased.
	{"xinetd", regexp.MustCompile(`^\d{2} (?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC) \d{4} \d{2}:\d{2}:\d{2} [A-Z][A-Z0-9+-]{0,5}$`), "02 Jan 2006 15:04:05 MST"},
	// ctime(3): BSD inetd, netkit inetd, BusyBox inetd.
	{"rfc867-ctime", regexp.MustCompile(`^(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$`), ""},
	{"rfc822", regexp.MustCompile(`^(?:(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat), )?\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} (?:[+-]\d{4}|UTC|GMT)$`), ""},
	// Windows Simple TCP/IP Services: locale time then date.
	{"windows", regexp.MustCompile(`^\d{1,2}:\d{2}:\d{2} [AP]M \d{1,2}/\d{1,2}/\d{4}$`), ""},
	// NIST ACTS: MJD YY-MM-DD HH:MM:SS TT L H msADV UTC(NIST) OTM
	{"nist", regexp.MustCompile(`^\d{5} \d{2}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \d{2} \d \d +[\d.]+ UTC\(NIST\) \*?$`), ""},
	{"iso8601", regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?$`), ""},
}

// otherDate accepts the remaining honest daytime lines: only date words,
// numbers, a clock time and a zone.
var (
	clockRE   = regexp.MustCompile(`\b\d{1,2}:\d{2}(?::\d{2})?\b`)
	dateWords = map[string]bool{}
)

func init() {
	for _, w := range strings.Fields("jan feb mar apr may jun jul aug sep oct nov dec january february march april june july august september october november december sun mon tue wed thu fri sat sunday monday tuesday wednesday thursday friday saturday am pm utc gmt z") {
		dateWords[w] = true
	}
}

// DaytimeInfo is a parsed daytime answer.
type DaytimeInfo struct {
	Text   string // trimmed line
	Format string // see the package doc
	// Offset is the server clock minus now, valid when HasOffset.
	Offset    time.Duration
	HasOffset bool
}

// ParseDaytime (now is our clock, for the offset) recognises a daytime answer: one short printable line (a
// trailing CRLF or LF, and a trailing NUL some servers add, allowed) in a
// known layout or made only of date words, numbers, a clock time and a zone.
func ParseDaytime(b []byte, now time.Time) (DaytimeInfo, bool) {
	if len(b) == 0 || len(b) > maxDaytime {
		return DaytimeInfo{}, false
	}
	line := bytes.TrimRight(b, "\x00")
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if bytes.ContainsAny(line, "\r\n") {
		return DaytimeInfo{}, false
	}
	for _, c := range line {
		if c < 0x20 || c > 0x7e {
			return DaytimeInfo{}, false
		}
	}
	text := strings.TrimSpace(string(line))
	if text == "" {
		return DaytimeInfo{}, false
	}
	for _, f := range daytimeFormats {
		if !f.re.MatchString(text) {
			continue
		}
		info := DaytimeInfo{Text: text, Format: f.name}
		if f.layout != "" {
			if t, err := time.Parse(f.layout, titleMonth(text)); err == nil && isUTCZone(text) {
				info.Offset, info.HasOffset = t.Sub(now).Round(time.Second), true
			}
		}
		return info, true
	}
	if !clockRE.MatchString(text) {
		return DaytimeInfo{}, false
	}
	rest := clockRE.ReplaceAllString(text, " ")
	words := strings.FieldsFunc(rest, func(r rune) bool { return strings.ContainsRune(" ,/-.:()", r) })
	year := false
	for _, w := range words {
		lw := strings.ToLower(w)
		switch {
		case dateWords[lw]:
		case isDigits(w):
			if n, _ := strconv.Atoi(w); len(w) == 4 && n >= 1970 && n <= 2200 {
				year = true
			}
		case len(w) <= 5 && strings.ToUpper(w) == w && isLetters(w): // zone abbreviation
		default:
			return DaytimeInfo{}, false
		}
	}
	if !year {
		return DaytimeInfo{}, false
	}
	return DaytimeInfo{Text: text, Format: "other"}, true
}

// titleMonth turns xinetd's "22 NOV 2026" into "22 Nov 2026" for time.Parse.
func titleMonth(s string) string {
	f := strings.Fields(s)
	if len(f) > 1 && len(f[1]) == 3 {
		f[1] = f[1][:1] + strings.ToLower(f[1][1:])
	}
	return strings.Join(f, " ")
}

func isUTCZone(s string) bool {
	return strings.HasSuffix(s, " UTC") || strings.HasSuffix(s, " GMT")
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func isLetters(s string) bool {
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') {
			return false
		}
	}
	return s != ""
}

// Run reads the daytime line (if the passive banner did not hold it all) and
// parses it.
func (Daytime) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	got := append([]byte(nil), banner...)
	if !bytes.HasSuffix(got, []byte("\n")) && len(got) < maxDaytime {
		more, err := wire.ReadLine(ctx, conn, env.Timeout, maxDaytime+1-len(got))
		got = append(got, more...)
		if len(got) == 0 {
			return nil, fmt.Errorf("daytime: no answer: %w", err)
		}
	}
	res := &protocol.Result{}
	res.Record("NULL", nil, got)
	info, ok := ParseDaytime(got, time.Now())
	if !ok {
		return nil, fmt.Errorf("daytime: %q is not a date: %w", wire.Clip(got, 40), protocol.ErrNotThisProtocol)
	}
	res.Set("daytime.text", info.Text)
	res.Set("daytime.format", info.Format)
	if info.HasOffset {
		res.Set("daytime.offset_seconds", strconv.FormatInt(int64(info.Offset/time.Second), 10))
	}
	res.Service, res.Confidence = "daytime", 90
	if info.Format == "other" {
		res.Confidence = 60
	}
	return res, nil
}

package emulate

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Dynamic parts. The recorder turns what varies from one session to the
// next back into placeholders, so that the emulator says today's date and
// echoes today's client, not the recording's:
//
//   - dates and times within a few minutes of the recording (older dates,
//     like a page's Last-Modified, are content and stay);
//   - what the client sent, echoed back (a recipient, a user name, a
//     path, a HELO name, an IMAP tag), found because the test set uses
//     distinctive values;
//   - the server's names, the client's and the server's addresses and
//     the server's port;
//   - tokens that differ between repeated greetings or pages (session
//     ids, challenges, counters), found by recording them several times.

// segs is a template under construction: literal text and placeholders.
type segs []seg

type seg struct {
	text string
	ph   bool // text is a placeholder body ("date:http")
}

func newSegs(s string) segs { return segs{{text: s}} }

// replace turns every literal occurrence of value into the placeholder,
// when ok (if not nil) accepts the match at that position of the literal.
func (ss segs) replace(value, ph string, ok func(lit string, at int) bool) segs {
	if value == "" {
		return ss
	}
	var out segs
	for _, s := range ss {
		if s.ph || !strings.Contains(s.text, value) {
			out = append(out, s)
			continue
		}
		rest := s.text
		off := 0
		for {
			i := strings.Index(rest[off:], value)
			if i < 0 {
				break
			}
			at := off + i
			if ok != nil && !ok(rest, at) {
				off = at + 1
				continue
			}
			if at > 0 {
				out = append(out, seg{text: rest[:at]})
			}
			out = append(out, seg{text: ph, ph: true})
			rest = rest[at+len(value):]
			off = 0
		}
		if rest != "" {
			out = append(out, seg{text: rest})
		}
	}
	return out
}

// replaceRe turns regexp matches accepted by fn into the placeholder fn returns.
func (ss segs) replaceRe(re *regexp.Regexp, fn func(match string) (string, bool)) segs {
	var out segs
	for _, s := range ss {
		if s.ph {
			out = append(out, s)
			continue
		}
		last := 0
		for _, m := range re.FindAllStringIndex(s.text, -1) {
			ph, ok := fn(s.text[m[0]:m[1]])
			if !ok {
				continue
			}
			if m[0] > last {
				out = append(out, seg{text: s.text[last:m[0]]})
			}
			out = append(out, seg{text: ph, ph: true})
			last = m[1]
		}
		if last < len(s.text) {
			out = append(out, seg{text: s.text[last:]})
		}
	}
	return out
}

func (ss segs) String() string {
	var b strings.Builder
	for _, s := range ss {
		if s.ph {
			b.WriteString("${" + s.text + "}")
		} else {
			b.WriteString(Escape(s.text))
		}
	}
	return b.String()
}

// literal returns the text with placeholders shown as themselves (for diffing).
func (ss segs) literal() string {
	var b strings.Builder
	for _, s := range ss {
		if s.ph {
			b.WriteString("\x00" + s.text + "\x00")
		} else {
			b.WriteString(s.text)
		}
	}
	return b.String()
}

type dateRule struct {
	format string
	re     *regexp.Regexp
	layout string
}

// dateRules are tried longest first; each match is accepted only when it
// parses to a time near the recording.
var dateRules = []dateRule{
	{"http", regexp.MustCompile(`[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT`), "Mon, 02 Jan 2006 15:04:05 GMT"},
	{"rfc2822", regexp.MustCompile(`[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}`), "Mon, 2 Jan 2006 15:04:05 -0700"},
	{"ctime", regexp.MustCompile(`[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}`), "Mon Jan _2 15:04:05 2006"},
	{"iso", regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})`), time.RFC3339},
}

var (
	reHMS = regexp.MustCompile(`\b\d{2}:\d{2}:\d{2}\b`)
	reHM  = regexp.MustCompile(`\b\d{2}:\d{2}\b`)
)

// near is how far from the recording a date may be to count as "now".
const near = 5 * time.Minute

// templateDates replaces the dates of "now" in ss.
func templateDates(ss segs, at time.Time) segs {
	for _, r := range dateRules {
		ss = ss.replaceRe(r.re, func(m string) (string, bool) {
			t, err := time.Parse(r.layout, m)
			if err != nil {
				return "", false
			}
			d := t.Sub(at)
			if d < -near || d > near {
				return "", false
			}
			f := r.format
			if f == "rfc2822" && len(strings.Fields(m)[1]) == 1 {
				f = "rfc2822_short" // day without a leading zero
			}
			return "date:" + f, true
		})
	}
	clock := func(layout, format string) func(string) (string, bool) {
		return func(m string) (string, bool) {
			for _, loc := range []*time.Location{time.UTC, time.Local} {
				for _, d := range []time.Duration{-2 * time.Minute, -time.Minute, 0, time.Minute, 2 * time.Minute} {
					if at.Add(d).In(loc).Format(layout) == m {
						return "date:" + format, true
					}
				}
			}
			return "", false
		}
	}
	ss = ss.replaceRe(reHMS, clock("15:04:05", "time_hms"))
	ss = ss.replaceRe(reHM, clock("15:04", "time_hm"))
	return ss
}

// echo is a value the client sent that the server may repeat.
type echo struct {
	name, value string
}

// templateEchoes replaces the echoed values, longest first, also in upper
// and lower case.
func templateEchoes(ss segs, echoes []echo) segs {
	sort.SliceStable(echoes, func(i, j int) bool { return len(echoes[i].value) > len(echoes[j].value) })
	for _, e := range echoes {
		if len(e.value) < 3 {
			continue
		}
		ss = ss.replace(e.value, e.name, wordEdges(e.value))
		if u := strings.ToUpper(e.value); u != e.value {
			ss = ss.replace(u, e.name+":upper", wordEdges(u))
		}
		if l := strings.ToLower(e.value); l != e.value {
			ss = ss.replace(l, e.name+":lower", wordEdges(l))
		}
	}
	return ss
}

// wordEdges accepts a match that does not start or end inside a word
// ("auth" is no echo in "authentication").
func wordEdges(value string) func(lit string, at int) bool {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	return func(lit string, at int) bool {
		end := at + len(value)
		if at > 0 && alnum(lit[at-1]) && alnum(value[0]) {
			return false
		}
		return !(end < len(lit) && alnum(lit[end]) && alnum(value[len(value)-1]))
	}
}

// templatePort replaces the server's port where text calls it a port
// ("port 3021", "Port 9443", "host:3021").
func templatePort(ss segs, port string) segs {
	if port == "" {
		return ss
	}
	return ss.replace(port, "server_port", func(lit string, at int) bool {
		end := at + len(port)
		if end < len(lit) && lit[end] >= '0' && lit[end] <= '9' {
			return false
		}
		if at > 0 && lit[at-1] >= '0' && lit[at-1] <= '9' {
			return false
		}
		before := strings.ToLower(lit[max(0, at-8):at])
		return strings.Contains(before, "port") || strings.HasSuffix(before, ":")
	})
}

// templateAddr replaces an IP address where it stands alone.
func templateAddr(ss segs, ip, name string) segs {
	if ip == "" {
		return ss
	}
	return ss.replace(ip, name, func(lit string, at int) bool {
		end := at + len(ip)
		isAddr := func(c byte) bool { return c >= '0' && c <= '9' || c == '.' }
		return !(at > 0 && isAddr(lit[at-1])) && !(end < len(lit) && isAddr(lit[end]) && !(lit[end] == '.' && (end+1 == len(lit) || !isAddr(lit[end+1]))))
	})
}

// templateHost replaces the server's names where they stand alone.
func templateHost(ss segs, names []string) segs {
	sort.SliceStable(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, n := range names {
		if len(n) < 2 {
			continue
		}
		ss = ss.replace(n, "hostname", func(lit string, at int) bool {
			end := at + len(n)
			word := func(c byte) bool {
				return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			}
			// "250-lab.local": a reply code's continuation dash is no
			// part of a name.
			codeDash := at >= 4 && lit[at-1] == '-' && isDigits(lit[at-4:at-1]) && (at == 4 || lit[at-5] == '\n')
			if at > 0 && !codeDash && (word(lit[at-1]) || lit[at-1] == '.') {
				return false
			}
			return !(end < len(lit) && (word(lit[end]) || (lit[end] == '.' && end+1 < len(lit) && word(lit[end+1]))))
		})
	}
	return ss
}

var reToken = regexp.MustCompile(`[A-Za-z0-9]+|\x00[^\x00]*\x00|[^A-Za-z0-9\x00]+`)

// templateDiff compares the same answer recorded several times (samples,
// already templated the same way) and turns the tokens that differ into
// random or counter placeholders. sessions[i] is how many connections the
// recorder held open when sample i was taken; a number that moves with it
// is ${sessions}. It returns samples[0] templated, or samples[0] unchanged
// when the samples are not alike enough to compare.
func templateDiff(samples []segs, sessions []int) segs {
	if len(samples) < 2 {
		return samples[0]
	}
	toks := make([][]string, len(samples))
	for i, s := range samples {
		toks[i] = reToken.FindAllString(s.literal(), -1)
		if len(toks[i]) != len(toks[0]) {
			return samples[0]
		}
	}
	var out segs
	for k, t := range toks[0] {
		if strings.HasPrefix(t, "\x00") {
			out = append(out, seg{text: strings.Trim(t, "\x00"), ph: true})
			continue
		}
		differ := false
		for i := 1; i < len(toks); i++ {
			differ = differ || toks[i][k] != t
		}
		if !differ {
			out = append(out, seg{text: t})
			continue
		}
		out = append(out, seg{text: diffPlaceholder(toks, k, sessions), ph: true})
	}
	return out
}

func diffPlaceholder(toks [][]string, k int, sessions []int) string {
	allDigits, allHex, n := true, true, 0
	var nums []int
	for i := range toks {
		t := toks[i][k]
		n = max(n, len(t))
		if !isDigits(t) {
			allDigits = false
		} else if v, err := strconv.Atoi(t); err == nil {
			nums = append(nums, v)
		}
		for _, c := range t {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				allHex = false
			}
		}
	}
	if allDigits && len(nums) == len(toks) && len(sessions) == len(toks) {
		moves := true
		for i := 1; i < len(nums); i++ {
			moves = moves && nums[i]-nums[0] == sessions[i]-sessions[0]
		}
		if moves {
			return "sessions"
		}
	}
	switch {
	case allDigits:
		return "rand:digits:" + strconv.Itoa(n)
	case allHex && strings.ToLower(toks[0][k]) == toks[0][k]:
		return "rand:hex:" + strconv.Itoa(n)
	case allHex && strings.ToUpper(toks[0][k]) == toks[0][k]:
		return "rand:HEX:" + strconv.Itoa(n)
	}
	return "rand:alnum:" + strconv.Itoa(n)
}

package fingerprint

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// Backtracking regex dialects. recog (Ruby) and nmap-service-probes (PCRE)
// patterns use syntax Go's RE2 lacks (lookaround, backreferences, atomic
// groups), so they run on github.com/dlclark/regexp2 behind the same Regex
// interface, the same literal prefilter and the same matcher as the YAML
// rules. Each pattern is first translated from its flavour into .NET syntax
// (what regexp2 parses), keeping the flavour's semantics where they differ:
//
//   - every character of the text is one rune: the engine's texts are either
//     Latin-1-decoded bytes or raw bytes; valid UTF-8 decodes to its rune and
//     every other byte to the rune of the same value, so \xHH matches the byte;
//   - \w \s \d are ASCII, as in PCRE without UCP and Ruby on binary strings
//     (.NET's are Unicode and would match Latin-1 letters and NBSP);
//   - Ruby: ^ and $ always match at line boundaries, (?m) means dot-all,
//     \h is a hex digit; PCRE: \h is horizontal space, \Q...\E quotes;
//   - both: POSIX classes ([[:alpha:]]), {,n}, \x{HH}, possessive
//     quantifiers (as atomic groups), (?P<name>...), unknown escapes of
//     letters meaning the letter itself.
//
// A match that runs longer than MatchTimeout is abandoned as no match, so a
// hostile response cannot stall a scan through catastrophic backtracking.

// MatchTimeout bounds one regexp2 match.
const MatchTimeout = 50 * time.Millisecond

type flavour int

const (
	flavourPCRE flavour = iota
	flavourRuby
)

// PCRE compiles a Perl/PCRE pattern (nmap-service-probes syntax; options
// inline, e.g. "(?s)(?i)..."). It is the "pcre" dialect of every catalog.
func PCRE(expr string) (Regex, error) { return compileFlavour(expr, flavourPCRE) }

// Ruby compiles a Ruby (Onigmo) pattern as recog writes them: ^ and $ match
// at line boundaries and (?m) makes the dot match newlines.
func Ruby(expr string) (Regex, error) { return compileFlavour(expr, flavourRuby) }

// UnlessMarker separates a pattern from patterns that veto it: the text
// matches "A(?#unless)B(?#unless)C" when A matches and neither B nor C
// does. recog relies on first-match order within a database, with
// "assert nothing" fingerprints placed before the ones they shield; its
// loader appends those to the later rules this way. (?#...) is a regex
// comment, so the marker is inert to any other reader.
const UnlessMarker = "(?#unless)"

func compileFlavour(expr string, fl flavour) (Regex, error) {
	parts := strings.Split(expr, UnlessMarker)
	main, err := compileOne(parts[0], fl)
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 {
		return main, nil
	}
	u := &unlessRegex{regex2: main}
	for _, p := range parts[1:] {
		re, err := compileShared(p, fl)
		if err != nil {
			return nil, fmt.Errorf("unless pattern %q: %w", p, err)
		}
		u.unless = append(u.unless, re)
	}
	return u, nil
}

// shared caches the veto patterns: a recog database repeats the same few
// on every rule after them, and a compiled regexp2 is safe to share.
var shared struct {
	sync.Mutex
	m map[string]*regex2
}

func compileShared(expr string, fl flavour) (*regex2, error) {
	key := strconv.Itoa(int(fl)) + expr
	shared.Lock()
	re, ok := shared.m[key]
	shared.Unlock()
	if ok {
		return re, nil
	}
	re, err := compileOne(expr, fl)
	if err != nil {
		return nil, err
	}
	shared.Lock()
	if shared.m == nil {
		shared.m = map[string]*regex2{}
	}
	if len(shared.m) < 4096 {
		shared.m[key] = re
	}
	shared.Unlock()
	return re, nil
}

// unlessRegex is a regex vetoed by others (see UnlessMarker).
type unlessRegex struct {
	*regex2
	unless []*regex2
}

func (u *unlessRegex) FindStringSubmatchIndex(s string) []int {
	idx := u.regex2.FindStringSubmatchIndex(s)
	if idx == nil {
		return nil
	}
	for _, re := range u.unless {
		if re.matches(s) {
			return nil
		}
	}
	return idx
}

func (r *regex2) matches(s string) bool {
	if !r.mayMatch(s) {
		return false
	}
	buf := runePool.Get().(*[]rune)
	defer runePool.Put(buf)
	runes, _ := textRunes(s, (*buf)[:0])
	if cap(runes) <= 1<<16 {
		*buf = runes[:0]
	}
	m, err := r.re.FindRunesMatch(runes)
	return err == nil && m != nil
}

func compileOne(expr string, fl flavour) (*regex2, error) {
	tr, err := translateRegex(expr, fl)
	if err != nil {
		return nil, err
	}
	opt := regexp2.RegexOptions(regexp2.None)
	if fl == flavourRuby {
		opt |= regexp2.Multiline
	}
	re, err := regexp2.Compile(tr, opt)
	if err != nil {
		return nil, fmt.Errorf("%w (as .NET: %s)", err, tr)
	}
	re.MatchTimeout = MatchTimeout
	r := &regex2{re: re, expr: expr}
	r.prefix, r.fold, r.lineStart = anchoredPrefix(expr, fl)
	for _, n := range re.GetGroupNumbers() {
		if n > r.maxGroup {
			r.maxGroup = n
		}
	}
	return r, nil
}

// View turns a field's text into the text a foreign rule set was written
// for (recog matches an SSH banner without its "SSH-2.0-" prefix, an FTP
// greeting without reply codes). It returns the view and, for each byte
// offset of the view (len(view)+1 entries), the byte offset in the field;
// offsets nil means the view is s[base:base+len(view)].
type View func(s string) (view string, offsets []int, base int)

// Viewed wraps a compiler so its regexes run on a view of the text while
// reporting offsets into the text itself, as the matcher requires. A view
// must only drop or replace characters around newlines: the literal
// prefilter (which never uses literals spanning a newline) stays valid.
func Viewed(compile RegexCompiler, view View) RegexCompiler {
	return func(expr string) (Regex, error) {
		re, err := compile(expr)
		if err != nil {
			return nil, err
		}
		return &viewedRegex{Regex: re, view: view}, nil
	}
}

type viewedRegex struct {
	Regex
	view View
}

func (v *viewedRegex) FindStringSubmatchIndex(s string) []int {
	text, offs, base := v.view(s)
	if text == "" && s != "" {
		return nil
	}
	idx := v.Regex.FindStringSubmatchIndex(text)
	for i, x := range idx {
		if x < 0 {
			continue
		}
		if offs != nil {
			idx[i] = offs[x]
		} else {
			idx[i] = base + x
		}
	}
	return idx
}

// isBacktrackingDialect says whether pcreLiteral derives the prefilter
// literal of a dialect's patterns: "pcre", "ruby", "recog" and their
// views ("recog:ssh"...).
func isBacktrackingDialect(d string) bool {
	base, _, _ := strings.Cut(d, ":")
	return base == "pcre" || base == "ruby" || base == "recog"
}

type regex2 struct {
	re       *regexp2.Regexp
	expr     string
	maxGroup int
	// prefix is a literal every match starts with, at the start of the
	// text or, with lineStart, of a line: checked before running regexp2,
	// which costs microseconds even when it fails at once.
	prefix    string
	fold      bool
	lineStart bool
}

// mayMatch is the anchored-prefix check.
func (r *regex2) mayMatch(s string) bool {
	if r.prefix == "" {
		return true
	}
	has := func(t string) bool {
		if len(t) < len(r.prefix) {
			return false
		}
		if r.fold {
			return strings.EqualFold(t[:len(r.prefix)], r.prefix)
		}
		return t[:len(r.prefix)] == r.prefix
	}
	if has(s) {
		return true
	}
	if !r.lineStart {
		return false
	}
	for i := strings.IndexByte(s, '\n'); i >= 0; {
		s = s[i+1:]
		if has(s) {
			return true
		}
		i = strings.IndexByte(s, '\n')
	}
	return false
}

var runePool = sync.Pool{New: func() any { b := make([]rune, 0, 256); return &b }}

func (r *regex2) String() string { return r.expr }

// SubexpIndex returns the number of a named group, or -1.
func (r *regex2) SubexpIndex(name string) int {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return -1
	}
	return r.re.GroupNumberFromName(name)
}

// FindStringSubmatchIndex runs the regex and returns byte offsets into s,
// -1 for groups that did not take part, nil when there is no match or the
// match timed out.
func (r *regex2) FindStringSubmatchIndex(s string) []int {
	if !r.mayMatch(s) {
		return nil
	}
	buf := runePool.Get().(*[]rune)
	defer runePool.Put(buf)
	runes, offs := textRunes(s, (*buf)[:0])
	if cap(runes) <= 1<<16 {
		*buf = runes[:0]
	}
	m, err := r.re.FindRunesMatch(runes)
	if err != nil || m == nil {
		return nil
	}
	idx := make([]int, 2*(r.maxGroup+1))
	for i := range idx {
		idx[i] = -1
	}
	conv := func(ri int) int {
		if offs == nil {
			return ri
		}
		return offs[ri]
	}
	idx[0], idx[1] = conv(m.Index), conv(m.Index+m.Length)
	for n := 1; n <= r.maxGroup; n++ {
		g := m.GroupByNumber(n)
		if g == nil || len(g.Captures) == 0 {
			continue
		}
		idx[2*n], idx[2*n+1] = conv(g.Index), conv(g.Index+g.Length)
	}
	return idx
}

// textRunes decodes s into one rune per character: valid UTF-8 sequences
// to their rune, any other byte to the rune of its value. offs maps rune
// index to byte offset (len(runes)+1 entries); nil when s is ASCII and the
// two coincide.
func textRunes(s string, runes []rune) ([]rune, []int) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	var offs []int
	if ascii {
		for i := 0; i < len(s); i++ {
			runes = append(runes, rune(s[i]))
		}
		return runes, nil
	}
	offs = make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			r, size = rune(s[i]), 1
		}
		runes = append(runes, r)
		offs = append(offs, i)
		i += size
	}
	offs = append(offs, len(s))
	return runes, offs
}

// ASCII class bodies (without brackets) used for \w \s \d and POSIX classes.
const (
	classWord  = `a-zA-Z0-9_`
	classSpace = `\t\n\v\f\r `
	classDigit = `0-9`
	classHex   = `0-9a-fA-F`
	classHSpac = `\t \xA0`
)

var posixClasses = map[string]string{
	"alpha": `a-zA-Z`, "digit": classDigit, "alnum": `a-zA-Z0-9`, "upper": `A-Z`, "lower": `a-z`,
	"space": classSpace, "blank": ` \t`, "punct": `!-/:-@\[-` + "`" + `{-~`, "print": `\x20-\x7E`,
	"graph": `\x21-\x7E`, "cntrl": `\x00-\x1F\x7F`, "xdigit": classHex, "word": classWord,
	"ascii": `\x00-\x7F`,
}

// translateRegex rewrites a PCRE or Ruby pattern into regexp2's .NET syntax.
func translateRegex(expr string, fl flavour) (string, error) {
	var out strings.Builder
	out.Grow(len(expr) + 16)
	// atomStart is the output offset where the last quantifiable atom
	// began (-1: none); groups remembers the output offset of each open group.
	atomStart := -1
	var groups []int
	p := expr
	i := 0
	emitAtom := func(s string) {
		atomStart = out.Len()
		out.WriteString(s)
	}
	for i < len(p) {
		c := p[i]
		switch c {
		case '\\':
			if i+1 >= len(p) {
				return "", fmt.Errorf("trailing backslash")
			}
			if fl == flavourPCRE && p[i+1] == 'Q' {
				end := strings.Index(p[i+2:], `\E`)
				lit := p[i+2:]
				next := len(p)
				if end >= 0 {
					lit = p[i+2 : i+2+end]
					next = i + 2 + end + 2
				}
				for _, r := range lit {
					emitAtom(regexp2.Escape(string(r)))
				}
				i = next
				continue
			}
			s, n, err := translateEscape(p[i:], fl, false)
			if err != nil {
				return "", err
			}
			if s == "" { // zero-width or nothing to emit as an atom
				out.WriteString(p[i : i+n])
			} else {
				emitAtom(s)
			}
			i += n
		case '[':
			s, n, err := translateClass(p[i:], fl)
			if err != nil {
				return "", err
			}
			emitAtom(s)
			i += n
		case '(':
			if strings.HasPrefix(p[i:], "(?") {
				s, n, complete, err := translateGroupOpen(p[i:], fl)
				if err != nil {
					return "", err
				}
				if !complete {
					groups = append(groups, out.Len())
				} else {
					atomStart = -1 // an option group "(?i)" or a comment is not an atom
				}
				out.WriteString(s)
				i += n
				continue
			}
			groups = append(groups, out.Len())
			out.WriteByte('(')
			i++
		case ')':
			out.WriteByte(')')
			if len(groups) > 0 {
				atomStart = groups[len(groups)-1]
				groups = groups[:len(groups)-1]
			}
			i++
		case '{':
			// {,n} means {0,n} in Ruby and PCRE2; .NET reads it literally.
			if q, n, ok := braceQuantifier(p[i:]); ok {
				out.WriteString(q)
				i += n
				i = possessive(p, i, &out, atomStart)
				continue
			}
			emitAtom(`\{`)
			i++
		case '*', '+', '?':
			out.WriteByte(c)
			i++
			i = possessive(p, i, &out, atomStart)
		default:
			if c >= utf8.RuneSelf {
				r, size := utf8.DecodeRuneInString(p[i:])
				emitAtom(string(r))
				i += size
				continue
			}
			if c == '^' || c == '$' || c == '|' {
				out.WriteByte(c)
				atomStart = -1
			} else {
				emitAtom(string(c))
			}
			i++
		}
	}
	return out.String(), nil
}

// possessive turns a possessive quantifier ("a*+") into an atomic group
// around the quantified atom, and passes a lazy "?" through.
func possessive(p string, i int, out *strings.Builder, atomStart int) int {
	if i < len(p) && p[i] == '?' {
		out.WriteByte('?')
		return i + 1
	}
	if i < len(p) && p[i] == '+' && atomStart >= 0 {
		s := out.String()
		out.Reset()
		out.WriteString(s[:atomStart])
		out.WriteString("(?>")
		out.WriteString(s[atomStart:])
		out.WriteByte(')')
		return i + 1
	}
	return i
}

// braceQuantifier recognises {n}, {n,}, {n,m} and {,m}.
func braceQuantifier(s string) (string, int, bool) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", 0, false
	}
	body := s[1:end]
	lo, hi, comma := strings.Cut(body, ",")
	isNum := func(x string) bool {
		if x == "" {
			return false
		}
		for i := 0; i < len(x); i++ {
			if x[i] < '0' || x[i] > '9' {
				return false
			}
		}
		return true
	}
	switch {
	case !comma && isNum(lo):
		return s[:end+1], end + 1, true
	case comma && isNum(lo) && (hi == "" || isNum(hi)):
		return s[:end+1], end + 1, true
	case comma && lo == "" && isNum(hi):
		return "{0," + hi + "}", end + 1, true
	}
	return "", 0, false
}

// translateEscape translates the escape at the start of s. It returns the
// replacement ("" to copy the escape unchanged as a zero-width item) and
// the number of input bytes consumed. inClass selects the form usable
// inside a character class (bodies without brackets).
func translateEscape(s string, fl flavour, inClass bool) (string, int, error) {
	c := s[1]
	cls := func(body string, neg bool) string {
		if inClass {
			return body
		}
		if neg {
			return "[^" + body + "]"
		}
		return "[" + body + "]"
	}
	switch c {
	case 'w':
		return cls(classWord, false), 2, nil
	case 'd':
		return cls(classDigit, false), 2, nil
	case 's':
		return cls(classSpace, false), 2, nil
	case 'W', 'D', 'S':
		if inClass {
			return s[:2], 2, nil // .NET's own negated class; close enough inside a set
		}
		body := map[byte]string{'W': classWord, 'D': classDigit, 'S': classSpace}[c]
		return "[^" + body + "]", 2, nil
	case 'h', 'H':
		body := classHex
		if fl == flavourPCRE {
			body = classHSpac
		}
		if c == 'H' {
			if inClass {
				return "", 0, fmt.Errorf(`\H inside a character class is not supported`)
			}
			return "[^" + body + "]", 2, nil
		}
		return cls(body, false), 2, nil
	case 'b', 'B', 'A', 'z', 'Z', 'G':
		if inClass && c == 'b' {
			return `\x08`, 2, nil
		}
		if inClass {
			return string(c), 2, nil
		}
		return "", 2, nil
	case 'N':
		if fl == flavourPCRE && !inClass {
			return `[^\n]`, 2, nil
		}
		return "N", 2, nil
	case 'R':
		if !inClass {
			return `(?:\r\n|[\n\v\f\r\x85])`, 2, nil
		}
		return "R", 2, nil
	case 'K':
		return "", 0, fmt.Errorf(`\K is not supported`)
	case 'x':
		if len(s) > 2 && s[2] == '{' {
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return "", 0, fmt.Errorf(`unterminated \x{`)
			}
			v, err := strconv.ParseUint(s[3:end], 16, 32)
			if err != nil {
				return "", 0, fmt.Errorf(`bad \x{%s}`, s[3:end])
			}
			return runeEscape(rune(v)), end + 1, nil
		}
		n := 0
		for n < 2 && 2+n < len(s) && isHexDigit(s[2+n]) {
			n++
		}
		if n == 0 {
			return `\x00`, 2, nil
		}
		v, _ := strconv.ParseUint(s[2:2+n], 16, 8)
		return runeEscape(rune(v)), 2 + n, nil
	case 'u':
		if len(s) > 2 && s[2] == '{' { // Ruby \u{HHHH}
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return "", 0, fmt.Errorf(`unterminated \u{`)
			}
			v, err := strconv.ParseUint(strings.TrimSpace(s[3:end]), 16, 32)
			if err != nil {
				return "", 0, fmt.Errorf(`bad \u{%s}`, s[3:end])
			}
			return runeEscape(rune(v)), end + 1, nil
		}
		if len(s) >= 6 && isHexDigit(s[2]) && isHexDigit(s[3]) && isHexDigit(s[4]) && isHexDigit(s[5]) {
			return s[:6], 6, nil
		}
		return "u", 2, nil
	case 'n', 'r', 't', 'f', 'v', 'e', 'a':
		return s[:2], 2, nil
	case 'c':
		if len(s) > 2 {
			return s[:3], 3, nil
		}
		return "", 0, fmt.Errorf(`\c at end of pattern`)
	case 'p', 'P':
		if len(s) > 2 && s[2] == '{' {
			end := strings.IndexByte(s, '}')
			if end > 0 {
				return s[:end+1], end + 1, nil
			}
		}
		return s[:2], 2, nil
	case 'k':
		if len(s) > 2 && (s[2] == '<' || s[2] == '\'' || s[2] == '{') {
			close := map[byte]byte{'<': '>', '\'': '\'', '{': '}'}[s[2]]
			end := strings.IndexByte(s[3:], close)
			if end >= 0 {
				return `\k<` + s[3:3+end] + `>`, 3 + end + 1, nil
			}
		}
		return "", 0, fmt.Errorf(`bad \k reference`)
	case 'g': // PCRE \g1, \g{1}, \g{-1} unsupported forms except plain numbers
		if len(s) > 2 && s[2] >= '1' && s[2] <= '9' {
			return `\` + s[2:3], 3, nil
		}
		if len(s) > 3 && s[2] == '{' {
			end := strings.IndexByte(s, '}')
			if end > 0 {
				ref := s[3:end]
				if _, err := strconv.Atoi(ref); err == nil && ref[0] != '-' {
					return `\` + ref, end + 1, nil
				}
				return `\k<` + ref + `>`, end + 1, nil
			}
		}
		return "", 0, fmt.Errorf(`unsupported \g reference`)
	case '0':
		// Octal: \0, \0o, \0oo.
		n := 2
		for n < 4 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
			n++
		}
		v, _ := strconv.ParseUint("0"+s[1:n], 8, 16)
		return runeEscape(rune(v)), n, nil
	}
	if c >= '1' && c <= '9' {
		if inClass { // octal inside a class
			n := 1
			for n < 4 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
				n++
			}
			v, err := strconv.ParseUint(s[1:n], 8, 16)
			if err != nil || n == 1 {
				return string(c), 2, nil
			}
			return runeEscape(rune(v)), n, nil
		}
		n := 2
		for n < len(s) && s[n] >= '0' && s[n] <= '9' && n < 4 {
			n++
		}
		return s[:n], n, nil // backreference; regexp2 resolves octal fallbacks itself
	}
	if c >= utf8.RuneSelf {
		r, size := utf8.DecodeRuneInString(s[1:])
		return regexp2.Escape(string(r)), 1 + size, nil
	}
	if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		// Unknown letter escape: Ruby and PCRE take the letter itself.
		return string(c), 2, nil
	}
	return s[:2], 2, nil
}

func runeEscape(r rune) string {
	if r < 0x100 {
		return fmt.Sprintf(`\x%02X`, r)
	}
	return fmt.Sprintf(`\u%04X`, r)
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// translateClass translates a bracket expression starting at s[0] == '['.
func translateClass(s string, fl flavour) (string, int, error) {
	var b strings.Builder
	b.WriteByte('[')
	i := 1
	if i < len(s) && s[i] == '^' {
		b.WriteByte('^')
		i++
	}
	first := true
	for i < len(s) {
		c := s[i]
		switch {
		case c == ']' && !first:
			b.WriteByte(']')
			return b.String(), i + 1, nil
		case c == ']':
			b.WriteString(`\]`)
			i++
		case c == '[' && strings.HasPrefix(s[i:], "[:"):
			end := strings.Index(s[i+2:], ":]")
			if end < 0 {
				b.WriteString(`\[`)
				i++
				break
			}
			name := s[i+2 : i+2+end]
			neg := strings.HasPrefix(name, "^")
			body, ok := posixClasses[strings.TrimPrefix(name, "^")]
			if !ok || neg {
				return "", 0, fmt.Errorf("unsupported POSIX class [:%s:]", name)
			}
			b.WriteString(body)
			i += 2 + end + 2
		case c == '[':
			if fl == flavourRuby {
				return "", 0, fmt.Errorf("nested character classes are not supported")
			}
			b.WriteString(`\[`)
			i++
		case c == '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("trailing backslash in class")
			}
			e, n, err := translateEscape(s[i:], fl, true)
			if err != nil {
				return "", 0, err
			}
			if e == "" {
				e = s[i : i+n]
			}
			b.WriteString(e)
			i += n
		case c == '-' && i+1 < len(s) && s[i+1] == '[':
			b.WriteString(`\-`)
			i++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r)
			i += size
		default:
			b.WriteByte(c)
			i++
		}
		first = false
	}
	return "", 0, fmt.Errorf("missing ] in character class")
}

// translateGroupOpen translates the "(?..." construct at the start of s and
// returns what to write, how many bytes it consumed and whether that is a
// complete item (an option group "(?i)", a comment, a named backreference)
// rather than the opener of a group closed later by ")".
func translateGroupOpen(s string, fl flavour) (string, int, bool, error) {
	out, n, err := groupOpen(s, fl)
	complete := strings.HasSuffix(out, ")") || strings.HasPrefix(out, `\k<`) || out == ""
	return out, n, complete, err
}

func groupOpen(s string, fl flavour) (string, int, error) {
	switch {
	case strings.HasPrefix(s, "(?#"):
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return "", 0, fmt.Errorf("unterminated comment")
		}
		return "", end + 1, nil
	case strings.HasPrefix(s, "(?P<"):
		return "(?<", 4, nil
	case strings.HasPrefix(s, "(?P="):
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return "", 0, fmt.Errorf("unterminated (?P=")
		}
		return `\k<` + s[4:end] + `>`, end + 1, nil
	case strings.HasPrefix(s, "(?P>"), strings.HasPrefix(s, "(?|"), strings.HasPrefix(s, "(?R"), strings.HasPrefix(s, "(?~"):
		return "", 0, fmt.Errorf("unsupported group %q", s[:3])
	case strings.HasPrefix(s, "(?<=") || strings.HasPrefix(s, "(?<!") ||
		strings.HasPrefix(s, "(?<") || strings.HasPrefix(s, "(?'") ||
		strings.HasPrefix(s, "(?:") || strings.HasPrefix(s, "(?=") ||
		strings.HasPrefix(s, "(?!") || strings.HasPrefix(s, "(?>"):
		if strings.HasPrefix(s, "(?<=") || strings.HasPrefix(s, "(?<!") {
			return s[:4], 4, nil
		}
		return s[:3], 3, nil
	}
	// Options: (?flags) or (?flags:...) with flags [a-zA-Z-].
	j := 2
	for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] == '-' || s[j] == '^') {
		j++
	}
	if j >= len(s) || (s[j] != ')' && s[j] != ':') {
		return "", 0, fmt.Errorf("unsupported group syntax near %q", s[:min(len(s), 8)])
	}
	var b strings.Builder
	b.WriteString("(?")
	for _, f := range s[2:j] {
		switch f {
		case 'i', 'x', 'n', '-':
			b.WriteRune(f)
		case 's':
			b.WriteRune('s')
		case 'm':
			if fl == flavourRuby {
				b.WriteRune('s') // Ruby's m is dot-all
			} else {
				b.WriteRune('m')
			}
		case 'u', 'a', 'd', 'l', 'U', 'J', '^':
			// Charset/ungreedy/dupnames modifiers: no .NET equivalent; the
			// ASCII classes already give the byte semantics.
			if f == 'U' || f == 'J' {
				return "", 0, fmt.Errorf("unsupported option %q", f)
			}
		default:
			return "", 0, fmt.Errorf("unsupported option %q", f)
		}
	}
	opts := b.String()
	if opts == "(?" || strings.HasSuffix(opts, "-") {
		opts = strings.TrimSuffix(opts, "-")
	}
	if s[j] == ':' {
		if opts == "(?" {
			return "(?:", j + 1, nil
		}
		return opts + ":", j + 1, nil
	}
	if opts == "(?" {
		return "(?:)", j + 1, nil
	}
	return opts + ")", j + 1, nil
}

// pcreLiteral finds a literal every match of a PCRE or Ruby pattern must
// contain, for the prefilter: the longest run of plain characters at the
// top level of the pattern (outside groups and classes, not made optional
// by a quantifier). Any top-level alternation, or an extended-mode flag,
// gives no literal. fold is set when case-insensitive matching is on
// anywhere, and the literal is then lower case. Runs never span a newline,
// so views that fold line ends keep the literal valid.
func pcreLiteral(expr string) (lit string, fold bool) {
	expr, _, _ = strings.Cut(expr, UnlessMarker)
	if strings.Contains(expr, "(?x") || hasOptionFlag(expr, 'x') {
		return "", false
	}
	fold = hasOptionFlag(expr, 'i')
	best := ""
	var run []rune
	flush := func() {
		if len(string(run)) > len(best) {
			best = string(run)
		}
		run = run[:0]
	}
	depth := 0
	i := 0
	for i < len(expr) {
		c := expr[i]
		// The atom at i and its length.
		var atom rune = -1
		n := 1
		switch {
		case depth > 0:
			switch c {
			case '\\':
				n = 2
			case '[':
				n = classLen(expr[i:])
			case '(':
				depth++
			case ')':
				depth--
			}
			i += n
			if depth == 0 {
				i = skipQuantifier(expr, i)
			}
			continue
		case c == '|':
			return "", false
		case c == '(':
			flush()
			depth++
			i++
			continue
		case c == ')':
			flush()
			i++
			continue
		case c == '[':
			flush()
			i += classLen(expr[i:])
			i = skipQuantifier(expr, i)
			continue
		case c == '\\':
			if i+1 >= len(expr) {
				return "", false
			}
			d := expr[i+1]
			if d == 'Q' { // quoted run: skip it, conservatively
				flush()
				if end := strings.Index(expr[i+2:], `\E`); end >= 0 {
					i += 2 + end + 2
				} else {
					i = len(expr)
				}
				continue
			}
			_, en, err := translateEscape(expr[i:], flavourPCRE, false)
			if err != nil {
				return "", false
			}
			n = en
			switch {
			case d == 'x' && n == 4:
				if v, _ := strconv.ParseUint(expr[i+2:i+4], 16, 8); v >= 0x20 && v < 0x7f {
					atom = rune(v)
				}
			case d < utf8.RuneSelf && !(d >= 'a' && d <= 'z' || d >= 'A' && d <= 'Z' || d >= '0' && d <= '9' || d == '_'):
				atom = rune(d) // escaped punctuation is itself
			}
		case c == '.' || c == '^' || c == '$' || c == '*' || c == '+' || c == '?' || c == '{':
			atom = -1
		case c >= utf8.RuneSelf:
			// Non-ASCII: the text may hold it as UTF-8 or as one raw byte,
			// which the regex treats alike but strings.Contains does not.
			_, size := utf8.DecodeRuneInString(expr[i:])
			n = size
		case c < 0x20 || c == 0x7f:
			atom = -1
		default:
			atom = rune(c)
		}
		i += n
		if atom < 0 {
			flush()
			i = skipQuantifier(expr, i)
			continue
		}
		// A quantifier after the atom: optional ones drop it, others keep
		// it but end the run.
		if i < len(expr) {
			switch q := expr[i]; {
			case q == '?' || q == '*':
				flush()
				i = skipQuantifier(expr, i)
				continue
			case q == '{':
				if bq, _, ok := braceQuantifier(expr[i:]); ok {
					if strings.HasPrefix(bq, "{0") {
						flush()
					} else {
						run = append(run, atom)
						flush()
					}
					i = skipQuantifier(expr, i)
					continue
				}
			case q == '+':
				run = append(run, atom)
				flush()
				i = skipQuantifier(expr, i)
				continue
			}
		}
		run = append(run, atom)
	}
	flush()
	if len(best) < 3 {
		return "", false
	}
	if fold {
		best = strings.ToLower(best)
	}
	return best, fold
}

// anchoredPrefix finds the literal a pattern's matches start with when it
// is anchored ("^OpenSSH_", "(?i)\\AServer: "): lineStart when the anchor
// also matches after a newline (Ruby's ^, PCRE's ^ under (?m)).
func anchoredPrefix(expr string, fl flavour) (lit string, fold, lineStart bool) {
	if hasOptionFlag(expr, 'x') || hasTopLevelAlt(expr) {
		return "", false, false
	}
	fold = hasOptionFlag(expr, 'i')
	multi := hasOptionFlag(expr, 'm')
	i := 0
	// Leading option groups: "(?i)", "(?mi)".
	for strings.HasPrefix(expr[i:], "(?") {
		j := i + 2
		for j < len(expr) && (expr[j] >= 'a' && expr[j] <= 'z' || expr[j] == '-') {
			j++
		}
		if j >= len(expr) || expr[j] != ')' {
			break
		}
		i = j + 1
	}
	switch {
	case strings.HasPrefix(expr[i:], `\A`):
		i += 2
	case strings.HasPrefix(expr[i:], "^"):
		i++
		lineStart = fl == flavourRuby || multi
	default:
		return "", false, false
	}
	var run []byte
	for i < len(expr) {
		c := expr[i]
		var atom byte
		n := 1
		switch {
		case c == '\\':
			if i+1 >= len(expr) {
				return "", false, false
			}
			d := expr[i+1]
			if d >= utf8.RuneSelf || d >= 'a' && d <= 'z' || d >= 'A' && d <= 'Z' || d >= '0' && d <= '9' || d == '_' {
				i = len(expr) // an escape class, anchor or code: the run ends
				continue
			}
			atom, n = d, 2
		case c >= utf8.RuneSelf || c < 0x20 || strings.IndexByte(".^$*+?{[()|", c) >= 0:
			i = len(expr)
			continue
		default:
			atom = c
		}
		i += n
		if i < len(expr) {
			q := expr[i]
			if q == '?' || q == '*' || q == '{' && strings.HasPrefix(expr[i:], "{0") || q == '{' && strings.HasPrefix(expr[i:], "{,") {
				break
			}
			if q == '+' || q == '{' {
				run = append(run, atom)
				break
			}
		}
		run = append(run, atom)
	}
	if len(run) < 2 {
		return "", false, false
	}
	return string(run), fold, lineStart
}

// hasTopLevelAlt reports a "|" outside any group or class.
func hasTopLevelAlt(expr string) bool {
	depth := 0
	for i := 0; i < len(expr); i++ {
		switch expr[i] {
		case '\\':
			i++
		case '[':
			i += classLen(expr[i:]) - 1
		case '(':
			depth++
		case ')':
			depth--
		case '|':
			if depth == 0 {
				return true
			}
		}
	}
	return false
}

// hasOptionFlag reports whether an inline option group anywhere in expr
// turns on flag f ("(?i)", "(?im:", ...).
func hasOptionFlag(expr string, f byte) bool {
	for i := 0; i+2 < len(expr); i++ {
		if expr[i] != '(' || expr[i+1] != '?' || (i > 0 && expr[i-1] == '\\') {
			continue
		}
		for j := i + 2; j < len(expr); j++ {
			c := expr[j]
			if c == f {
				return true
			}
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				break
			}
		}
	}
	return false
}

// classLen returns the length of the bracket expression at s[0] == '['.
func classLen(s string) int {
	i := 1
	if i < len(s) && s[i] == '^' {
		i++
	}
	if i < len(s) && s[i] == ']' {
		i++
	}
	for i < len(s) {
		switch {
		case s[i] == '\\':
			i += 2
			continue
		case strings.HasPrefix(s[i:], "[:"):
			if end := strings.Index(s[i+2:], ":]"); end >= 0 {
				i += 2 + end + 2
				continue
			}
		case s[i] == ']':
			return i + 1
		}
		i++
	}
	return len(s)
}

// skipQuantifier skips a quantifier (and its lazy/possessive suffix) at i.
func skipQuantifier(expr string, i int) int {
	if i >= len(expr) {
		return i
	}
	switch expr[i] {
	case '*', '+', '?':
		i++
	case '{':
		if _, n, ok := braceQuantifier(expr[i:]); ok {
			i += n
		} else {
			return i
		}
	default:
		return i
	}
	if i < len(expr) && (expr[i] == '?' || expr[i] == '+') {
		i++
	}
	return i
}

// Lazy defers compiling a pattern until it is first used. Large catalogs
// (recog's thousands of backtracking patterns) then load in a fraction of
// the time: the literal prefilter keeps most patterns from ever running. A
// pattern that fails to compile never matches; catalogs load such data
// only after their own tests compiled every pattern.
func Lazy(compile RegexCompiler) RegexCompiler {
	return func(expr string) (Regex, error) { return &lazyRegex{expr: expr, compile: compile}, nil }
}

type lazyRegex struct {
	once    sync.Once
	expr    string
	compile RegexCompiler
	re      Regex
}

func (l *lazyRegex) get() Regex {
	l.once.Do(func() {
		if re, err := l.compile(l.expr); err == nil {
			l.re = re
		}
	})
	return l.re
}

func (l *lazyRegex) FindStringSubmatchIndex(s string) []int {
	if re := l.get(); re != nil {
		return re.FindStringSubmatchIndex(s)
	}
	return nil
}

func (l *lazyRegex) SubexpIndex(name string) int {
	if re := l.get(); re != nil {
		return re.SubexpIndex(name)
	}
	return -1
}

package nmapprobes

import (
	"fmt"
	"strconv"
	"strings"
)

// ConvertRegex translates one of nmap's PCRE patterns (with its m/.../flags
// flags, "i" and "s") into the syntax github.com/dlclark/regexp2 accepts,
// keeping PCRE's meaning on Latin-1 text (every byte one rune):
//
//   - \w \d \s \b and their negations are ASCII only, as in PCRE without
//     UTF mode (regexp2's are Unicode-aware: \w would match é);
//   - \x with one digit, \x{..}, \0 and octal escapes become \xHH;
//   - PCRE-only escapes (\N \R \h \H \v \V \Q..\E, unknown letters) are
//     spelled out;
//   - possessive quantifiers (a*+) become atomic groups ((?>a*));
//   - POSIX classes ([[:alpha:]]) are expanded;
//   - named groups become plain groups, so $1..$9 keep PCRE's numbering;
//   - bytes >= 0x80 written raw become \xHH.
//
// Constructs regexp2 cannot express (recursion, branch reset, \K, verbs)
// are errors: the line is skipped.
func ConvertRegex(re, flags string) (string, error) {
	c := &converter{src: re, atom: -1, names: map[string]int{}}
	if err := c.run(); err != nil {
		return "", err
	}
	if len(c.groups) > 0 {
		return "", fmt.Errorf("missing )")
	}
	prefix := ""
	if flags != "" {
		prefix = "(?" + flags + ")"
	}
	return prefix + string(c.out), nil
}

type converter struct {
	src    string
	i      int
	out    []byte
	atom   int   // where the last quantifiable item starts in out, -1 if none
	groups []int // out offsets of the open groups
	ncap   int
	names  map[string]int
}

const wordClass = "[0-9A-Za-z_]"

func (c *converter) run() error {
	for c.i < len(c.src) {
		ch := c.src[c.i]
		start := len(c.out)
		switch ch {
		case '\\':
			atom, err := c.escape()
			if err != nil {
				return err
			}
			c.atom = atom
		case '[':
			if err := c.class(); err != nil {
				return err
			}
			c.atom = start
		case '(':
			if err := c.group(); err != nil {
				return err
			}
		case ')':
			if len(c.groups) == 0 {
				return fmt.Errorf("unmatched ) at offset %d", c.i)
			}
			c.out = append(c.out, ')')
			c.atom = c.groups[len(c.groups)-1]
			c.groups = c.groups[:len(c.groups)-1]
			c.i++
		case '*', '+', '?':
			c.i++
			if err := c.quantifier(string(ch)); err != nil {
				return err
			}
		case '{':
			if q, ok := braceQuantifier(c.src[c.i:]); ok {
				c.i += len(q)
				if err := c.quantifier(q); err != nil {
					return err
				}
			} else {
				c.out = append(c.out, '\\', '{')
				c.i++
				c.atom = start
			}
		case '.':
			c.out = append(c.out, '.')
			c.i++
			c.atom = start
		case '^', '$', '|':
			c.out = append(c.out, ch)
			c.i++
			c.atom = -1
		default:
			c.literal(ch)
			c.i++
			c.atom = start
		}
	}
	return nil
}

// literal emits one byte that PCRE takes literally.
func (c *converter) literal(ch byte) {
	switch {
	case ch < 0x20 || ch >= 0x7f:
		c.out = append(c.out, fmt.Sprintf(`\x%02x`, ch)...)
	case strings.IndexByte(`\.^$|?*+()[]{}#`, ch) >= 0:
		c.out = append(c.out, '\\', ch)
	default:
		c.out = append(c.out, ch)
	}
}

// braceQuantifier recognises {n}, {n,} and {n,m} at the start of s.
func braceQuantifier(s string) (string, bool) {
	i := 1
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	if digits() == 0 {
		return "", false
	}
	if i < len(s) && s[i] == ',' {
		i++
		digits()
	}
	if i < len(s) && s[i] == '}' {
		return s[:i+1], true
	}
	return "", false
}

func (c *converter) quantifier(q string) error {
	if c.atom < 0 {
		return fmt.Errorf("quantifier %s without an operand at offset %d", q, c.i-len(q))
	}
	if strings.HasPrefix(q, "{") {
		lo, hi, _ := strings.Cut(q[1:len(q)-1], ",")
		a, _ := strconv.Atoi(lo)
		if hi != "" {
			if b, _ := strconv.Atoi(hi); b < a {
				return fmt.Errorf("quantifier %s out of order", q)
			}
		}
		if a > 65535 {
			return fmt.Errorf("quantifier %s too large", q)
		}
	}
	c.out = append(c.out, q...)
	if c.i < len(c.src) {
		switch c.src[c.i] {
		case '+': // possessive: an atomic group around the quantified item
			c.i++
			item := append([]byte(nil), c.out[c.atom:]...)
			c.out = append(append(append(c.out[:c.atom], "(?>"...), item...), ')')
		case '?':
			c.i++
			c.out = append(c.out, '?')
		}
	}
	c.atom = -1
	return nil
}

func (c *converter) group() error {
	start := len(c.out)
	s := c.src[c.i:]
	push := func(open string, skip int) {
		c.out = append(c.out, open...)
		c.groups = append(c.groups, start)
		c.i += skip
		c.atom = -1
	}
	if strings.HasPrefix(s, "(*") {
		return fmt.Errorf("PCRE verb %.10q not supported", s)
	}
	if !strings.HasPrefix(s, "(?") {
		c.ncap++
		push("(", 1)
		return nil
	}
	for _, p := range []string{"(?:", "(?=", "(?!", "(?>", "(?<=", "(?<!"} {
		if strings.HasPrefix(s, p) {
			push(p, len(p))
			return nil
		}
	}
	switch {
	case strings.HasPrefix(s, "(?#"):
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return fmt.Errorf("comment not terminated")
		}
		c.i += end + 1
		return nil
	case strings.HasPrefix(s, "(?P<"), strings.HasPrefix(s, "(?<"), strings.HasPrefix(s, "(?'"):
		open := strings.IndexAny(s, "<'")
		closer := byte('>')
		if s[open] == '\'' {
			closer = '\''
		}
		end := strings.IndexByte(s[open+1:], closer)
		if end <= 0 {
			return fmt.Errorf("bad group name")
		}
		name := s[open+1 : open+1+end]
		if !isName(name) {
			return fmt.Errorf("bad group name %q", name)
		}
		c.ncap++
		c.names[name] = c.ncap
		// A plain group: .NET numbers named groups after the unnamed ones,
		// PCRE in order of appearance, and templates use numbers.
		push("(", open+1+end+1)
		return nil
	case strings.HasPrefix(s, "(?P="):
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return fmt.Errorf("bad back reference")
		}
		n, ok := c.names[s[4:end]]
		if !ok {
			return fmt.Errorf("back reference to unknown group %q", s[4:end])
		}
		c.out = append(c.out, fmt.Sprintf(`(?:\%d)`, n)...)
		c.i += end + 1
		c.atom = start
		return nil
	case strings.HasPrefix(s, "(?("):
		// Conditional on a group number: regexp2 reads (?(1)yes|no) alike.
		j := 3
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == 3 || j >= len(s) || s[j] != ')' {
			return fmt.Errorf("conditional %.12q not supported", s)
		}
		push(s[:j+1], j+1)
		return nil
	}
	// Inline options: (?i) (?s-i) (?i:...)
	j := 2
	for j < len(s) && strings.IndexByte("imsx-", s[j]) >= 0 {
		j++
	}
	if j < len(s) && j > 2 && (s[j] == ')' || s[j] == ':') {
		if s[j] == ':' {
			push(s[:j+1], j+1)
			return nil
		}
		c.out = append(c.out, s[:j+1]...)
		c.i += j + 1
		c.atom = -1
		return nil
	}
	return fmt.Errorf("group %.12q not supported", s)
}

func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '_' {
			return false
		}
	}
	return s != "" && !(s[0] >= '0' && s[0] <= '9')
}

// escape handles a backslash outside a class. It returns where the item a
// quantifier would apply to starts in out, or -1 for an assertion.
func (c *converter) escape() (int, error) {
	start := len(c.out)
	if c.i+1 >= len(c.src) {
		return -1, fmt.Errorf("trailing backslash")
	}
	e := c.src[c.i+1]
	c.i += 2
	emit := func(s string) { c.out = append(c.out, s...) }
	switch e {
	case 'w':
		emit(wordClass)
	case 'W':
		emit("[^0-9A-Za-z_]")
	case 'd':
		emit("[0-9]")
	case 'D':
		emit("[^0-9]")
	case 's':
		emit(`[\t\n\x0b\f\r ]`)
	case 'S':
		emit(`[^\t\n\x0b\f\r ]`)
	case 'h':
		emit(`[\t \xa0]`)
	case 'H':
		emit(`[^\t \xa0]`)
	case 'v':
		emit(`[\n\x0b\f\r\x85]`)
	case 'V':
		emit(`[^\n\x0b\f\r\x85]`)
	case 'N':
		emit(`[^\n]`)
	case 'R':
		emit(`(?:\r\n|[\n\x0b\f\r\x85])`)
	case 'b':
		emit(`(?:(?<=` + wordClass + `)(?!` + wordClass + `)|(?<!` + wordClass + `)(?=` + wordClass + `))`)
		return -1, nil
	case 'B':
		emit(`(?:(?<=` + wordClass + `)(?=` + wordClass + `)|(?<!` + wordClass + `)(?!` + wordClass + `))`)
		return -1, nil
	case 'A', 'z', 'Z', 'G':
		emit(`\` + string(e))
		return -1, nil
	case 'Q':
		end := strings.Index(c.src[c.i:], `\E`)
		lit := c.src[c.i:]
		if end >= 0 {
			lit = c.src[c.i : c.i+end]
			c.i += end + 2
		} else {
			c.i = len(c.src)
		}
		if lit == "" {
			return -1, nil
		}
		// A quantifier after \Q..\E applies to the last character only.
		last := start
		for k := 0; k < len(lit); k++ {
			last = len(c.out)
			c.literal(lit[k])
		}
		return last, nil
	case 'E':
		return -1, nil
	case 'k':
		return start, c.namedRef()
	case 'g':
		return start, c.gRef()
	case 'K', 'X', 'C', 'p', 'P', 'o':
		return -1, fmt.Errorf(`\%c not supported`, e)
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		j := c.i
		for j < len(c.src) && j-c.i < 2 && c.src[j] >= '0' && c.src[j] <= '9' {
			j++
		}
		digits := c.src[c.i-1 : j]
		n, _ := strconv.Atoi(digits)
		if n < 10 || n <= c.ncap {
			c.i = j
			emit(fmt.Sprintf(`(?:\%d)`, n))
			return start, nil
		}
		// Not a group: PCRE reads up to three octal digits.
		v, used := octal(c.src[c.i-1:], 3)
		if used == 0 {
			return -1, fmt.Errorf(`bad escape \%s`, digits)
		}
		c.i += used - 1
		c.byteLit(v)
	case '0':
		v, used := octal(c.src[c.i:], 2)
		c.i += used
		c.byteLit(v)
	case 'x':
		v, err := c.hexEscape()
		if err != nil {
			return -1, err
		}
		c.byteLit(v)
	case 'c':
		if c.i >= len(c.src) {
			return -1, fmt.Errorf(`\c at end of pattern`)
		}
		x := c.src[c.i]
		if x >= 'a' && x <= 'z' {
			x -= 32
		}
		c.i++
		c.byteLit(x ^ 0x40)
	case 'n', 'r', 't', 'f', 'a', 'e':
		emit(`\` + string(e))
	default:
		if isAlnum(e) || e == '_' {
			// PCRE reads an unknown escaped letter as the letter itself.
			c.literal(e)
		} else if e >= 0x80 || e < 0x20 {
			c.byteLit(e)
		} else {
			emit(`\` + string(e))
		}
	}
	return start, nil
}

func (c *converter) byteLit(v byte) {
	if isAlnum(v) || v == '_' || v == ' ' {
		c.out = append(c.out, v)
		return
	}
	c.out = append(c.out, fmt.Sprintf(`\x%02x`, v)...)
}

func octal(s string, max int) (byte, int) {
	v, n := 0, 0
	for n < len(s) && n < max && s[n] >= '0' && s[n] <= '7' {
		v = v*8 + int(s[n]-'0')
		n++
	}
	return byte(v), n
}

func (c *converter) hexEscape() (byte, error) {
	s := c.src[c.i:]
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 2 {
			return 0, fmt.Errorf(`bad \x{...}`)
		}
		v, err := strconv.ParseUint(s[1:end], 16, 32)
		if err != nil || v > 0xff {
			return 0, fmt.Errorf(`\x{%s} outside Latin-1`, s[1:end])
		}
		c.i += end + 1
		return byte(v), nil
	}
	v, n := 0, 0
	for n < len(s) && n < 2 && isHex(s[n]) {
		v = v*16 + int(hexVal(s[n]))
		n++
	}
	c.i += n
	return byte(v), nil
}

func (c *converter) namedRef() error {
	s := c.src[c.i:]
	if len(s) < 2 {
		return fmt.Errorf(`bad \k`)
	}
	closer := map[byte]byte{'<': '>', '\'': '\'', '{': '}'}[s[0]]
	if closer == 0 {
		return fmt.Errorf(`bad \k`)
	}
	end := strings.IndexByte(s[1:], closer)
	if end < 0 {
		return fmt.Errorf(`bad \k`)
	}
	n, ok := c.names[s[1:1+end]]
	if !ok {
		return fmt.Errorf("back reference to unknown group %q", s[1:1+end])
	}
	c.i += end + 2
	c.out = append(c.out, fmt.Sprintf(`(?:\%d)`, n)...)
	return nil
}

func (c *converter) gRef() error {
	s := c.src[c.i:]
	var num string
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return fmt.Errorf(`bad \g`)
		}
		num = s[1:end]
		c.i += end + 1
	} else {
		j := 0
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || j == 0 && s[j] == '-') {
			j++
		}
		num = s[:j]
		c.i += j
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		if g, ok := c.names[num]; ok {
			n = g
		} else {
			return fmt.Errorf(`bad \g%s`, num)
		}
	}
	if n < 0 {
		n = c.ncap + 1 + n
	}
	if n <= 0 {
		return fmt.Errorf(`bad \g%s`, num)
	}
	c.out = append(c.out, fmt.Sprintf(`(?:\%d)`, n)...)
	return nil
}

// byteSet is a character class over Latin-1.
type byteSet [256]bool

func (s *byteSet) addRange(lo, hi int) {
	for b := lo; b <= hi && b < 256; b++ {
		s[b] = true
	}
}

func (s *byteSet) addSet(o *byteSet, negate bool) {
	for b := 0; b < 256; b++ {
		if o[b] != negate {
			s[b] = true
		}
	}
}

var shorthand = map[byte]func(*byteSet){
	'd': func(s *byteSet) { s.addRange('0', '9') },
	'w': func(s *byteSet) { s.addRange('0', '9'); s.addRange('A', 'Z'); s.addRange('a', 'z'); s['_'] = true },
	's': func(s *byteSet) { s.addRange('\t', '\r'); s[' '] = true },
	'h': func(s *byteSet) { s['\t'] = true; s[' '] = true; s[0xa0] = true },
	'v': func(s *byteSet) { s.addRange('\n', '\r'); s[0x85] = true },
}

var posix = map[string]func(*byteSet){
	"alpha":  func(s *byteSet) { s.addRange('A', 'Z'); s.addRange('a', 'z') },
	"digit":  func(s *byteSet) { s.addRange('0', '9') },
	"alnum":  func(s *byteSet) { s.addRange('0', '9'); s.addRange('A', 'Z'); s.addRange('a', 'z') },
	"upper":  func(s *byteSet) { s.addRange('A', 'Z') },
	"lower":  func(s *byteSet) { s.addRange('a', 'z') },
	"space":  func(s *byteSet) { s.addRange('\t', '\r'); s[' '] = true },
	"blank":  func(s *byteSet) { s['\t'] = true; s[' '] = true },
	"punct":  func(s *byteSet) { s.addRange('!', '/'); s.addRange(':', '@'); s.addRange('[', '`'); s.addRange('{', '~') },
	"print":  func(s *byteSet) { s.addRange(' ', '~') },
	"graph":  func(s *byteSet) { s.addRange('!', '~') },
	"cntrl":  func(s *byteSet) { s.addRange(0, 0x1f); s[0x7f] = true },
	"xdigit": func(s *byteSet) { s.addRange('0', '9'); s.addRange('A', 'F'); s.addRange('a', 'f') },
	"word":   func(s *byteSet) { shorthand['w'](s) },
	"ascii":  func(s *byteSet) { s.addRange(0, 0x7f) },
}

// class translates [...] into an explicit Latin-1 set.
func (c *converter) class() error {
	c.i++ // [
	var set byteSet
	neg := false
	if c.i < len(c.src) && c.src[c.i] == '^' {
		neg = true
		c.i++
	}
	first := true
	for {
		if c.i >= len(c.src) {
			return fmt.Errorf("missing ]")
		}
		ch := c.src[c.i]
		if ch == ']' && !first {
			c.i++
			break
		}
		first = false
		if ch == '[' && c.i+1 < len(c.src) && c.src[c.i+1] == ':' {
			end := strings.Index(c.src[c.i+2:], ":]")
			if end >= 0 {
				name := c.src[c.i+2 : c.i+2+end]
				negName := strings.HasPrefix(name, "^")
				f, ok := posix[strings.TrimPrefix(name, "^")]
				if ok {
					var p byteSet
					f(&p)
					set.addSet(&p, negName)
					c.i += 2 + end + 2
					continue
				}
			}
		}
		lo, single, item, err := c.classItem()
		if err != nil {
			return err
		}
		if single && c.i+1 < len(c.src) && c.src[c.i] == '-' && c.src[c.i+1] != ']' {
			c.i++
			hi, single2, item2, err := c.classItem()
			if err != nil {
				return err
			}
			if single2 {
				if hi < lo {
					return fmt.Errorf("class range %c-%c out of order", lo, hi)
				}
				set.addRange(int(lo), int(hi))
				continue
			}
			// [a-\d]: the hyphen is literal.
			set[lo] = true
			set['-'] = true
			set.addSet(&item2, false)
			continue
		}
		if single {
			set[lo] = true
		} else {
			set.addSet(&item, false)
		}
	}
	c.out = append(c.out, '[')
	if neg {
		c.out = append(c.out, '^')
	}
	n := 0
	for b := 0; b < 256; {
		if !set[b] {
			b++
			continue
		}
		e := b
		for e+1 < 256 && set[e+1] {
			e++
		}
		c.out = append(c.out, classChar(byte(b))...)
		if e > b {
			if e > b+1 {
				c.out = append(c.out, '-')
			}
			c.out = append(c.out, classChar(byte(e))...)
		}
		n++
		b = e + 1
	}
	if n == 0 {
		// An empty set: [^...] of everything matches anything, [...] nothing.
		c.out = c.out[:len(c.out)-1-btoi(neg)]
		if neg {
			c.out = append(c.out, `[\x00-\xff]`...)
		} else {
			c.out = append(c.out, `(?!)`...)
		}
		return nil
	}
	c.out = append(c.out, ']')
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func classChar(b byte) string {
	if isAlnum(b) || b == '_' || b == ' ' {
		return string(rune(b))
	}
	return fmt.Sprintf(`\x%02x`, b)
}

// classItem reads one element of a class: a single byte, or a set
// (\d, \w...).
func (c *converter) classItem() (byte, bool, byteSet, error) {
	var set byteSet
	ch := c.src[c.i]
	if ch != '\\' {
		c.i++
		return ch, true, set, nil
	}
	if c.i+1 >= len(c.src) {
		return 0, false, set, fmt.Errorf("trailing backslash")
	}
	e := c.src[c.i+1]
	c.i += 2
	if f, ok := shorthand[e]; ok {
		f(&set)
		return 0, false, set, nil
	}
	if f, ok := shorthand[e+32]; ok && e >= 'A' && e <= 'Z' {
		var p byteSet
		f(&p)
		set.addSet(&p, true)
		return 0, false, set, nil
	}
	switch e {
	case 'b':
		return 8, true, set, nil
	case 'n':
		return '\n', true, set, nil
	case 'r':
		return '\r', true, set, nil
	case 't':
		return '\t', true, set, nil
	case 'f':
		return '\f', true, set, nil
	case 'a':
		return 7, true, set, nil
	case 'e':
		return 0x1b, true, set, nil
	case 'x':
		v, err := c.hexEscape()
		return v, true, set, err
	case '0', '1', '2', '3', '4', '5', '6', '7':
		v, used := octal(c.src[c.i-1:], 3)
		c.i += used - 1
		return v, true, set, nil
	case 'c':
		if c.i >= len(c.src) {
			return 0, false, set, fmt.Errorf(`\c at end of pattern`)
		}
		x := c.src[c.i]
		if x >= 'a' && x <= 'z' {
			x -= 32
		}
		c.i++
		return x ^ 0x40, true, set, nil
	case 'Q', 'E', 'N', 'R', 'X', 'p', 'P', 'K', 'g', 'k':
		return 0, false, set, fmt.Errorf(`\%c inside a class not supported`, e)
	}
	return e, true, set, nil
}

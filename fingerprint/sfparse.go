package fingerprint

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxSFLength bounds the text ParseSF accepts: nmap stops adding responses
// at 2200 characters (10000 with debugging); anything far larger is not a
// fingerprint.
const maxSFLength = 1 << 20

// ParseSF reads one service fingerprint as nmap or SF print it: the
// "SF-Port..." line and its "SF:" continuation lines (the line breaks may
// be there or already removed), header fields V, T, I, D, Time and P, then
// each %r(probe,hexlen,"escaped") up to the final ";".
func ParseSF(s string) (*SFPrint, error) {
	if len(s) > maxSFLength {
		return nil, fmt.Errorf("fingerprint longer than %d bytes", maxSFLength)
	}
	s = unwrapSF(s)
	rest, ok := strings.CutPrefix(s, "SF-Port")
	if !ok {
		return nil, errors.New(`fingerprint does not start with "SF-Port"`)
	}
	f := &SFPrint{}
	i := strings.IndexByte(rest, '-')
	if i <= 0 {
		return nil, errors.New("no port in the fingerprint header")
	}
	port, err := strconv.Atoi(rest[:i])
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("bad port %q", rest[:i])
	}
	f.Port = port
	rest = rest[i+1:]
	j := strings.IndexByte(rest, ':')
	if j < 0 || (rest[:j] != "TCP" && rest[:j] != "UDP" && rest[:j] != "SCTP") {
		return nil, errors.New("header needs the transport (TCP or UDP) and a colon")
	}
	f.Transport = rest[:j]
	rest = rest[j+1:]
	// Header fields end where the first response or the terminator starts.
	end := strings.Index(rest, "%r(")
	if end < 0 {
		end = strings.IndexByte(rest, ';')
		if end < 0 {
			end = len(rest)
		}
	}
	for _, kv := range strings.Split(rest[:end], "%") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "V":
			f.Version = v
		case "T":
			f.TLS = v == "SSL"
		case "I":
			f.Intensity, _ = strconv.Atoi(v)
		case "D":
			m, d, _ := strings.Cut(v, "/")
			f.Month, _ = strconv.Atoi(m)
			f.Day, _ = strconv.Atoi(d)
		case "Time":
			f.Time, _ = strconv.ParseInt(v, 16, 64)
		case "P":
			f.Platform = v
		}
	}
	rest = rest[end:]
	for strings.HasPrefix(rest, "%r(") {
		rest = rest[3:]
		comma := strings.IndexByte(rest, ',')
		if comma < 0 {
			return nil, errors.New("response without a probe name")
		}
		r := SFResponse{Probe: rest[:comma]}
		rest = rest[comma+1:]
		comma = strings.IndexByte(rest, ',')
		if comma < 0 {
			return nil, fmt.Errorf("response %s without a length", r.Probe)
		}
		n, err := strconv.ParseUint(rest[:comma], 16, 31)
		if err != nil {
			return nil, fmt.Errorf("response %s: bad length %q", r.Probe, rest[:comma])
		}
		r.Length = int(n)
		rest = rest[comma+1:]
		if !strings.HasPrefix(rest, `"`) {
			return nil, fmt.Errorf("response %s: data must be quoted", r.Probe)
		}
		data, used, err := sfUnescape(rest[1:])
		if err != nil {
			return nil, fmt.Errorf("response %s: %w", r.Probe, err)
		}
		r.Data = data
		rest = rest[1+used:]
		if !strings.HasPrefix(rest, ")") {
			return nil, fmt.Errorf("response %s: missing )", r.Probe)
		}
		rest = rest[1:]
		f.Responses = append(f.Responses, r)
	}
	if rest != ";" && rest != "" {
		return nil, fmt.Errorf("unexpected %.20q after the responses", rest)
	}
	return f, nil
}

// unwrapSF joins a fingerprint's lines: every line break followed by "SF:"
// goes. Leading and trailing space and CRs are dropped.
func unwrapSF(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if !strings.Contains(s, "\n") {
		return s
	}
	var b strings.Builder
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, " \t")
		if i > 0 {
			line = strings.TrimPrefix(strings.TrimLeft(line, " \t"), "SF:")
		}
		b.WriteString(line)
	}
	return b.String()
}

// sfUnescape decodes escaped response bytes up to the closing quote. It
// returns the bytes and how much of s it read, the quote included.
func sfUnescape(s string) ([]byte, int, error) {
	out := make([]byte, 0, len(s)/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return out, i + 1, nil
		case '\\':
			i++
			if i >= len(s) {
				return nil, 0, errors.New("escape at the end")
			}
			switch e := s[i]; e {
			case '0':
				out = append(out, 0)
			case 'r':
				out = append(out, '\r')
			case 'n':
				out = append(out, '\n')
			case 't':
				out = append(out, '\t')
			case 'x':
				if i+2 >= len(s) || !isHexByte(s[i+1]) || !isHexByte(s[i+2]) {
					return nil, 0, errors.New(`\x needs two hex digits`)
				}
				v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
				out = append(out, byte(v))
				i += 2
			default:
				out = append(out, e) // an escaped metacharacter: \" \\ \. \( ...
			}
		default:
			out = append(out, c)
		}
	}
	return nil, 0, errors.New("response data not terminated")
}

func isHexByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// FindSFs extracts every service fingerprint from a text: nmap's normal
// output (the "SF-Port..." line and its "SF:" lines), a file of
// fingerprints, or fingerprints in JSON strings already unquoted. Each
// fingerprint that does not parse is reported with its first line.
func FindSFs(text string) ([]*SFPrint, []error) {
	var out []*SFPrint
	var errs []error
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		start := strings.Index(line, "SF-Port")
		if start < 0 {
			continue
		}
		parts := []string{line[start:]}
		for i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "SF:") {
			i++
			parts = append(parts, strings.TrimSpace(lines[i]))
		}
		fp := strings.Join(parts, "\n")
		f, err := ParseSF(fp)
		if err != nil {
			head := parts[0]
			if len(head) > 60 {
				head = head[:60]
			}
			errs = append(errs, fmt.Errorf("%s...: %w", head, err))
			continue
		}
		out = append(out, f)
	}
	return out, errs
}

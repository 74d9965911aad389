package emulate

import (
	"strings"
)

// ftpDialect classifies FTP commands (RFC 959 and its extensions) before
// and around login, with the argument classes fingerprinting tools poke
// at: TYPE with a valid, an invalid and no type, CWD without a directory,
// EPRT/PORT well and badly formed, SITE and OPTS sub-commands, AUTH
// mechanisms, well-known and unknown user names.
//
// States: init (no user yet), user (USER accepted, PASS awaited),
// loggedin (only reachable on servers that let anonymous in).
type ftpDialect struct{}

var ftpVerbs = set("USER", "PASS", "ACCT", "CWD", "CDUP", "SMNT", "QUIT", "REIN", "PORT", "PASV",
	"EPRT", "EPSV", "LPRT", "LPSV", "TYPE", "STRU", "MODE", "RETR", "STOR", "STOU", "APPE", "ALLO",
	"REST", "RNFR", "RNTO", "ABOR", "DELE", "RMD", "MKD", "PWD", "LIST", "NLST", "SITE", "SYST",
	"STAT", "HELP", "NOOP", "FEAT", "OPTS", "AUTH", "PBSZ", "PROT", "CCC", "MDTM", "SIZE", "MLST",
	"MLSD", "LANG", "HOST", "CLNT", "CSID", "XPWD", "XCWD", "XCUP", "XMKD", "XRMD", "MFMT", "RANG",
	// foreign verbs
	"GET", "POST", "HEAD", "EHLO", "HELO")

func (ftpDialect) initial() string { return "init" }

func (ftpDialect) sticky() []string { return []string{"user"} }

func (ftpDialect) classify(state string, line []byte, overlong bool) Parsed {
	if p, ok := generic(line, overlong); ok {
		return p
	}
	s := string(line)
	verb, arg := splitVerb(s)
	p := Parsed{Command: verbClass(verb, ftpVerbs), Fields: map[string]string{"line": s, "verb": verb, "arg": arg}}
	a := strings.TrimSpace(arg)
	switch p.Command {
	case "USER":
		p.Fields["user"] = a
		switch strings.ToLower(a) {
		case "":
		case "anonymous", "ftp":
			p.Arg = strings.ToLower(a)
		case "root":
			p.Arg = "root"
		default:
			p.Arg = "other"
		}
	case "PASS":
		if a != "" {
			p.Arg = "any"
		}
	case "TYPE":
		switch strings.ToUpper(a) {
		case "":
		case "A", "I", "A N", "L 8", "E":
			p.Arg = "valid"
		default:
			p.Arg = "invalid"
		}
	case "MODE", "STRU":
		switch strings.ToUpper(a) {
		case "":
		case "S", "F":
			p.Arg = "valid"
		default:
			p.Arg = "invalid"
		}
	case "PORT":
		switch {
		case a == "":
		case strings.Count(a, ",") == 5:
			p.Arg = "valid"
		default:
			p.Arg = "invalid"
		}
	case "EPRT":
		switch {
		case a == "":
		case len(a) > 3 && strings.Count(a, a[:1]) == 4:
			p.Arg = "valid"
		default:
			p.Arg = "invalid"
		}
	case "SITE":
		sub, _ := splitVerb(a)
		switch u := strings.ToUpper(sub); u {
		case "":
		case "HELP", "CHMOD", "UMASK", "IDLE", "EXEC", "CPFR", "CPTO", "UTIME":
			p.Arg = strings.ToLower(u)
		default:
			p.Arg = "unknown"
		}
	case "OPTS":
		sub, _ := splitVerb(a)
		switch u := strings.ToUpper(sub); u {
		case "":
		case "UTF8", "MLST":
			p.Arg = strings.ToLower(u)
		default:
			p.Arg = "unknown"
		}
	case "AUTH":
		switch u := strings.ToUpper(a); u {
		case "":
		case "TLS", "SSL", "TLS-C", "TLS-P":
			p.Arg = strings.ToLower(u)
		default:
			p.Arg = "unknown"
		}
	case "UNKNOWN":
		p.Arg = wordClass(verb, arg)
	case "GET", "POST", "HEAD":
	default:
		if a != "" {
			p.Arg = "arg"
		}
	}
	return p
}

func (ftpDialect) outcome(_ Parsed, reply []byte) string { return codeOutcome(reply) }

func (ftpDialect) next(state string, p Parsed, outcome string) string {
	switch p.Command {
	case "USER":
		switch {
		case outcome == outcomeMore:
			return "user"
		case outcome == outcomeOK:
			return "loggedin"
		}
		return "init"
	case "PASS":
		if outcome == outcomeOK && state == "user" {
			return "loggedin"
		}
		if state == "user" {
			return "init"
		}
	case "REIN":
		if outcome == outcomeOK || outcome == outcomeMore {
			return "init"
		}
	}
	return state
}

func (ftpDialect) startTLS(p Parsed, outcome string) bool {
	return p.Command == "AUTH" && (p.Arg == "tls" || p.Arg == "ssl" || p.Arg == "tls-c") && outcome == outcomeOK
}

func (ftpDialect) replyDone(_ Parsed, buf []byte) bool { return codeReplyDone(buf) }

var ftpTests = []string{
	"SYST", "SYST portraitarg", "FEAT", "FEAT portraitarg", "HELP", "HELP USER", "HELP XYZZY", "STAT", "STAT /",
	"SITE HELP", "SITE CHMOD 777 /portrait", "SITE XYZZY", "SITE",
	"NOOP", "NOOP portraitarg", "PWD", "XPWD", "CWD", "CWD /", "CWD /portraitdir", "CDUP", "XCUP",
	"TYPE A", "TYPE I", "TYPE X", "TYPE", "MODE S", "MODE X", "STRU F", "STRU X",
	"PORT 127,0,0,2,200,10", "PORT 1,2,3", "PORT", "EPRT |1|127.0.0.2|51210|", "EPRT |9|x|", "EPRT",
	"PASV", "EPSV", "EPSV ALL", "LPSV",
	"LIST", "NLST", "MLSD", "MLST", "RETR portrait.txt", "RETR", "STOR portrait.txt", "SIZE portrait.txt", "MDTM portrait.txt",
	"DELE portrait.txt", "MKD portraitdir", "RMD portraitdir", "RNFR portrait.txt", "RNTO portrait2.txt", "REST 0", "REST", "ALLO 10",
	"ABOR", "ACCT portrait", "SMNT /", "STOU",
	"OPTS UTF8 ON", "OPTS MLST type;", "OPTS XYZZY", "OPTS",
	"LANG", "LANG en", "HOST portrait.example", "CLNT portrait", "MFMT 20200101000000 portrait.txt",
	"AUTH TLS", "AUTH SSL", "AUTH XYZZY", "AUTH", "PBSZ 0", "PROT P", "CCC",
	"XyzZy", "XyzZy portraitarg", "x-1",
	"GET / HTTP/1.0", "EHLO portrait.example",
	"", "\x00\x01\x02\xfe\xff",
	"PASS portraitpass", "PASS",
	"USER anonymous", "USER ftp", "USER root", "USER portraituser", "USER",
	"REIN", "QUIT", "QUIT portraitarg",
}

var ftpSetup = map[string][]string{
	"init": nil,
	"user": {"USER portraituser"},
}

var ftpModeTests = map[string][]string{}

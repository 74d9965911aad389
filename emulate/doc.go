// Package emulate records a real server's personality and serves it as a
// low-interaction honeypot that fingerprinting tools take for the original
// (after Honeybee: T. Apel, "Generating Fingerprints of Network Servers and
// their Use in Honeypots").
//
// Record questions a server with its protocol's test set: every command
// class with representative arguments (valid, invalid, missing, the
// illegal syntax fingerprinting tools try, the requests nmap and portrait
// send), in every session state reachable without credentials, again
// inside TLS after STARTTLS, plus the server's error limit. The answers
// are stored under (state, command class, argument class) with their
// dynamic parts (dates, echoed input, host names, addresses, session
// counters, random tokens) turned into placeholders (template.go,
// dynamic.go). The Personality is written as versioned YAML, described
// field by field in docs/personality.md.
//
// Server classifies each incoming command with the same code the recorder
// used (smtp.go, ftp.go, pop3.go, imap.go, ssh.go, http.go), keeps the
// per-session state, answers from the personality with the placeholders
// filled, and logs every interaction as JSON lines (log.go). Sessions,
// lines, bytes, requests and time are bounded; a hostile client costs its
// own session at most.
//
// The shipped personalities (package personalities) were recorded from the
// lab's Debian servers; PORTRAIT_RECORD=1 re-records them, and
// PORTRAIT_INTEGRATION=1 runs the acceptance tests that compare nmap -sV's
// and portrait's answers about each emulation and its original.
package emulate

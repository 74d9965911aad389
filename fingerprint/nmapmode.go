package fingerprint

import "time"

// NmapMode makes the engine run a user's nmap-service-probes file the way
// nmap -sV does (nmapprobes.Set.Mode builds it; the file's rules go into
// the catalog like any other rules):
//
//   - the NULL probe is the engine's own banner read;
//   - then, concurrently, every probe whose ports (sslports inside TLS)
//     list the port, whatever its rarity;
//   - then, when none of those gave a hard match, the other probes whose
//     rarity is at most Intensity, concurrently (Parallel at a time);
//   - a softmatch narrows the probes still to send to those with match
//     lines for the softmatched service;
//   - the schedule stops at the first hard match of an nmap rule;
//   - a port whose connections the server closes at once without a byte is
//     reported as "tcpwrapped".
//
// The engine's own modules and rules run alongside, as without the file.
type NmapMode struct {
	// Probes are the file's TCP probes in file order, NULL excluded.
	Probes []Probe
	// Intensity (0-9): probes not listing the port run when their rarity
	// is at most this (nmap's --version-intensity, default 7).
	Intensity int
	// Services maps a probe name to the services its match lines name,
	// for softmatch narrowing.
	Services map[string][]string
	// Fallbacks maps a probe name to the probes whose match lines apply to
	// its answers, in nmap's order: itself, its fallbacks, then NULL (TCP).
	Fallbacks map[string][]string
	// Rules maps the name of every rule the file produced to its line.
	Rules map[string]NmapRule
	// Exclude lists the ports nmap sends no probes to (printers that print
	// whatever arrives).
	Exclude []int
	// TCPWrapped is the NULL probe's tcpwrappedms (default 3s).
	TCPWrapped time.Duration
	// MaxWait caps one probe's wait for an answer (default 2s); nmap waits
	// totalwaitms (5s by default), one probe after the other.
	MaxWait time.Duration
	// Authoritative makes an nmap hard match decide the port's service,
	// product and version over the engine's own rules, as a user who
	// passes an nmap file expects nmap's answers; otherwise its matches
	// only compete with the other rules by confidence.
	Authoritative bool
}

// NmapRule places one rule in its nmap-service-probes file.
type NmapRule struct {
	Probe string // the Probe section holding the match line
	Line  int    // the line number: nmap tries match lines in file order
	Soft  bool   // softmatch
}

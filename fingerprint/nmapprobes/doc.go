// Package nmapprobes reads nmap-service-probes files (nmap's version
// detection database) and turns them into the fingerprint engine's own forms:
// each Probe becomes a fingerprint.Probe and each match line a
// fingerprint.Rule with one pcre-dialect pattern, so nmap's knowledge runs
// through the same matcher as portrait's own rules.
//
// The file is never bundled and never looked for: nmap's data is under the
// Nmap Public Source License, so it is read only from a path the user gives
// (portrait scan --nmap-probes PATH).
//
// Parsing follows nmap's own reader: one directive per line, '#' comments,
// every delimiter is the first repeat of the character that opened the
// field (no escaping of the delimiter), PCRE regexes. Structural errors
// (unknown directive, bad Probe line, bad port list) are fatal and name
// file:line; a match line that cannot be parsed or whose regex cannot be
// translated is counted and skipped, as a newer nmap file may use syntax
// this reader does not know.
//
// Evidence fields read by the rules: "banner" (the NULL probe) and
// "probe.<name>" (the answer to nmap probe <name>, Latin-1); UDP probes are
// named "udp:<name>" so that they never share a field with the TCP probe of
// the same name.
package nmapprobes

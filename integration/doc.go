// Package integration holds portrait's end-to-end tests: they build the real
// binary (./cmd/portrait), scan real servers and hostile fakes on 127.0.0.1,
// and check the command-line contract from the outside, the way a user or CI
// sees it.
//
// The tests run only when PORTRAIT_INTEGRATION=1 (set by .ci/run after
// testenv/up.sh has started the servers); otherwise they skip, so that a plain
// `go test ./...` on a machine without the servers stays green. When the
// variable is set, a server that is missing is a failure, never a skip: a
// silent skip would hide a broken test environment.
//
// The servers come from testenv/run/servers.json (override the path with
// PORTRAIT_SERVERS). Only loopback addresses are ever scanned.
package integration

// Package simple holds the RFC "simple services" that inetd-style daemons
// (xinetd, BSD inetd, Windows Simple TCP/IP Services) answer themselves:
// echo (RFC 862, port 7), daytime (RFC 867, port 13) and time (RFC 868,
// port 37). Each is its own module, so that the engine can name each service;
// none names a product on the wire except daytime, whose free text format
// differs between implementations (xinetd prints "22 NOV 2026 23:18:42 UTC").
//
// Fields (all strings):
//
//	echo.echoed           "true" when the server sent our random line back unchanged
//	daytime.text          the daytime line, trimmed (capped at 256 bytes)
//	daytime.format        layout of that line: "xinetd" (22 NOV 2026 23:18:42 UTC),
//	                      "rfc867-ctime" (Sun Nov 22 23:18:42 2026), "rfc822"
//	                      (Sun, 22 Nov 2026 23:18:42 +0000), "windows"
//	                      (11:18:42 PM 11/22/2026), "nist" (NIST ACTS line),
//	                      "iso8601" (2026-11-22T23:18:42Z), "other"
//	daytime.offset_seconds server clock minus ours, when the format carries a
//	                      full date and a UTC zone (decimal seconds)
//	time.value            the 32-bit answer, seconds since 1900-01-01 (decimal)
//	time.utc              that instant, RFC 3339 in UTC
//	time.offset_seconds   server clock minus ours (decimal seconds)
package simple

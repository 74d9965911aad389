package cpe

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in                                 string
		part, vendor, product, ver, update string
		full                               string
		err                                bool
	}{
		{in: "cpe:2.3:a:openbsd:openssh:9.3:p1:*:*:*:*:*:*", part: "a", vendor: "openbsd", product: "openssh", ver: "9.3", update: "p1", full: "9.3p1"},
		{in: "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*", part: "a", vendor: "openbsd", product: "openssh", ver: "*", update: "*", full: "*"},
		{in: "cpe:2.3:a:redis:redis:-:*:*:*:*:*:*:*", part: "a", vendor: "redis", product: "redis", ver: "-", update: "*", full: "-"},
		{in: `cpe:2.3:a:erlang:erlang\/otp:*:*:*:*:*:*:*:*`, part: "a", vendor: "erlang", product: "erlang/otp", ver: "*", update: "*", full: "*"},
		{in: `cpe:2.3:a:siemens:dna_spaces\:_connector:*:*:*:*:*:*:*:*`, part: "a", vendor: "siemens", product: "dna_spaces:_connector", ver: "*", update: "*", full: "*"},
		{in: `cpe:2.3:a:openldap:openldap:2.5\_or\_later:*:*:*:*:*:*:*`, part: "a", vendor: "openldap", product: "openldap", ver: "2.5_or_later", update: "*", full: "2.5_or_later"},
		{in: "cpe:2.3:o:debian:debian_linux:12.0:*:*:*:*:*:*:*", part: "o", vendor: "debian", product: "debian_linux", ver: "12.0", update: "*", full: "12.0"},
		{in: "cpe:2.3:a:apache:http_server:2.4.49", part: "a", vendor: "apache", product: "http_server", ver: "2.4.49", update: "*", full: "2.4.49"},
		{in: "cpe:/a:apache:http_server:2.4.49", err: true},
		{in: "cpe:2.3:x:a:b", err: true},
		{in: "cpe:2.3:a", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		n, err := Parse(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("Parse(%q) err = %v", tt.in, err)
			continue
		}
		if tt.err {
			continue
		}
		if n.Part != tt.part || n.Vendor != tt.vendor || n.Product != tt.product || n.Version != tt.ver || n.Update != tt.update || n.FullVersion() != tt.full {
			t.Errorf("Parse(%q) = %+v (full %q)", tt.in, n, n.FullVersion())
		}
		back, err := Parse(n.String())
		if err != nil || back.Key() != n.Key() || back.Version != n.Version {
			t.Errorf("round trip of %q: %q %v", tt.in, n.String(), err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"cpe:2.3:a:openbsd:openssh:9.3:p1:*:*:*:*:*:*", `cpe:2.3:a:erlang:erlang\/otp:*:*:*:*:*:*:*:*`, "cpe:2.3:a:b:c:d:e:f:g:h:i:j:k:l:m:n:o:p:q:r:s", `cpe:2.3:a:\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		if _, err := Parse(n.String()); err != nil {
			t.Fatalf("String() of %q does not parse: %q: %v", s, n.String(), err)
		}
	})
}

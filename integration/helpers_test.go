package integration

import "testing"

// The matching helpers decide pass/fail for every real server, so they are
// tested on their own (these run without PORTRAIT_INTEGRATION).

func TestProductHas(t *testing.T) {
	tests := []struct {
		got, want string
		ok        bool
	}{
		{"OpenSSH", "OpenSSH", true},
		{"Redis key-value store", "Redis key-value store", true},
		{"redis key value store", "Redis key-value store", true},
		{"Redis", "Redis key-value store", false},
		{"Apache httpd", "Apache httpd", true},
		{"Apache Tomcat", "Apache httpd", false},
		{"ISC BIND", "ISC BIND", true},
		{"", "nginx", false},
		{"nginx", "", false},
	}
	for _, tt := range tests {
		if got := productHas(tt.got, tt.want); got != tt.ok {
			t.Errorf("productHas(%q, %q) = %v, want %v", tt.got, tt.want, got, tt.ok)
		}
	}
}

func TestVersionHas(t *testing.T) {
	tests := []struct {
		got, want string
		ok        bool
	}{
		{"9.2p1 Debian 2+deb12u10", "9.2p1", true},
		{"9.2p1", "9.2p1", true},
		{"9.2", "9.2p1", false},
		{"1.22.1", "1.22.1", true},
		{"1.22.10", "1.22.1", false},
		{"11.22.1", "1.22.1", false},
		{"5.5.5-10.11.19-MariaDB-0+deb12u1", "10.11.19", true},
		{"9.18.49-1~deb12u3-Debian", "9.18.49", true},
		{"v7.0.15", "7.0.15", false}, // score.py: no letter before
		{"x1.2.3 1.2.3", "1.2.3", true},
		{"", "1.0", false},
		{"1.0", "", false},
	}
	for _, tt := range tests {
		if got := versionHas(tt.got, tt.want); got != tt.ok {
			t.Errorf("versionHas(%q, %q) = %v, want %v", tt.got, tt.want, got, tt.ok)
		}
	}
}

func TestParseJSONL(t *testing.T) {
	out := []byte(`{"type":"host","host":"127.0.0.1"}

{"type":"service","host":"127.0.0.1","port":22,"transport":"tcp","service":"ssh","tls":false,"product":"OpenSSH","version":"9.2p1","confidence":98,"cpe":["cpe:/a:openbsd:openssh:9.2p1"],"stack":[],"evidence":{}}
`)
	recs, err := parseJSONL(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reportedOpen(recs, 22) || reportedOpen(recs, 23) {
		t.Errorf("reportedOpen wrong: %+v", recs)
	}
	s := services(recs, 22)
	if len(s) != 1 || s[0].Product != "OpenSSH" || s[0].Confidence != 98 {
		t.Errorf("services(22) = %+v", s)
	}
	if _, err := parseJSONL([]byte("{\"port\":1}\nnot json\n")); err == nil {
		t.Error("a broken line must be an error")
	}
}

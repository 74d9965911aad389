package distro

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in, dist, rel string
		backports     bool
		ok            bool
	}{
		{"Debian-2+deb12u10", "Debian", "12", true, true},
		{"9.18.49-1~deb12u3-Debian", "Debian", "12", true, true},
		{"5.5.5-10.11.19-MariaDB-0+deb12u1", "Debian", "12", true, true},
		{"1:9.2p1-2+deb12u10", "Debian", "12", true, true},
		{"2.4.57-2~bpo11+1", "Debian", "11", true, true},
		{"Apache/2.4.71 (Debian)", "Debian", "", true, true},
		{"220 lab.local ESMTP Postfix (Debian/GNU)", "Debian", "", true, true},
		{"Ubuntu-3ubuntu0.10", "Ubuntu", "", true, true},
		{"Apache/2.4.41 (Ubuntu)", "Ubuntu", "", true, true},
		{"8.0.36-0ubuntu0.22.04.1", "Ubuntu", "22.04", true, true},
		{"openssh-8.0p1-13.el8_6", "RHEL", "8.6", true, true},
		{"2.4.37-62.el8", "RHEL", "8", true, true},
		{"Apache/2.4.6 (CentOS)", "CentOS", "", true, true},
		{"Apache/2.4.57 (Red Hat Enterprise Linux)", "RHEL", "", true, true},
		{"httpd-2.4.58-1.fc39", "Fedora", "39", false, true},
		{"FreeBSD-20240701", "FreeBSD", "", false, true},
		{"Raspbian-5+deb11u1", "Debian", "11", true, true},
		{"nginx/1.22.1", "", "", false, false},
		{"SSH-2.0-OpenSSH_9.6", "", "", false, false},
		{"debianized", "", "", false, false},
	}
	for _, tt := range tests {
		h, ok := Parse(tt.in)
		if ok != tt.ok || h.Distribution != tt.dist || h.Release != tt.rel || h.Backports != tt.backports {
			t.Errorf("Parse(%q) = %+v %v", tt.in, h, ok)
		}
	}
}

func TestRelease(t *testing.T) {
	if ReleaseFromOpenSSH("Debian", "9.2p1") != "12" || ReleaseFromOpenSSH("Ubuntu", "8.9p1") != "22.04" || ReleaseFromOpenSSH("Debian", "1.0") != "" {
		t.Error("OpenSSH release table")
	}
	if ReleaseName("Debian", "12") != "Debian 12 (bookworm)" || ReleaseName("Debian", "") != "Debian" {
		t.Error("names")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Debian-2+deb12u10")
	f.Add("8.0.36-0ubuntu0.22.04.1")
	f.Add("openssh-8.0p1-13.el8_6")
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := Parse(s)
		if ok && h.Distribution == "" {
			t.Fatal("ok without a distribution")
		}
	})
}

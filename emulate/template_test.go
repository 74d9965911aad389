package emulate

import (
	"strings"
	"testing"
	"time"
)

func TestEscapeExpandRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "$5 fee", "a$", "$$", "${x}", "$${", "cost: $$${y} $", "{}{$}"} {
		tpl := Escape(s)
		if err := CheckTemplate(tpl); err != nil {
			t.Errorf("Escape(%q) = %q: %v", s, tpl, err)
		}
		if got := Expand(tpl, Vars{}); got != s {
			t.Errorf("Expand(Escape(%q)) = %q", s, got)
		}
	}
}

func TestExpand(t *testing.T) {
	now := time.Date(2026, 11, 3, 4, 5, 6, 0, time.UTC)
	v := Vars{Now: now, Text: map[string]string{"hostname": "mx.example", "verb": "XyzZy", "sessions": "3"}}
	tests := []struct{ in, want string }{
		{"220 ${hostname} ESMTP", "220 mx.example ESMTP"},
		{"500 ${verb:upper} not understood", "500 XYZZY not understood"},
		{"${verb:lower}", "xyzzy"},
		{"Date: ${date:http}", "Date: Tue, 03 Nov 2026 04:05:06 GMT"},
		{"${date:rfc2822}", "Tue, 03 Nov 2026 04:05:06 +0000"},
		{"${date:rfc2822_short}", "Tue, 3 Nov 2026 04:05:06 +0000"},
		{"now ${date:time_hm}.", "now 04:05."},
		{"user number ${sessions} of 50", "user number 3 of 50"},
		{"${addr}", ""},
	}
	for _, tt := range tests {
		if got := Expand(tt.in, v); got != tt.want {
			t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	r := Expand("${rand:HEX:10}", v)
	if len(r) != 10 || strings.Trim(r, "0123456789ABCDEF") != "" {
		t.Errorf("rand:HEX:10 = %q", r)
	}
}

func TestCheckTemplateRejects(t *testing.T) {
	for _, s := range []string{"${nope}", "${date}", "${date:xyz}", "${rand:hex}", "${rand:hex:0}", "${rand:hex:9999}",
		"${rand:b64:4}", "${verb:title}", "${hostname", "${}"} {
		if CheckTemplate(s) == nil {
			t.Errorf("CheckTemplate(%q) accepted it", s)
		}
	}
}

func TestExpandBounded(t *testing.T) {
	tpl := strings.Repeat("${line}", 10000)
	v := Vars{Text: map[string]string{"line": strings.Repeat("x", 4096)}}
	if got := Expand(tpl, v); len(got) > maxExpand {
		t.Errorf("expanded to %d bytes, cap %d", len(got), maxExpand)
	}
}

func TestTemplateDates(t *testing.T) {
	at := time.Date(2026, 11, 23, 0, 9, 40, 0, time.UTC)
	tests := []struct{ in, want string }{
		{"220 lab.local ESMTP Exim 4.96 Mon, 23 Nov 2026 00:09:40 +0000", "220 lab.local ESMTP Exim 4.96 ${date:rfc2822}"},
		{"Date: Mon, 23 Nov 2026 00:09:41 GMT", "Date: ${date:http}"},
		{"Last-Modified: Wed, 19 Oct 2022 08:02:20 GMT", "Last-Modified: Wed, 19 Oct 2022 08:02:20 GMT"},
		{"220-Local time is now 00:09. Server port: 3021.", "220-Local time is now ${date:time_hm}. Server port: 3021."},
		{"build 12:34 of release", "build 12:34 of release"},
	}
	for _, tt := range tests {
		if got := templateDates(newSegs(tt.in), at).String(); got != tt.want {
			t.Errorf("templateDates(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTemplateEchoesAndNames(t *testing.T) {
	ss := newSegs("550 5.1.1 <nosuchuser7q@lab.local>: Recipient address rejected; 503 authentication;\n250-lab.local; mylab.local")
	ss = templateEchoes(ss, []echo{{"addr", "nosuchuser7q@lab.local"}, {"line", "AUTH"}})
	ss = templateHost(ss, []string{"lab.local"})
	want := "550 5.1.1 <${addr}>: Recipient address rejected; 503 authentication;\n250-${hostname}; mylab.local"
	if got := ss.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	ss = templatePort(newSegs("Server port: 3021. Apache Server at x Port 3021, 13021, host:3021"), "3021")
	if got, want := ss.String(), "Server port: ${server_port}. Apache Server at x Port ${server_port}, 13021, host:${server_port}"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	ss = templateAddr(newSegs("[127.0.0.1] 127.0.0.10 1127.0.0.1 127.0.0.1."), "127.0.0.1", "client_ip")
	if got, want := ss.String(), "[${client_ip}] 127.0.0.10 1127.0.0.1 ${client_ip}."; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestTemplateDiff(t *testing.T) {
	a := newSegs("220-You are user number 4 of 50 allowed.\r\n220 id a1b2c3 ok")
	b := newSegs("220-You are user number 5 of 50 allowed.\r\n220 id 99ff00 ok")
	c := newSegs("220-You are user number 4 of 50 allowed.\r\n220 id 0e0e0e ok")
	got := templateDiff([]segs{a, b, c}, []int{1, 2, 1}).String()
	want := "220-You are user number ${sessions} of 50 allowed.\r\n220 id ${rand:hex:6} ok"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Different shapes are left alone.
	if got := templateDiff([]segs{newSegs("a b"), newSegs("a b c")}, nil).String(); got != "a b" {
		t.Errorf("got %q", got)
	}
}

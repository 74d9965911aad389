package policy

import (
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/store"
)

const scanLines = `{"type":"scan","scanner":"t","started":"2026-11-23T00:00:00Z","targets":["127.0.0.0/30"],"ports":100}
{"type":"port","host":"127.0.0.1","port":22,"transport":"tcp","state":"open","reason":"syn-ack"}
{"type":"port","host":"127.0.0.1","port":443,"transport":"tcp","state":"open","reason":"syn-ack"}
{"type":"port","host":"127.0.0.1","port":23,"transport":"tcp","state":"open","reason":"syn-ack"}
{"type":"port","host":"127.0.0.1","port":8080,"transport":"tcp","state":"open","reason":"syn-ack"}
{"type":"port","host":"127.0.0.1","port":2222,"transport":"tcp","state":"open","reason":"syn-ack"}
{"type":"service","host":"127.0.0.1","port":22,"transport":"tcp","state":"open","service":"ssh","product":"OpenSSH","version":"8.4p1","confidence":100,"method":"probed"}
{"type":"service","host":"127.0.0.1","port":443,"transport":"tcp","state":"open","service":"http","tls":true,"product":"nginx","version":"1.22.1","confidence":100,"method":"probed"}
{"type":"service","host":"127.0.0.1","port":23,"transport":"tcp","state":"open","service":"telnet","product":"Linux telnetd","confidence":90,"method":"probed"}
{"type":"service","host":"127.0.0.1","port":8080,"transport":"tcp","state":"open","service":"http","product":"Apache Tomcat","confidence":90,"method":"probed"}
{"type":"service","host":"127.0.0.1","port":2222,"transport":"tcp","state":"open","service":"ftp","product":"vsftpd","confidence":90,"method":"probed"}
{"type":"host","host":"127.0.0.1","hostname":"web-1.lab","state":"up","reason":"syn-ack","open":5}
{"type":"port","host":"127.0.0.2","port":22,"transport":"tcp","state":"open","reason":"syn-ack"}
{"type":"service","host":"127.0.0.2","port":22,"transport":"tcp","state":"open","service":"ssh","product":"OpenSSH","version":"9.2p1","confidence":100,"method":"probed"}
{"type":"host","host":"127.0.0.2","hostname":"db-1.lab","state":"up","reason":"syn-ack","open":1}
`

const policyDoc = `
policies:
  - name: web servers
    hosts: ["web-*"]
    allow: ["443/https", "2222/ssh"]
    require: ["22/ssh", "80/tcp"]
    only: true
    severity: medium
    products:
      - {product: OpenSSH, min_version: "9.0", severity: high}
  - name: everywhere
    hosts: ["*"]
    deny: ["*/telnet"]
  - name: databases
    hosts: ["127.0.0.2/32"]
    require: ["3306/mysql"]
`

func TestCheck(t *testing.T) {
	f, err := Parse([]byte(policyDoc))
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.ReadResults(strings.NewReader(scanLines))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range f.Check(res) {
		got[d.Host+" "+d.Kind+" "+itoa(d.Port)] = d.Severity + " " + d.Policy
		if d.Type != "finding" || d.Title == "" || d.ID != "policy/"+d.Kind {
			t.Errorf("malformed deviation %+v", d)
		}
	}
	want := map[string]string{
		"127.0.0.1 denied-port 23":       "high everywhere",
		"127.0.0.1 unexpected-port 8080": "medium web servers",
		"127.0.0.1 wrong-service 2222":   "medium web servers",
		"127.0.0.1 missing-port 80":      "medium web servers",
		"127.0.0.1 old-version 22":       "high web servers",
		"127.0.0.2 missing-port 3306":    "medium databases",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d deviations, want %d: %v", len(got), len(want), got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, doc := range []string{
		``,
		`policies: [{name: x}]`,
		`policies: [{name: x, hosts: ["*"], allow: ["70000"]}]`,
		`policies: [{name: x, hosts: ["*"], severity: huge}]`,
		`policies: [{name: x, hosts: ["[bad"]}]`,
		`policies: [{name: x, hosts: ["*"], bogus: 1}]`,
		`policies: [{name: x, hosts: ["*"], products: [{product: a}]}]`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("accepted: %s", doc)
		}
	}
}

func TestRules(t *testing.T) {
	for in, want := range map[string]portRule{
		"22":             {lo: 22, hi: 22},
		"22/ssh":         {lo: 22, hi: 22, service: "ssh"},
		"53/udp/domain":  {lo: 53, hi: 53, transport: "udp", service: "domain"},
		"8000-8100/http": {lo: 8000, hi: 8100, service: "http"},
		"*/telnet":       {service: "telnet"},
		"ssh":            {service: "ssh"},
		"443/ssl/http":   {lo: 443, hi: 443, service: "ssl/http"},
	} {
		r, err := parseRule(in)
		r.text = ""
		if err != nil || r != want {
			t.Errorf("%q: %+v %v, want %+v", in, r, err, want)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"9.2p1", "9.0", 1}, {"9.3", "9.3p1", -1}, {"1.10", "1.9", 1}, {"2.4.9", "2.4.41", -1},
		{"1.1.1k", "1.1.1l", -1}, {"10.11.11", "10.11.11", 0},
	} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

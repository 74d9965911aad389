package policy

import (
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/store"
)

// FuzzPolicy: any policy file either fails to parse or checks a scan
// without panicking.
func FuzzPolicy(f *testing.F) {
	f.Add([]byte(policyDoc))
	f.Add([]byte("policies: [{name: x, hosts: [\"*\"], allow: [\"1-65535/udp/x\"], only: true}]"))
	f.Add([]byte("policies: [{hosts: [\"10.0.0.0/8\", \"web-[a-z]*\"], deny: [\"ssh\"], products: [{product: a, min_version: \"1.2p3\"}]}]"))
	res, err := store.ReadResults(strings.NewReader(scanLines))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		p.Check(res)
	})
}

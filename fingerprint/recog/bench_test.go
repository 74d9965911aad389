package recog

import (
	"testing"

	"github.com/portrait-scanner/portrait/fingerprint"
)

func BenchmarkMatchRecogExamples(b *testing.B) {
	cat, err := fingerprint.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Load(cat, BuiltinFS(), Options{}); err != nil {
		b.Fatal(err)
	}
	var evs []map[string]string
	for _, r := range cat.Rules() {
		for _, e := range r.Examples {
			evs = append(evs, e.Fields)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cat.Match(evs[i%len(evs)])
	}
}

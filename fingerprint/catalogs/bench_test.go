package catalogs

import (
	"context"
	"testing"
)

// BenchmarkLoadCatalogs is a scan's start-up cost: builtin YAML rules plus
// the embedded recog databases, parsed and compiled.
func BenchmarkLoadCatalogs(b *testing.B) {
	dir := b.TempDir()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := LoadCatalogs(context.Background(), Options{CacheDir: dir}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatch is the per-response cost with everything loaded: one
// Catalog.Match per recorded evidence map (lab services and raw responses).
// The budget is 50 µs per response on average.
func BenchmarkMatch(b *testing.B) {
	cat, _, err := LoadCatalogs(context.Background(), Options{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	evs, err := CorpusEvidence()
	if err != nil || len(evs) == 0 {
		b.Fatalf("corpus: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cat.Match(evs[i%len(evs)])
	}
}

// BenchmarkMatchLab is the same over the lab services only (full evidence
// of a fingerprinted port, many fields each).
func BenchmarkMatchLab(b *testing.B) {
	cat, _, err := LoadCatalogs(context.Background(), Options{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	es, _ := corpus()
	var evs []map[string]string
	for _, e := range es {
		if e.Service != "" {
			evs = append(evs, e.Fields)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cat.Match(evs[i%len(evs)])
	}
}

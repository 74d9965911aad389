package epss

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

// Rows in EPSS's format; the numbers are made up for the test.
const sample = `#model_version:v2099.01.01,score_date:2099-01-02T00:00:00+0000
cve,epss,percentile
CVE-2099-0001,0.97000,0.99900
CVE-2099-0002,0.00043,0.10200
`

func TestDecode(t *testing.T) {
	var got []Score
	meta, n, err := Decode(strings.NewReader(sample), func(s Score) error { got = append(got, s); return nil })
	if err != nil || n != 2 || meta.Model != "v2099.01.01" || meta.Date != "2099-01-02" {
		t.Fatalf("%+v %d %v", meta, n, err)
	}
	if got[0].CVE != "CVE-2099-0001" || got[0].EPSS != 0.97 || got[1].Percentile != 0.102 {
		t.Errorf("%+v", got)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(sample))
	zw.Close()
	if _, n, err := Decode(&gz, func(Score) error { return nil }); err != nil || n != 2 {
		t.Errorf("gzip: %d %v", n, err)
	}
	for _, bad := range []string{"", "a,b,c\n", "cve,epss,percentile\nCVE-1,2,0\n", "cve,epss,percentile\nX-1,0.1,0.1\n", "cve,epss,percentile\nCVE-1,0.1\n"} {
		if _, _, err := Decode(strings.NewReader(bad), func(Score) error { return nil }); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(sample))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = Decode(bytes.NewReader(b), func(Score) error { return nil })
	})
}

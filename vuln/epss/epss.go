// Package epss reads FIRST's Exploit Prediction Scoring System CSV
// (epss_scores-YYYY-MM-DD.csv[.gz]): an optional first comment line
// "#model_version:v2025.03.14,score_date:2025-08-25T00:00:00+0000", then
// the header "cve,epss,percentile" and one row per CVE.
package epss

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/vuln/nvd"
)

// Score is one row.
type Score struct {
	CVE        string
	EPSS       float64 // probability of exploitation activity in the next 30 days
	Percentile float64
}

// Meta is what the comment line says.
type Meta struct {
	Model string
	Date  string // score date, "2025-08-25"
}

// ErrNotEPSS is returned when the header is not EPSS's.
var ErrNotEPSS = errors.New("epss: not an EPSS CSV (want the header cve,epss,percentile)")

const maxLine = 4096

// Decode reads the CSV (gzip or not) and calls fn per row.
func Decode(r io.Reader, fn func(Score) error) (Meta, int, error) {
	var meta Meta
	br, err := nvd.MaybeGunzip(r)
	if err != nil {
		return meta, 0, err
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, maxLine), maxLine)
	header := false
	n := 0
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "#") {
			for _, kv := range strings.Split(strings.TrimPrefix(s, "#"), ",") {
				k, v, _ := strings.Cut(kv, ":")
				switch strings.TrimSpace(k) {
				case "model_version":
					meta.Model = strings.TrimSpace(v)
				case "score_date":
					meta.Date, _, _ = strings.Cut(strings.TrimSpace(v), "T")
				}
			}
			continue
		}
		if !header {
			if strings.ToLower(strings.ReplaceAll(s, " ", "")) != "cve,epss,percentile" {
				return meta, 0, ErrNotEPSS
			}
			header = true
			continue
		}
		f := strings.Split(s, ",")
		if len(f) != 3 {
			return meta, n, fmt.Errorf("epss: line %d: want 3 fields", line)
		}
		e, err1 := strconv.ParseFloat(f[1], 64)
		p, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil || e < 0 || e > 1 || p < 0 || p > 1 {
			return meta, n, fmt.Errorf("epss: line %d: bad score", line)
		}
		id := strings.ToUpper(f[0])
		if !strings.HasPrefix(id, "CVE-") {
			return meta, n, fmt.Errorf("epss: line %d: %q is not a CVE id", line, f[0])
		}
		n++
		if err := fn(Score{CVE: id, EPSS: e, Percentile: p}); err != nil {
			return meta, n, err
		}
	}
	if err := sc.Err(); err != nil {
		return meta, n, fmt.Errorf("epss: %w", err)
	}
	if !header {
		return meta, 0, ErrNotEPSS
	}
	return meta, n, nil
}

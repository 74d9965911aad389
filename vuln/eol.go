package vuln

import (
	"fmt"
	"strings"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/vuln/builtin"
)

func init() {
	def("eol-product", "Software release branch past its end of life", "high", KindEOL, "CWE-1104",
		"Upgrade to a supported release branch.")
	def("eol-os", "Operating system release past its end of life", "high", KindEOL, "CWE-1104",
		"Upgrade the operating system to a supported release.")
}

// eolProduct reports the port's products whose release branch is past
// its end of life.
func eolProduct(hc *hostCtx, s *fingerprint.Service) []*Finding {
	var out []*Finding
	for _, p := range products(s) {
		if p.version == "" {
			continue
		}
		prod, cyc := builtin.ProductEOL(p.keys, p.version, hc.now)
		if cyc == nil {
			continue
		}
		c := Checks["eol-product"]
		f := newCheckFinding(s, c, fmt.Sprintf("%s %s belongs to the %s branch, which reached its end of life on %s (%s).",
			prod.Name, p.version, cyc.Cycle, cyc.EOL.Format("2006-01-02"), prod.Source), versionEvidence(s))
		f.ID = "eol:" + strings.ToLower(strings.ReplaceAll(prod.Name, " ", "-")) + ":" + cyc.Cycle
		f.Title = fmt.Sprintf("%s %s is past its end of life (%s)", prod.Name, cyc.Cycle, cyc.EOL.Format("2006-01-02"))
		f.Product, f.Version, f.CPE = p.name, p.version, p.cpe.WithVersion(p.version).String()
		f.Source = "eol"
		f.Confidence = 90
		if why := backported(hc, s); why != "" {
			f.Status = Potential
			f.Confidence = 50
			f.StatusReasons = append(f.StatusReasons, why+"; the distribution may still support this branch")
		}
		out = append(out, f)
	}
	return out
}

// eolOS reports the host's operating system release when past its end of
// life (from the asset profile).
func eolOS(hc *hostCtx) []*Finding {
	a := hc.asset
	if a == nil || a.OS == nil || a.OS.Release == "" {
		return nil
	}
	dist, rel := a.OS.Distribution, a.OS.Release
	if a.OS.Family == "Windows" {
		dist = "Windows"
		rel = strings.TrimPrefix(rel, "Windows ")
	}
	var hit *builtin.OSEOL
	for _, r := range strings.Split(rel, " / ") {
		if o := builtin.OSReleaseEOL(dist, strings.TrimSpace(r), hc.now); o != nil {
			hit = o
			break
		}
	}
	if hit == nil {
		return nil
	}
	c := Checks["eol-os"]
	f := &Finding{
		ID: "eol-os:" + strings.ToLower(dist) + ":" + strings.ToLower(strings.ReplaceAll(hit.Release, " ", "-")), Kind: KindEOL, Check: c.ID,
		Title:       fmt.Sprintf("%s %s is past its end of life (%s)", hit.Distribution, hit.Release, hit.EOL.Format("2006-01-02")),
		Description: fmt.Sprintf("The host profile says %s (confidence %d); its free security support ended on %s (%s).", a.OS.Name, a.OS.Confidence, hit.EOL.Format("2006-01-02"), hit.Source),
		Severity:    c.Severity, Status: Potential, Confidence: a.OS.Confidence, Remediation: c.Remediation, Source: "eol",
		StatusReasons: []string{"paid extended support may still cover this release", "the OS comes from the asset profile, not from one service"},
		CWEs:          []string{c.CWE},
		Evidence:      map[string]string{"os": a.OS.Name},
	}
	f.Tags = addTag(f.Tags, KindEOL)
	return []*Finding{f}
}

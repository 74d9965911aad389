package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/nmapprobes"
)

// nmapOpts are the scan flags of nmap mode.
type nmapOpts struct {
	probes string // --nmap-probes PATH
}

// addNmapFlags registers --nmap-probes on the scan command.
func addNmapFlags(cmd *cobra.Command, o *scanOpts) {
	cmd.Flags().StringVar(&o.nmap.probes, "nmap-probes", "",
		"also run nmap's version detection from an nmap-service-probes FILE you supply\n(e.g. /usr/share/nmap/nmap-service-probes; never bundled: nmap's data is under the NPSL)")
}

// applyNmapProbes loads the user's nmap-service-probes file into the
// catalog and switches the engine to nmap mode. The file is read only from
// the path given: never bundled, never looked for.
func applyNmapProbes(g *globals, o *scanOpts, cat *fingerprint.Catalog, fc *fingerprint.Config, intensity int) error {
	if o.nmap.probes == "" {
		return nil
	}
	set, err := nmapprobes.LoadFile(o.nmap.probes)
	if err != nil {
		return usageError{err}
	}
	if err := cat.Add(set.Rules()...); err != nil {
		return fmt.Errorf("nmap probes: %w", err)
	}
	st := set.Stats()
	g.log.Info("nmap probes loaded", "file", st.File, "probes", st.Probes, "rules", st.Rules,
		"match_lines", st.MatchLines, "compiled_pct", fmt.Sprintf("%.2f", st.Compiled()))
	for _, p := range set.Problems() {
		g.log.Debug("nmap match line left out", "err", p.Error())
	}
	fc.Nmap = set.Mode(intensity)
	return nil
}

package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/nmapprobes"
)

// nmapOpts are the scan flags of nmap mode.
type nmapOpts struct {
	probes   string // --nmap-probes PATH
	answer   string // --nmap-answer nmap|best|only
	services string // --nmap-services PATH
}

// addNmapFlags registers --nmap-probes on the scan command.
func addNmapFlags(cmd *cobra.Command, o *scanOpts) {
	cmd.Flags().StringVar(&o.nmap.probes, "nmap-probes", "",
		"also run nmap's version detection from an nmap-service-probes FILE you supply\n(e.g. /usr/share/nmap/nmap-service-probes; never bundled: nmap's data is under the NPSL)")
	cmd.Flags().StringVar(&o.nmap.answer, "nmap-answer", fingerprint.OnlyAnswer,
		"with --nmap-probes: only (nmap -sV's verdict on every port, also where its rules match\nnothing; portrait's own findings stay in the stack), nmap (nmap's answer where its\nrules match, portrait's elsewhere) or best (nmap's match completed by portrait's own)")
	cmd.Flags().StringVar(&o.nmap.services, "nmap-services", "",
		"with --nmap-answer only, nmap's port table: an nmap-services FILE you supply, for the\nname nmap guesses on a port nothing identified (default: portrait's own table)")
	_ = cmd.RegisterFlagCompletionFunc("nmap-answer", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{fingerprint.NmapAnswer, fingerprint.BestAnswer, fingerprint.OnlyAnswer}, cobra.ShellCompDirectiveNoFileComp
	})
}

// applyNmapProbes loads the user's nmap-service-probes file into the
// catalog and switches the engine to nmap mode. The file is read only from
// the path given: never bundled, never looked for.
func applyNmapProbes(g *globals, o *scanOpts, cat *fingerprint.Catalog, fc *fingerprint.Config, intensity int) error {
	switch o.nmap.answer {
	case fingerprint.NmapAnswer, fingerprint.BestAnswer, fingerprint.OnlyAnswer:
	default:
		return usagef("invalid --nmap-answer %q (want nmap, best or only)", o.nmap.answer)
	}
	if o.nmap.services != "" && o.nmap.answer != fingerprint.OnlyAnswer {
		return usagef("--nmap-services goes with --nmap-answer only (the default)")
	}
	if o.nmap.probes == "" {
		if o.nmap.services != "" || o.nmap.answer != fingerprint.OnlyAnswer {
			return usagef("--nmap-answer and --nmap-services need --nmap-probes")
		}
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
	fc.Nmap.Answer = o.nmap.answer
	if o.nmap.services != "" {
		svcs, err := nmapprobes.LoadServices(o.nmap.services)
		if err != nil {
			return usageError{err}
		}
		fc.Nmap.PortNames = svcs.TCP
	}
	return nil
}

package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portrait-scanner/portrait/fingerprint"
)

func newFingerprintCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fingerprint",
		Short: "Work with fingerprint rules: validate, test, list",
	}
	cmd.AddCommand(newCatalogValidateCmd(g), newTestCmd(g), newCatalogListCmd(g), newCatalogShowCmd(g), newCatalogSyncCmd(g), newFromSFCmd(g), newGapsCmd(g))
	return cmd
}

func newTestCmd(g *globals) *cobra.Command {
	var fields []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test [FILE] BANNER",
		Short: "Show which rules match a banner (and other evidence fields)",
		Long: `Test runs the builtin rules, plus the rules of FILE when given, over a banner and
prints every match with its product, version and confidence. C escapes in BANNER
(\r \n \t \xHH) are decoded. --field name=value adds other evidence fields
(e.g. --field http.header.server=nginx/1.22.1).`,
		Args: cobra.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := fingerprint.Builtin()
			if err != nil {
				return err
			}
			ev := map[string]string{}
			if len(args) == 2 {
				if err := cat.LoadFile(args[0]); err != nil {
					return usageError{err}
				}
				args = args[1:]
			}
			if len(args) == 1 {
				b := unescape(args[0])
				ev["banner"] = fingerprint.Latin1(b)
				if strings.HasPrefix(string(b), "SSH-") {
					ev["ssh.banner"] = strings.TrimRight(string(b), "\r\n")
				}
			}
			for _, f := range fields {
				k, v, ok := strings.Cut(f, "=")
				if !ok || k == "" {
					return usagef("invalid --field %q (want name=value)", f)
				}
				ev[k] = fingerprint.Latin1(unescape(v))
			}
			if len(ev) == 0 {
				return usagef("nothing to test: give a BANNER or --field name=value")
			}
			ms := cat.Match(ev)
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(ms)
			}
			if len(ms) == 0 {
				fmt.Fprintln(g.stdout, "no rule matched")
				return nil
			}
			for _, m := range ms {
				fmt.Fprintf(g.stdout, "%-28s %-24s %-14s %3d%%  %s: %s\n", m.Rule, m.Product, m.Version, m.Confidence, m.Field, m.Evidence)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&fields, "field", nil, "extra evidence field name=value (repeatable)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the matches as JSON")
	return cmd
}

// unescape decodes C escapes so banners with control bytes can be typed.
func unescape(s string) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			out = append(out, c)
			continue
		}
		i++
		switch s[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 < len(s)+0 && isHex(s[i+1]) && isHex(s[i+2]) {
				out = append(out, hexVal(s[i+1])<<4|hexVal(s[i+2]))
				i += 2
			} else {
				out = append(out, '\\', 'x')
			}
		default:
			out = append(out, '\\', s[i])
		}
	}
	return out
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portrait-scanner/portrait/vuln/builtin"
	"github.com/portrait-scanner/portrait/vuln/cpe"
	"github.com/portrait-scanner/portrait/vuln/match"
	"github.com/portrait-scanner/portrait/vuln/nvd"
	"github.com/portrait-scanner/portrait/vuln/vulndb"
)

// newVulnDBCmd is `portrait vulndb`: the workspace's CVE database.
func newVulnDBCmd(g *globals) *cobra.Command {
	var dbPath string
	cmd := &cobra.Command{
		Use:   "vulndb",
		Short: "Manage the CVE database used by vulnerability evaluation",
		Long: `The CVE database is an SQLite file in the workspace (default: vulndb.sqlite in
$PORTRAIT_WORKSPACE, else $XDG_DATA_HOME/portrait, else ~/.local/share/portrait).
Scans use it together with the builtin set; without it they use the builtin set
alone.

  import       NVD CVE API 2.0 JSON: single records, API responses or the 2.0 feed
               files (nvdcve-2.0-*.json[.gz]); folders are read recursively
  sync         pull from the NVD API, incrementally (records modified since the
               last sync; NVD allows 120-day windows, walked in turn)
  import-kev   CISA's Known Exploited Vulnerabilities catalog (JSON)
  import-epss  FIRST's EPSS scores (CSV, gzip or not)
  status       what the database holds
  lookup       CVEs that affect a product version (database and builtin set)

This product uses data from the NVD API but is not endorsed or certified by the NVD.`,
	}
	cmd.PersistentFlags().StringVar(&dbPath, "db", "", "database file (default: vulndb.sqlite in the workspace)")
	path := func() string {
		if dbPath != "" {
			return dbPath
		}
		return vulndb.DefaultPath()
	}
	open := func(cmd *cobra.Command) (*vulndb.DB, error) {
		db, err := vulndb.Open(cmd.Context(), path())
		if err != nil {
			return nil, err
		}
		return db, nil
	}

	importCmd := &cobra.Command{
		Use:   "import FILE|DIR...",
		Short: "Import NVD CVE API 2.0 JSON files (gzip too)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := open(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			files, err := expandInputs(args)
			if err != nil {
				return usageError{err}
			}
			im := db.NewImporter(cmd.Context())
			read := 0
			for _, f := range files {
				n, err := nvd.DecodeFile(f.path, im.Add)
				if err != nil && f.walked && n == 0 && errors.Is(err, nvd.ErrNoRecords) {
					g.log.Warn("not an NVD file, skipped", "file", f.path)
					continue
				}
				if err != nil {
					im.Abort()
					return err
				}
				read++
				g.log.Info("imported", "file", f.path, "records", n)
			}
			res, err := im.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "imported %d CVE records from %d file(s) into %s\n", res.Records, read, db.Path())
			return nil
		},
	}

	var syncURL, apiKey, since string
	var full bool
	var pageSize int
	syncCmd := &cobra.Command{
		Use:   "sync",
		Short: "Pull CVE records from the NVD API (incremental by lastModified)",
		Long: `sync asks the NVD CVE API 2.0 for the records modified since the last sync
(or since --since; --full pulls everything). Without an API key NVD allows 5
requests per 30 seconds, so a full pull takes a while; a key (--api-key or
$NVD_API_KEY, free from nvd.nist.gov) raises that to 50.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, err := open(cmd)
			if err != nil {
				return err
			}
			defer db.Close()
			if apiKey == "" {
				apiKey = os.Getenv("NVD_API_KEY")
			}
			cfg := nvd.SyncConfig{URL: syncURL, APIKey: apiKey, PageSize: pageSize, Log: g.log, Until: time.Now().UTC()}
			switch {
			case since != "":
				t, err := parseSince(since)
				if err != nil {
					return usageError{err}
				}
				cfg.Since = t
			case !full:
				last, err := db.Meta(ctx, "nvd_last_sync")
				if err != nil {
					return err
				}
				if last != "" {
					t, err := time.Parse(time.RFC3339, last)
					if err == nil {
						cfg.Since = t
					}
				}
			}
			if cfg.Since.IsZero() {
				g.log.Warn("full NVD pull: this takes a while (use --since, or an API key for faster paging)")
			}
			im := db.NewImporter(ctx)
			res, err := nvd.Sync(ctx, cfg, im.Add)
			if err != nil {
				// Keep what arrived (records are whole); the last-sync mark
				// does not move, so the next sync asks again.
				if _, cerr := im.Close(); cerr != nil {
					g.log.Warn("vulndb", "err", cerr)
				}
				return fmt.Errorf("%w (%d records stored before the failure; the next sync starts again from %s)", err, res.Records, sinceText(cfg.Since))
			}
			if _, err := im.Close(); err != nil {
				return err
			}
			if err := db.SetMeta(ctx, "nvd_last_sync", res.Until.UTC().Format(time.RFC3339)); err != nil {
				return err
			}
			url := syncURL
			if url == "" {
				url = nvd.DefaultURL
			}
			if err := db.SetMeta(ctx, "nvd_url", url); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "synced %d CVE records in %d request(s) (modified since %s) into %s\n", res.Records, res.Requests, sinceText(cfg.Since), db.Path())
			return nil
		},
	}
	syncCmd.Flags().StringVar(&syncURL, "url", "", "API endpoint (default "+nvd.DefaultURL+")")
	syncCmd.Flags().StringVar(&apiKey, "api-key", "", "NVD API key (default $NVD_API_KEY)")
	syncCmd.Flags().StringVar(&since, "since", "", "only records modified since DATE (2006-01-02 or RFC 3339)")
	syncCmd.Flags().BoolVar(&full, "full", false, "pull every record, ignoring the last sync")
	syncCmd.Flags().IntVar(&pageSize, "page-size", 0, "records per request (max and default 2000)")

	// importFile opens the database and the file named, and prints what
	// imp says it imported.
	importFile := func(cmd *cobra.Command, file string, imp func(context.Context, *vulndb.DB, io.Reader) (string, error)) error {
		db, err := open(cmd)
		if err != nil {
			return err
		}
		defer db.Close()
		f, err := os.Open(file)
		if err != nil {
			return usageError{err}
		}
		defer f.Close()
		what, err := imp(cmd.Context(), db, f)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		fmt.Fprintf(g.stdout, "imported %s into %s\n", what, db.Path())
		return nil
	}
	kevCmd := &cobra.Command{
		Use:   "import-kev FILE",
		Short: "Import CISA's Known Exploited Vulnerabilities catalog (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return importFile(cmd, args[0], func(ctx context.Context, db *vulndb.DB, r io.Reader) (string, error) {
				cat, n, err := db.ImportKEV(ctx, r)
				if err != nil {
					return "", err
				}
				return fmt.Sprintf("%d KEV entries (catalog %s)", n, cat.Version), nil
			})
		},
	}
	epssCmd := &cobra.Command{
		Use:   "import-epss FILE",
		Short: "Import FIRST's EPSS scores (CSV, gzip or not)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return importFile(cmd, args[0], func(ctx context.Context, db *vulndb.DB, r io.Reader) (string, error) {
				meta, n, err := db.ImportEPSS(ctx, r)
				if err != nil {
					return "", err
				}
				return fmt.Sprintf("%d EPSS scores (score date %s)", n, orNone(meta.Date)), nil
			})
		},
	}

	var asJSON bool
	statusCmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the CVE database holds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p := path()
			out := map[string]any{"builtin_cves": len(builtin.Records())}
			if _, err := os.Stat(p); err != nil {
				out["path"], out["exists"] = p, false
			} else {
				db, err := open(cmd)
				if err != nil {
					return err
				}
				defer db.Close()
				st, err := db.Stats(cmd.Context())
				if err != nil {
					return err
				}
				out["exists"], out["database"] = true, st
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 2, 2, ' ', 0)
			if st, ok := out["database"].(vulndb.Stats); ok {
				fmt.Fprintf(tw, "database\t%s (schema %d)\n", st.Path, st.Schema)
				fmt.Fprintf(tw, "CVE records\t%d (%d products)\n", st.CVEs, st.Products)
				fmt.Fprintf(tw, "newest record\t%s\n", orNone(st.Newest))
				fmt.Fprintf(tw, "last NVD sync\t%s\n", orNone(st.LastSync))
				fmt.Fprintf(tw, "KEV entries\t%d (catalog %s)\n", st.KEV, orNone(st.KEVCatalog))
				fmt.Fprintf(tw, "EPSS scores\t%d (date %s)\n", st.EPSS, orNone(st.EPSSDate))
			} else {
				fmt.Fprintf(tw, "database\t%s (not created yet: portrait vulndb sync | import)\n", p)
			}
			fmt.Fprintf(tw, "builtin set\t%d CVE records\n", len(builtin.Records()))
			return tw.Flush()
		},
	}
	statusCmd.Flags().BoolVar(&asJSON, "json", false, "JSON output")

	lookupCmd := &cobra.Command{
		Use:   "lookup VENDOR:PRODUCT|CPE VERSION",
		Short: "List the CVEs that affect a product version",
		Example: `  portrait vulndb lookup openbsd:openssh 9.2p1
  portrait vulndb lookup cpe:2.3:a:apache:http_server:2.4.49 2.4.49`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := strings.ToLower(args[0])
			if strings.HasPrefix(key, "cpe:") {
				n, err := cpe.Parse(key)
				if err != nil {
					return usageError{err}
				}
				key = n.Key()
			}
			if strings.Count(key, ":") != 1 {
				return usagef("want VENDOR:PRODUCT (openbsd:openssh) or a CPE 2.3 name, got %q", args[0])
			}
			keys := builtin.Aliases(key)
			var sources []vulndb.Source
			if _, err := os.Stat(path()); err == nil {
				db, err := vulndb.OpenReadOnly(cmd.Context(), path())
				if err != nil {
					return err
				}
				defer db.Close()
				sources = append(sources, db)
			}
			sources = append(sources, builtin.Source{})
			seen := map[string]bool{}
			var rows []string
			n := 0
			for _, src := range sources {
				es, err := src.Lookup(cmd.Context(), keys)
				if err != nil {
					return err
				}
				for _, e := range es {
					if seen[e.CVE.ID] {
						continue
					}
					seen[e.CVE.ID] = true
					r := match.Evaluate(e.CVE.Configurations, match.Target{Keys: keys, Version: args[1]})
					if r.Affected == match.False {
						continue
					}
					score := ""
					if e.CVE.CVSS != nil {
						score = fmt.Sprintf("%.1f", e.CVE.CVSS.Score)
					}
					kevs := ""
					if e.KEV != nil {
						kevs = "yes"
					}
					rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", e.CVE.ID, e.CVE.Severity(), score, kevs, r.Affected, r.Range, e.Source))
					n++
				}
			}
			if n == 0 {
				fmt.Fprintf(g.stdout, "no known CVE affects %s %s\n", key, args[1])
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 2, 2, ' ', 0)
			fmt.Fprintln(tw, "CVE\tSEVERITY\tSCORE\tKEV\tMATCH\tRANGE\tSOURCE")
			for _, r := range rows {
				fmt.Fprintln(tw, r)
			}
			return tw.Flush()
		},
	}

	cmd.AddCommand(importCmd, syncCmd, kevCmd, epssCmd, statusCmd, lookupCmd)
	return cmd
}

// inputFile is a file to import; walked when found in a folder (then a
// JSON file that is not NVD's is skipped, not an error).
type inputFile struct {
	path   string
	walked bool
}

// expandInputs turns folders into the JSON files below them.
func expandInputs(args []string) ([]inputFile, error) {
	var out []inputFile
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, inputFile{path: a})
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".json.gz")) {
				out = append(out, inputFile{path: p, walked: true})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no .json or .json.gz files in %s", strings.Join(args, ", "))
	}
	return out, nil
}

func parseSince(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want 2006-01-02 or an RFC 3339 time", s)
}

func sinceText(t time.Time) string {
	if t.IsZero() {
		return "the beginning"
	}
	return t.Format(time.RFC3339)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

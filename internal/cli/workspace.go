package cli

// The workspace commands: portrait workspace reindex|gc|path,
// portrait scans list|show|rm, portrait report. (diff, policy and monitor
// are in workspace_compare.go.)

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portrait-scanner/portrait/report"
	"github.com/portrait-scanner/portrait/store"
)

// workspaceCommands are the top-level commands of this file and
// workspace_compare.go (registered in root.go).
func workspaceCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newWorkspaceCmd(g), newScansCmd(g), newReportCmd(g), newDiffCmd(g), newPolicyCmd(g), newMonitorCmd(g)}
}

// wsDirFlag adds --workspace-dir to a command.
func wsDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "workspace-dir", "", "workspace folder (default $PORTRAIT_WORKSPACE, else $XDG_DATA_HOME/portrait or ~/.local/share/portrait)")
}

// wsDirPFlag adds --workspace-dir to a command and its subcommands.
func wsDirPFlag(cmd *cobra.Command, dir *string) {
	cmd.PersistentFlags().StringVar(dir, "workspace-dir", "", "workspace folder (default $PORTRAIT_WORKSPACE, else $XDG_DATA_HOME/portrait or ~/.local/share/portrait)")
}

func newWorkspaceCmd(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "workspace",
		Short: "Manage the workspace that archives every scan (reindex, gc, path)",
		Long: `Every scan is archived in the workspace: scans/<id>/ holds request.json, status.json,
results.jsonl (the record stream), artifacts/banners/ (raw responses) and reports/.
index.db is an SQLite index of all scans, rebuilt from the results files by reindex.
workspace.yaml (optional) sets the retention limits and the notification rules.`,
	}
	wsDirPFlag(cmd, &dir)

	reindex := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the SQLite index from the scans' results files",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := store.Open(dir)
			if err != nil {
				return err
			}
			start := time.Now()
			n, errs, err := ws.Reindex()
			if err != nil {
				return err
			}
			for _, e := range errs {
				fmt.Fprintf(g.stderr, "portrait: skipped %v\n", e)
			}
			fmt.Fprintf(g.stdout, "indexed %d scans in %s (%s)\n", n, time.Since(start).Round(time.Millisecond), filepath.Join(ws.Dir, store.IndexFile))
			return nil
		},
	}

	var olderThan, minFree string
	var maxScans int
	var dryRun bool
	gc := &cobra.Command{
		Use:   "gc",
		Short: "Remove old scans: by age, count or free disk space (workspace.yaml retention, or flags)",
		Long: `gc applies the retention limits: the flags, else workspace.yaml's retention section
(max_age, max_scans, min_free_space). A running scan is never removed.`,
		Example: `  portrait workspace gc --older-than 90d
  portrait workspace gc --max-scans 50 --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := store.Open(dir)
			if err != nil {
				return err
			}
			set, err := ws.LoadSettings()
			if err != nil {
				return err
			}
			r := set.Retention
			if olderThan != "" {
				d, err := store.ParseAge(olderThan)
				if err != nil {
					return usageError{err}
				}
				r.MaxAge = store.Age(d)
			}
			if maxScans > 0 {
				r.MaxScans = maxScans
			}
			if minFree != "" {
				n, err := store.ParseSize(minFree)
				if err != nil {
					return usageError{err}
				}
				r.MinFreeSpace = store.Size(n)
			}
			if r.Empty() {
				return usagef("no retention limit: give --older-than, --max-scans or --min-free-space (or set retention in %s)", filepath.Join(ws.Dir, store.SettingsFile))
			}
			res, err := ws.GC(r, time.Now(), dryRun)
			if err != nil {
				return err
			}
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			var total int64
			for _, it := range res.Removed {
				total += it.Bytes
				fmt.Fprintf(g.stdout, "%s %s (%s): %s\n", verb, it.ID, store.FormatSize(it.Bytes), it.Reason)
			}
			fmt.Fprintf(g.stdout, "%s %d scans (%s), kept %d\n", verb, len(res.Removed), store.FormatSize(total), res.Kept)
			return nil
		},
	}
	gc.Flags().StringVar(&olderThan, "older-than", "", "remove scans older than this (30d, 12h)")
	gc.Flags().IntVar(&maxScans, "max-scans", 0, "keep only the newest N scans")
	gc.Flags().StringVar(&minFree, "min-free-space", "", "remove the oldest scans until the disk has this much free (2GiB)")
	gc.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be removed, remove nothing")

	path := &cobra.Command{
		Use:   "path",
		Short: "Print the workspace folder",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := store.Open(dir)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, ws.Dir)
			return nil
		},
	}
	cmd.AddCommand(reindex, gc, path)
	return cmd
}

func newScansCmd(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:     "scans",
		Aliases: []string{"scan-archive"},
		Short:   "List, show and remove the archived scans",
	}
	wsDirPFlag(cmd, &dir)

	var q store.Query
	var format string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the archived scans (filters query the index across scans)",
		Example: `  portrait scans list
  portrait scans list --product openssh --version 9.2p1
  portrait scans list --host 10.0.0.5 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := store.Open(dir)
			if err != nil {
				return err
			}
			return listScans(g, ws, q, format)
		},
	}
	list.Flags().StringVar(&q.Host, "host", "", "only scans that saw this host (address or name)")
	list.Flags().StringVar(&q.Service, "service", "", "only scans that found this service (ssh, http...)")
	list.Flags().StringVar(&q.Product, "product", "", "only scans that found this product (substring, any case)")
	list.Flags().StringVar(&q.Version, "version", "", "with --product: only this exact version")
	list.Flags().IntVar(&q.Port, "port", 0, "only scans that found a service on this port")
	list.Flags().StringVarP(&format, "output", "o", "table", "table or json")

	var showFormat string
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one scan: its request, status and results (ID, a prefix of it, latest or latest~N)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, id, err := openScan(dir, args[0])
			if err != nil {
				return err
			}
			return showScan(g, ws, id, showFormat)
		},
	}
	show.Flags().StringVarP(&showFormat, "output", "o", "table", "table (summary and results), or any report format: "+strings.Join(report.Formats, ", "))

	rm := &cobra.Command{
		Use:   "rm ID...",
		Short: "Remove scans from the workspace",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := store.Open(dir)
			if err != nil {
				return err
			}
			for _, ref := range args {
				id, err := ws.Resolve(ref)
				if err != nil {
					return usageError{err}
				}
				if st, err := ws.Status(id); err == nil && st.Effective() == store.StateRunning {
					return fmt.Errorf("scan %s is running (pid %d): stop it first", id, st.PID)
				}
				if err := ws.Remove(id); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "removed %s\n", id)
			}
			return nil
		},
	}
	cmd.AddCommand(list, show, rm)
	return cmd
}

// scanListRow is one line of `portrait scans list`.
type scanListRow struct {
	ID        string  `json:"id"`
	State     string  `json:"state"`
	Started   string  `json:"started"`
	Targets   string  `json:"targets"`
	Hosts     int     `json:"hosts"`
	Open      int     `json:"open"`
	Services  int     `json:"services"`
	Findings  int     `json:"findings"`
	WallTimeS float64 `json:"wall_time_s"`
	Monitor   string  `json:"monitor,omitempty"`
}

func listScans(g *globals, ws *store.Workspace, q store.Query, format string) error {
	var rows []scanListRow
	filtered := q != store.Query{}
	if filtered {
		ix, err := ws.OpenIndex()
		if err != nil {
			return err
		}
		defer ix.Close()
		srows, err := ix.ScanRows(q)
		if err != nil {
			return err
		}
		for _, r := range srows {
			row := scanListRow{ID: r.ID, State: r.State, Started: r.Started, Targets: r.Targets, Hosts: r.Hosts, Open: r.Open,
				Services: r.Services, Findings: r.Findings, WallTimeS: r.WallTimeS}
			if st, err := ws.Status(r.ID); err == nil {
				row.State = st.Effective()
			}
			rows = append(rows, row)
		}
	} else {
		// From the files: always current, even without an index.
		ids, err := ws.IDs()
		if err != nil {
			return err
		}
		for _, id := range ids {
			row := scanListRow{ID: id, State: "unknown"}
			if req, err := ws.Request(id); err == nil {
				row.Targets = strings.Join(req.Args, " ")
				row.Monitor = req.Monitor
			}
			if st, err := ws.Status(id); err == nil {
				row.State, row.Started, row.Hosts, row.Open, row.Services, row.WallTimeS = st.Effective(), st.Started, st.Hosts, st.Open, st.Services, st.WallTimeS
			}
			rows = append(rows, row)
		}
	}
	if format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if rows == nil {
			rows = []scanListRow{}
		}
		return enc.Encode(rows)
	}
	if format != "table" && format != "" {
		return usagef("invalid -o %q (want table or json)", format)
	}
	if len(rows) == 0 {
		if filtered {
			fmt.Fprintln(g.stdout, "no scan matches")
		} else {
			fmt.Fprintf(g.stdout, "no scan in %s\n", ws.Dir)
		}
		return nil
	}
	tw := tabwriter.NewWriter(g.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSTARTED\tHOSTS\tOPEN\tSERVICES\tTIME\tTARGETS")
	for _, r := range rows {
		targets := r.Targets
		if len(targets) > 60 {
			targets = targets[:57] + "..."
		}
		if r.Monitor != "" {
			targets += "  [monitor " + r.Monitor + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.1fs\t%s\n", r.ID, r.State, strings.Replace(r.Started, "T", " ", 1), r.Hosts, r.Open, r.Services, r.WallTimeS, targets)
	}
	return tw.Flush()
}

func showScan(g *globals, ws *store.Workspace, id, format string) error {
	res, err := ws.Results(id)
	if err != nil {
		return err
	}
	if format != "table" && format != "" {
		sink, err := report.New(format, g.stdout, g.verbose > 0)
		if err != nil {
			return usageError{err}
		}
		return res.Replay(sink)
	}
	w := g.stdout
	fmt.Fprintf(w, "scan %s\n", id)
	fmt.Fprintf(w, "  folder   %s\n", ws.ScanDir(id))
	if req, err := ws.Request(id); err == nil {
		fmt.Fprintf(w, "  command  portrait scan %s%s\n", strings.Join(req.Args, " "), flagsText(req.Flags))
		if req.Monitor != "" {
			fmt.Fprintf(w, "  monitor  %s\n", req.Monitor)
		}
	}
	if st, err := ws.Status(id); err == nil {
		fmt.Fprintf(w, "  state    %s", st.Effective())
		if st.Resumable() {
			fmt.Fprintf(w, " (finish it: portrait scan --resume %s)", id)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "  started  %s\n", st.Started)
		if st.Finished != "" {
			fmt.Fprintf(w, "  finished %s (%.1f s over %d run%s)\n", st.Finished, st.WallTimeS, len(st.Runs), plural(len(st.Runs)))
		}
		for _, s := range st.Stages {
			fmt.Fprintf(w, "  stage    %-12s %.2f s over %d call%s\n", s.Name, s.Seconds, s.Calls, plural(int(s.Calls)))
		}
		for _, e := range st.Errors {
			fmt.Fprintf(w, "  error    %s\n", e)
		}
	}
	m := res.Meta()
	fmt.Fprintf(w, "  results  %d hosts up, %d open ports, %d services, %d findings\n\n", m.Hosts, m.Open, len(res.Services), len(res.Findings()))
	return res.Replay(report.NewTable(w, g.verbose > 0))
}

func flagsText(f map[string][]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(f) {
		for _, v := range f[k] {
			if v == "true" {
				fmt.Fprintf(&b, " --%s", k)
			} else {
				fmt.Fprintf(&b, " --%s %s", k, v)
			}
		}
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func newReportCmd(g *globals) *cobra.Command {
	var dir, format, out string
	var save bool
	cmd := &cobra.Command{
		Use:   "report ID",
		Short: "Render an archived scan again: html, nmap-xml, csv, json, jsonl or table",
		Long: `report re-renders an archived scan from its results.jsonl, in any output format.
ID is a scan id from portrait scans list, a unique prefix of one, latest, or latest~N.
--save writes the report into the scan's reports/ folder.`,
		Example: `  portrait report latest -o html --output-file scan.html
  portrait report 20261123T001751Z -o nmap-xml > scan.xml
  portrait report latest -o html --save`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, id, err := openScan(dir, args[0])
			if err != nil {
				return err
			}
			res, err := ws.Results(id)
			if err != nil {
				return err
			}
			if save && out == "" {
				out = filepath.Join(ws.ScanDir(id), store.ReportsDir, "report."+reportExt(format))
			}
			return writeReport(g, format, out, func(w io.Writer) error {
				sink, err := report.New(format, w, g.verbose > 0)
				if err != nil {
					return usageError{err}
				}
				return res.Replay(sink)
			})
		},
	}
	wsDirFlag(cmd, &dir)
	cmd.Flags().StringVarP(&format, "output", "o", "html", "format: "+strings.Join(report.Formats, ", "))
	cmd.Flags().StringVar(&out, "output-file", "", "write to FILE instead of stdout")
	cmd.Flags().BoolVar(&save, "save", false, "write into the scan's reports/ folder")
	return cmd
}

func reportExt(format string) string {
	switch format {
	case "nmap-xml", "xml":
		return "xml"
	case "table":
		return "txt"
	}
	return format
}

// writeReport writes through a temporary file renamed into place (or to
// stdout when out is "").
func writeReport(g *globals, format, out string, render func(io.Writer) error) error {
	if out == "" {
		return render(g.stdout)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".portrait-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := render(tmp); err != nil {
		tmp.Close()
		return err
	}
	_ = tmp.Chmod(0o644) // a report is for reading: not CreateTemp's 0600
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "portrait: %s report written to %s\n", format, out)
	return nil
}

// openScan opens the workspace in dir and resolves a scan reference (an id,
// a unique prefix, latest, latest~N); a reference that names no scan is a
// usage error.
func openScan(dir, ref string) (*store.Workspace, string, error) {
	ws, err := store.Open(dir)
	if err != nil {
		return nil, "", err
	}
	id, err := ws.Resolve(ref)
	if err != nil {
		return nil, "", usageError{err}
	}
	return ws, id, nil
}

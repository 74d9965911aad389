package cli

// portrait diff, portrait policy check and portrait monitor: comparing
// archived scans with each other and with a policy, once or on a schedule,
// and telling the notification channels.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/portrait-scanner/portrait/diff"
	"github.com/portrait-scanner/portrait/internal/config"
	"github.com/portrait-scanner/portrait/notify"
	"github.com/portrait-scanner/portrait/policy"
	"github.com/portrait-scanner/portrait/store"
)

func newDiffCmd(g *globals) *cobra.Command {
	var dir, format, out string
	var notifyToo bool
	cmd := &cobra.Command{
		Use:   "diff [SCAN_A SCAN_B]",
		Short: "Compare two archived scans: hosts, ports, services, versions and findings added, removed, changed",
		Long: `diff compares scan A (before) with scan B (after). Without arguments it compares the
two newest scans (latest~1 and latest). Scans are named by id, a unique prefix, latest
or latest~N. --notify sends the changes through the notification rules (config file, then workspace.yaml).`,
		Example: `  portrait diff
  portrait diff 20261120T0600 20261123T0600 -o html --output-file changes.html`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return usagef("accepts 0 or 2 scans, received %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := store.Open(dir)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				args = []string{"latest~1", "latest"}
			}
			ids := make([]string, 2)
			results := make([]*store.Results, 2)
			for i, ref := range args {
				if ids[i], err = ws.Resolve(ref); err != nil {
					return usageError{err}
				}
				if results[i], err = ws.Results(ids[i]); err != nil {
					return err
				}
			}
			d := diff.Compare(ids[0], results[0], ids[1], results[1])
			if err := writeReport(g, "diff", out, func(w io.Writer) error { return d.Write(w, format) }); err != nil {
				if strings.Contains(err.Error(), "unknown diff format") {
					return usageError{err}
				}
				return err
			}
			if notifyToo {
				return sendNotifications(cmd.Context(), g, ws, notify.FromDiff(d))
			}
			return nil
		},
	}
	wsDirFlag(cmd, &dir)
	cmd.Flags().StringVarP(&format, "output", "o", "table", "table, json or html")
	cmd.Flags().StringVar(&out, "output-file", "", "write to FILE instead of stdout")
	cmd.Flags().BoolVar(&notifyToo, "notify", false, "send the changes through the notification rules (config file and workspace.yaml)")
	return cmd
}

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check scans against a policy of expected ports and services",
	}
	var dir, file, format string
	var notifyToo bool
	check := &cobra.Command{
		Use:   "check --policy FILE [SCAN]",
		Short: "List the deviations of a scan (default: latest) from a policy; exit 1 when there are any",
		Long: `check reads a YAML policy (see below) and lists every deviation of the scan as a
finding with a severity: unexpected open ports (only: true), denied ports, required
ports that are missing, ports running another service than the one expected, and
products older than a version floor.

  policies:
    - name: web servers
      hosts: ["web-*", "10.0.1.0/24"]     # names (glob), addresses, CIDR; "*" = all
      allow: ["80/http", "443/https"]     # PORT[/tcp|udp][/SERVICE], */SERVICE, LO-HI
      require: ["22/ssh"]
      deny: ["23", "*/telnet"]
      only: true                          # nothing else may be open
      severity: medium                    # of unexpected ports
      products: [{product: OpenSSH, min_version: "9.0", severity: high}]`,
		Example: `  portrait policy check --policy web.yaml
  portrait policy check --policy web.yaml 20261123T001751Z -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usagef("--policy FILE is required")
			}
			pol, err := policy.Load(file)
			if err != nil {
				return usageError{err}
			}
			ref := "latest"
			if len(args) == 1 {
				ref = args[0]
			}
			ws, id, err := openScan(dir, ref)
			if err != nil {
				return err
			}
			res, err := ws.Results(id)
			if err != nil {
				return err
			}
			devs := pol.Check(res)
			if err := writeDeviations(g.stdout, id, devs, format); err != nil {
				return err
			}
			if notifyToo {
				if err := sendNotifications(cmd.Context(), g, ws, notify.FromDeviations(id, devs)); err != nil {
					return err
				}
			}
			if len(devs) > 0 {
				return fmt.Errorf("%d deviation%s from %s", len(devs), plural(len(devs)), file)
			}
			return nil
		},
	}
	wsDirFlag(check, &dir)
	check.Flags().StringVar(&file, "policy", "", "policy file (YAML)")
	check.Flags().StringVarP(&format, "output", "o", "table", "table or json (one finding record per line)")
	check.Flags().BoolVar(&notifyToo, "notify", false, "send the deviations through the notification rules (config file and workspace.yaml)")
	cmd.AddCommand(check)
	return cmd
}

func writeDeviations(w io.Writer, id string, devs []policy.Deviation, format string) error {
	switch format {
	case "json", "jsonl":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, d := range devs {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	case "table", "":
	default:
		return usagef("invalid -o %q (want table or json)", format)
	}
	if len(devs) == 0 {
		fmt.Fprintf(w, "scan %s: no deviation from the policy\n", id)
		return nil
	}
	fmt.Fprintf(w, "scan %s: %d deviation%s from the policy\n", id, len(devs), plural(len(devs)))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tKIND\tWHERE\tPOLICY\tDETAIL")
	for _, d := range devs {
		where := d.Host
		if d.Port != 0 {
			where = fmt.Sprintf("%s:%d/%s", d.Host, d.Port, firstStr(d.Transport, "tcp"))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Severity, d.Kind, where, d.Policy, d.Title)
	}
	return tw.Flush()
}

// notifyConfig is the notification setup: the config file's channels and
// rules, then the workspace's (workspace.yaml).
func notifyConfig(g *globals, ws *store.Workspace) (*notify.Config, error) {
	cfgPath, explicit := g.configPath, g.configPath != ""
	if !explicit {
		cfgPath = config.DefaultPath()
	}
	cf, err := config.Load(cfgPath, explicit)
	if err != nil {
		return nil, usageError{err}
	}
	set, err := ws.LoadSettings()
	if err != nil {
		return nil, err
	}
	own, err := notify.ParseConfig(&set.Notifications)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", filepath.Join(ws.Dir, store.SettingsFile), err)}
	}
	merged, err := notify.Merge(cf.Notify(), own)
	if err != nil {
		return nil, usageError{err}
	}
	return merged, nil
}

// sendNotifications delivers events through the notification rules.
func sendNotifications(ctx context.Context, g *globals, ws *store.Workspace, evs []notify.Event) error {
	cfg, err := notifyConfig(g, ws)
	if err != nil {
		return err
	}
	if len(cfg.Channels) == 0 {
		return usagef("no notification channel configured (notifications: in the config file or in %s)", filepath.Join(ws.Dir, store.SettingsFile))
	}
	n, err := notify.New(cfg, filepath.Join(ws.Dir, notify.LogFile), g.log)
	if err != nil {
		return err
	}
	res, err := n.Send(ctx, evs)
	for _, r := range res {
		switch {
		case r.Err != nil:
			fmt.Fprintf(g.stderr, "portrait: notification to %s failed after %d attempts: %v\n", r.Channel, r.Attempts, r.Err)
		case r.Events > 0:
			fmt.Fprintf(g.stderr, "portrait: notified %s of %d event%s\n", r.Channel, r.Events, plural(r.Events))
		}
	}
	return err
}

type monitorOpts struct {
	dir      string
	every    time.Duration
	count    int
	name     string
	policy   string
	noNotify bool
	format   string
}

func newMonitorCmd(g *globals) *cobra.Command {
	o := &monitorOpts{}
	cmd := &cobra.Command{
		Use:   "monitor --every DURATION [flags] -- TARGET... [scan flags]",
		Short: "Repeat a scan on a schedule and report the changes and policy deviations each time",
		Long: `monitor runs the scan given after -- every DURATION, archives each run in the
workspace, compares it with the monitor's previous run (portrait diff) and with
--policy, prints the changes, and sends them through the notification rules (the
config file's, then workspace.yaml's). New policy deviations are notified once, when they appear.
--count stops after N runs (0: until interrupted).`,
		Example: `  portrait monitor --every 6h --policy web.yaml -- 10.0.1.0/24 --top-ports 1000
  portrait monitor --every 1h --name dmz --count 3 -- 127.0.0.1 -p 1-10000`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 0 || len(args) == 0 {
				return usagef("give the scan after --: portrait monitor --every 6h -- TARGET... [scan flags]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runMonitor(cmd.Context(), g, o, args) },
	}
	f := cmd.Flags()
	wsDirFlag(cmd, &o.dir)
	f.DurationVar(&o.every, "every", 0, "time between the starts of two runs (e.g. 6h, 30m)")
	f.IntVar(&o.count, "count", 0, "stop after N runs (0: run until interrupted)")
	f.StringVar(&o.name, "name", "", "monitor name: runs of the same name are compared (default: made from the scan arguments)")
	f.StringVar(&o.policy, "policy", "", "check each run against this policy file")
	f.BoolVar(&o.noNotify, "no-notify", false, "do not send notifications")
	f.StringVarP(&o.format, "output", "o", "table", "how each run's changes are printed: table or json")
	return cmd
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func runMonitor(ctx context.Context, g *globals, o *monitorOpts, scanArgs []string) error {
	if o.every < time.Second {
		return usagef("--every must be at least 1s (e.g. --every 6h)")
	}
	if o.format != "table" && o.format != "json" {
		return usagef("invalid -o %q (want table or json)", o.format)
	}
	for _, a := range scanArgs {
		if a == "--resume" || strings.HasPrefix(a, "--resume=") || a == "--no-workspace" || strings.HasPrefix(a, "--workspace-dir") || strings.HasPrefix(a, "--scan-id") {
			return usagef("monitor manages the workspace itself: %s cannot be given to its scan", a)
		}
	}
	var pol *policy.File
	if o.policy != "" {
		var err error
		if pol, err = policy.Load(o.policy); err != nil {
			return usageError{err}
		}
	}
	ws, err := store.Open(o.dir)
	if err != nil {
		return err
	}
	var notifier *notify.Notifier
	if !o.noNotify {
		cfg, err := notifyConfig(g, ws)
		if err != nil {
			return err
		}
		if len(cfg.Channels) > 0 {
			if notifier, err = notify.New(cfg, filepath.Join(ws.Dir, notify.LogFile), g.log); err != nil {
				return err
			}
		}
	}
	name := o.name
	if name == "" {
		name = strings.Trim(nameUnsafe.ReplaceAllString(strings.Join(scanArgs, "_"), "_"), "_")
		if len(name) > 48 {
			name = name[:48]
		}
	}
	for run := 1; o.count == 0 || run <= o.count; run++ {
		started := time.Now()
		id := store.NewID(started)
		args := append([]string{"scan", "-o", "jsonl", "--scan-id", id, "--monitor-name", name, "--no-progress", "--workspace-dir", ws.Dir}, scanArgs...)
		if g.configPath != "" {
			args = append([]string{"--config", g.configPath}, args...)
		}
		if err := runInProcess(ctx, g, args); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(g.stderr, "portrait: monitor %s run %d: scan failed: %v\n", name, run, err)
		} else if err := monitorReport(ctx, g, o, ws, name, id, run, pol, notifier); err != nil {
			fmt.Fprintf(g.stderr, "portrait: monitor %s run %d: %v\n", name, run, err)
		}
		if o.count != 0 && run >= o.count {
			break
		}
		wait := time.Until(started.Add(o.every))
		if wait > 0 {
			g.log.Info("monitor waiting", "name", name, "next", started.Add(o.every).Format(time.RFC3339))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
	return nil
}

// runInProcess runs portrait's own command line (a scan) inside this
// process, its results going only to the workspace.
func runInProcess(ctx context.Context, g *globals, args []string) error {
	g2 := &globals{stdout: io.Discard, stderr: g.stderr, logLevel: g.logLevel, verbose: g.verbose}
	root := newRoot(g2)
	root.SetArgs(expandShortFlags(args))
	root.SetOut(io.Discard)
	root.SetErr(g.stderr)
	return root.ExecuteContext(ctx)
}

// monitorRun is one run's report (-o json).
type monitorRun struct {
	Monitor    string             `json:"monitor"`
	Run        int                `json:"run"`
	Scan       string             `json:"scan"`
	Previous   string             `json:"previous,omitempty"`
	Diff       *diff.Diff         `json:"diff,omitempty"`
	Deviations []policy.Deviation `json:"deviations,omitempty"`
	NewDevs    int                `json:"new_deviations"`
	Notified   int                `json:"notified"`
}

func monitorReport(ctx context.Context, g *globals, o *monitorOpts, ws *store.Workspace, name, id string, run int, pol *policy.File, n *notify.Notifier) error {
	res, err := ws.Results(id)
	if err != nil {
		return err
	}
	prevID := previousMonitorRun(ws, name, id)
	out := monitorRun{Monitor: name, Run: run, Scan: id, Previous: prevID}
	var events []notify.Event
	var prev *store.Results
	if prevID != "" {
		if prev, err = ws.Results(prevID); err == nil {
			out.Diff = diff.Compare(prevID, prev, id, res)
			events = append(events, notify.FromDiff(out.Diff, name)...)
		}
	}
	if pol != nil {
		out.Deviations = pol.Check(res)
		// Only deviations that the previous run did not have are news.
		old := map[string]bool{}
		if prev != nil {
			for _, d := range pol.Check(prev) {
				old[devKey(d)] = true
			}
		}
		var fresh []policy.Deviation
		for _, d := range out.Deviations {
			if !old[devKey(d)] {
				fresh = append(fresh, d)
			}
		}
		out.NewDevs = len(fresh)
		events = append(events, notify.FromDeviations(id, fresh, name)...)
	}
	if n != nil && len(events) > 0 {
		results, err := n.Send(ctx, events)
		for _, r := range results {
			out.Notified += r.Events
		}
		if err != nil {
			fmt.Fprintf(g.stderr, "portrait: monitor %s: notification: %v\n", name, err)
		}
	}
	if o.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	}
	m := res.Meta()
	fmt.Fprintf(g.stdout, "== monitor %s, run %d: scan %s: %d hosts up, %d open ports\n", name, run, id, m.Hosts, m.Open)
	switch {
	case out.Diff != nil:
		if err := out.Diff.WriteTable(g.stdout); err != nil {
			return err
		}
	default:
		fmt.Fprintln(g.stdout, "first run: nothing to compare with yet")
	}
	if pol != nil {
		if err := writeDeviations(g.stdout, id, out.Deviations, "table"); err != nil {
			return err
		}
	}
	if out.Notified > 0 {
		fmt.Fprintf(g.stdout, "notified %d event%s\n", out.Notified, plural(out.Notified))
	}
	fmt.Fprintln(g.stdout)
	return nil
}

func devKey(d policy.Deviation) string {
	return fmt.Sprintf("%s|%s|%s|%d|%s|%s", d.Policy, d.Kind, d.Host, d.Port, d.Transport, d.Observed)
}

// previousMonitorRun is the newest finished scan of the monitor before id.
func previousMonitorRun(ws *store.Workspace, name, id string) string {
	ids, err := ws.IDs()
	if err != nil {
		return ""
	}
	for i := len(ids) - 1; i >= 0; i-- {
		if ids[i] >= id {
			continue
		}
		req, err := ws.Request(ids[i])
		if err != nil || req.Monitor != name {
			continue
		}
		if st, err := ws.Status(ids[i]); err == nil && st.Effective() == store.StateDone {
			return ids[i]
		}
	}
	return ""
}

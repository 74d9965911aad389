package cli

// The workspace's part of `portrait scan`: every scan is archived in the
// workspace (store/) unless --no-workspace, and a killed scan is finished
// with --resume ID. runScan calls resumeScan first (it restores the killed
// scan's request) and applyWorkspace just before scan.Run (it puts the
// archive in front of the output and wires the resume filter).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
	"github.com/portrait-scanner/portrait/store"
)

// wsOpts are the scan's workspace flags and the state resumeScan hands to
// applyWorkspace.
type wsOpts struct {
	dir       string // --workspace-dir
	disabled  bool   // --no-workspace
	resume    string // --resume ID
	id        string // --scan-id (hidden: monitor names its scans)
	monitor   string // --monitor-name (hidden)
	noBanners bool   // --no-banners

	ws    *store.Workspace
	state *store.ResumeState
	req   *store.Request
}

// addWorkspaceFlags registers the workspace flags on the scan command.
func addWorkspaceFlags(cmd *cobra.Command, o *scanOpts) {
	f := cmd.Flags()
	f.StringVar(&o.ws.dir, "workspace-dir", "", "workspace folder that archives every scan (default $PORTRAIT_WORKSPACE, else $XDG_DATA_HOME/portrait or ~/.local/share/portrait)")
	f.BoolVar(&o.ws.disabled, "no-workspace", false, "do not archive this scan in the workspace (no resume, diff or report later)")
	f.StringVar(&o.ws.resume, "resume", "", "finish an interrupted scan: ID (or latest) from portrait scans list; takes no targets, the scan's own settings are used")
	f.BoolVar(&o.ws.noBanners, "no-banners", false, "do not keep the raw responses in the workspace (artifacts/banners)")
	f.StringVar(&o.ws.id, "scan-id", "", "archive under this scan id (for scripts; default: time-based)")
	f.StringVar(&o.ws.monitor, "monitor-name", "", "monitor job that runs this scan")
	_ = f.MarkHidden("scan-id")
	_ = f.MarkHidden("monitor-name")
}

// wsPathFlags hold file names: they are stored absolute so that a resume
// from another directory reads the same files.
var wsPathFlags = map[string]bool{"input-file": true, "exclude-file": true, "rules": true, "nmap-probes": true, "config": true, "output-file": true}

// wsOwnFlags are never stored in a request nor restored from one.
var wsOwnFlags = map[string]bool{"resume": true, "workspace-dir": true, "no-workspace": true, "scan-id": true, "monitor-name": true}

// wsResumeOverrides may differ on a resume (where the results go, how
// much is said); every other setting is the killed scan's.
var wsResumeOverrides = map[string]bool{"output": true, "output-file": true, "no-progress": true, "verbose": true, "log-level": true, "no-banners": true}

// resumeScan, with --resume, restores the killed scan's targets and flags
// from its request.json and excludes the hosts it finished. Without it it
// does nothing.
func resumeScan(cmd *cobra.Command, g *globals, o *scanOpts, args *[]string) error {
	if o.ws.resume == "" {
		return nil
	}
	if o.ws.disabled {
		return usagef("--resume needs the workspace (drop --no-workspace)")
	}
	if len(*args) > 0 || len(o.inputFiles) > 0 {
		return usagef("--resume takes no targets: the scan's own are used")
	}
	var bad []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if !wsOwnFlags[f.Name] && !wsResumeOverrides[f.Name] {
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		return usagef("--resume uses the scan's own settings; %s cannot be given (only -o, --output-file, --no-progress, -v)", strings.Join(bad, ", "))
	}
	ws, err := store.Open(o.ws.dir)
	if err != nil {
		return err
	}
	id, err := ws.Resolve(o.ws.resume)
	if err != nil {
		return usageError{err}
	}
	req, err := ws.Request(id)
	if err != nil {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	st, err := ws.LoadResume(id)
	if err != nil {
		if errors.Is(err, store.ErrComplete) {
			return usageError{err}
		}
		return fmt.Errorf("resume %s: %w", id, err)
	}
	for _, name := range sortedKeys(req.Flags) {
		if wsOwnFlags[name] || cmd.Flags().Changed(name) {
			continue
		}
		if name == "config" {
			if g.configPath == "" && len(req.Flags[name]) > 0 {
				g.configPath = req.Flags[name][0]
			}
			continue
		}
		fl := cmd.Flags().Lookup(name)
		if fl == nil {
			return fmt.Errorf("resume %s: flag --%s of the request is unknown to this version", id, name)
		}
		vals := req.Flags[name]
		if _, ok := fl.Value.(pflag.SliceValue); !ok && len(vals) > 1 {
			vals = vals[:1]
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			if err := sv.Replace(vals); err != nil {
				return fmt.Errorf("resume %s: --%s: %w", id, name, err)
			}
			fl.Changed = true
			continue
		}
		for _, v := range vals {
			if err := cmd.Flags().Set(name, v); err != nil {
				return fmt.Errorf("resume %s: --%s: %w", id, name, err)
			}
		}
	}
	if containsStr(o.inputFiles, "-") {
		return fmt.Errorf("resume %s: its targets were read from standard input and were not kept", id)
	}
	*args = append([]string(nil), req.Args...)
	// Finished hosts are not scanned again.
	o.exclude = append(o.exclude, st.DoneHostList()...)
	o.ws.ws, o.ws.state, o.ws.req = ws, st, req
	g.log.Info("resuming scan", "id", id, "hosts_done", len(st.DoneHosts), "ports_settled", st.Skippable())
	return nil
}

// applyWorkspace archives the scan: it opens (or, on a resume, reopens)
// the scan's folder, puts the archive between the pipeline and the output
// sink, and wires the resume filter, the checkpoint and the stage timings
// into the pipeline's config. With --no-workspace it returns sink as is.
func applyWorkspace(cmd *cobra.Command, g *globals, o *scanOpts, args []string, scfg *scan.Config, sink scan.Sink) (scan.Sink, error) {
	if o.ws.disabled {
		return sink, nil
	}
	ctx := cmd.Context()
	ws := o.ws.ws
	req := o.ws.req
	if ws == nil {
		var err error
		if ws, err = store.Open(o.ws.dir); err != nil {
			if o.ws.dir != "" || os.Getenv("PORTRAIT_WORKSPACE") != "" {
				return nil, err
			}
			g.log.Warn("scan not archived: no workspace (set --workspace-dir, or --no-workspace to silence this)", "err", err)
			return sink, nil
		}
		req = newRequest(cmd, g, o, args, scfg)
		if _, err := ws.Create(req); err != nil {
			return nil, fmt.Errorf("workspace: %w", err)
		}
	}
	arch, err := store.NewArchive(ctx, store.ArchiveOptions{Workspace: ws, ID: req.ID, Inner: sink, Resume: o.ws.state,
		NoBanners: o.ws.noBanners, Targets: req.Args, Log: g.log,
		AfterFinish: func(a *store.Archive) { afterScan(g, ws, req.ID) }})
	if err != nil {
		return nil, err
	}
	sink = arch

	ps := scfg.PortScan
	if o.ws.state != nil {
		ps = o.ws.state.FilterPortScan(ps)
	}
	scfg.PortScan = func(ctx2 context.Context, onPort func(scan.PortRecord), onHost func(scan.HostRecord)) error {
		start := time.Now()
		err := ps(ctx2, onPort, onHost)
		arch.AddStageTime("portscan", time.Since(start))
		if err != nil {
			arch.PortScanFailed(err)
		}
		return err
	}
	stages := make([]scan.Stage, 0, len(scfg.Stages)+1)
	for _, st := range scfg.Stages {
		stages = append(stages, store.TimedStage{Stage: st, Resume: o.ws.state, Archive: arch})
	}
	scfg.Stages = append(stages, store.CommitStage{})
	prevID := scfg.OnIdentified
	scfg.OnIdentified = func(s *fingerprint.Service) {
		arch.Identified(s)
		arch.AddStageTime("fingerprint", time.Duration(s.DurationMS)*time.Millisecond)
		if prevID != nil {
			prevID(s)
		}
	}
	// Progress snapshots only when the terminal asked for them: runScan
	// prints its bar's clean-up when Progress is set.
	if prevProg := scfg.Progress; prevProg != nil {
		scfg.Progress = func(p scan.Progress) {
			arch.SetProgress(p)
			prevProg(p)
		}
	}
	g.log.Info("archiving scan", "id", req.ID, "dir", ws.ScanDir(req.ID))
	return sink, nil
}

// newRequest records what was asked, enough to run it again.
func newRequest(cmd *cobra.Command, g *globals, o *scanOpts, args []string, scfg *scan.Config) *store.Request {
	req := &store.Request{ID: o.ws.id, Created: time.Now().UTC().Format(time.RFC3339), Scanner: scfg.Meta.Scanner,
		Command: "scan", Args: append([]string{}, args...), Flags: map[string][]string{}, Ports: scfg.Meta.Ports, Monitor: o.ws.monitor}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if wsOwnFlags[f.Name] {
			return
		}
		var vals []string
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
		} else {
			vals = []string{f.Value.String()}
		}
		if wsPathFlags[f.Name] {
			for i, v := range vals {
				if v != "-" && v != "" {
					if abs, err := filepath.Abs(v); err == nil {
						vals[i] = abs
					}
				}
			}
		}
		req.Flags[f.Name] = vals
	})
	if g.configPath != "" {
		if abs, err := filepath.Abs(g.configPath); err == nil {
			req.Config = abs
			req.Flags["config"] = []string{abs}
		}
	}
	return req
}

// afterScan indexes the finished (or interrupted) scan and applies the
// workspace's retention limits.
func afterScan(g *globals, ws *store.Workspace, id string) {
	ix, err := ws.OpenIndex()
	if err != nil {
		g.log.Warn("workspace index not updated", "err", err)
		return
	}
	if err := ws.IndexScan(ix, id); err != nil {
		g.log.Warn("workspace index not updated", "scan", id, "err", err)
	}
	ix.Close()
	set, err := ws.LoadSettings()
	if err != nil {
		g.log.Warn("workspace settings not read", "err", err)
		return
	}
	if set.Retention.Empty() {
		return
	}
	res, err := ws.GC(set.Retention, time.Now(), false)
	if err != nil {
		g.log.Warn("workspace retention", "err", err)
		return
	}
	for _, r := range res.Removed {
		g.log.Info("scan removed by retention", "id", r.ID, "reason", r.Reason)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

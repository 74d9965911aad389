package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

// ArchiveOptions configures an Archive.
type ArchiveOptions struct {
	Workspace *Workspace
	ID        string
	// Inner receives the record stream too (the user's chosen output).
	Inner scan.Sink
	// Resume is the state of the scan being finished; nil for a new scan.
	Resume *ResumeState
	// FlushEvery is the longest a record waits in memory before it is
	// written and fsynced (default 200ms). Records are written in batches:
	// one fsync per batch keeps the archive's cost low on big scans.
	FlushEvery time.Duration
	// NoBanners skips the raw-response artifacts.
	NoBanners bool
	// Targets and PortsTotal go into status.json.
	Targets    []string
	PortsTotal uint64
	Log        *slog.Logger
	// AfterFinish runs once the archive is closed (index, retention).
	AfterFinish func(*Archive)
}

// Archive is a scan.Sink that appends every record to the scan's
// results.jsonl (and passes it on to Inner), keeps status.json current and
// writes the raw banners. It is the tee the CLI puts in front of the
// user's output.
//
// Crash safety: records are appended as whole lines and fsynced at least
// every FlushEvery; a host record is written together with the stage
// records that follow it (a CommitMarker, from CommitStage, closes the
// group), so an archive never holds a host without its findings. After a
// kill -9 the file ends with whole records (plus at worst a torn line that
// readers ignore and a resume truncates), and a resume (ResumeState)
// writes exactly the records that are missing.
type Archive struct {
	opt   ArchiveOptions
	ctx   context.Context
	log   *slog.Logger
	start time.Time

	// Sink side (one goroutine at a time, as scan.Sink promises).
	held   map[string]*bytes.Buffer // host record + its stage records, by host
	hostUp int
	open   int
	svcs   int
	errs   map[string]bool
	wrote  map[Key]bool // service keys archived (resume: from the killed run too)
	// resumeBuf holds a resumed host's new services until its host record.
	resumeBuf map[string][]*fingerprint.Service

	mu      sync.Mutex // guards buf, ckbuf, status, banners, closed
	buf     bytes.Buffer
	ckbuf   bytes.Buffer
	status  Status
	dirty   bool
	banners map[Key]bool
	closed  bool

	flushMu sync.Mutex // serialises file writes
	results *os.File
	ckpt    *os.File

	stageNS    sync.Map // stage name -> *stageClock
	stop       chan struct{}
	loopDone   chan struct{}
	writeErr   atomic.Value // error
	scanErr    atomic.Value // error: the port scan failed
	identified atomic.Int64
	bannerErrs atomic.Int64
}

type stageClock struct {
	ns    atomic.Int64
	calls atomic.Int64
}

// NewArchive opens the scan's files (the folder must exist: Workspace.Create
// made it) and starts the flusher. ctx is the scan's context: when it is
// cancelled the scan is recorded as interrupted, not done.
func NewArchive(ctx context.Context, opt ArchiveOptions) (*Archive, error) {
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = 200 * time.Millisecond
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	w := opt.Workspace
	a := &Archive{opt: opt, ctx: ctx, log: opt.Log, start: time.Now(), held: map[string]*bytes.Buffer{},
		errs: map[string]bool{}, wrote: map[Key]bool{}, banners: map[Key]bool{}, stop: make(chan struct{}), loopDone: make(chan struct{})}
	path := w.Path(opt.ID, ResultsFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	// A resumed archive drops the torn tail of the killed write, so the
	// file goes on with whole lines.
	size := int64(0)
	if opt.Resume != nil {
		size = opt.Resume.Results.Size
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, fmt.Errorf("archive: %w", err)
	}
	if _, err := f.Seek(size, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("archive: %w", err)
	}
	a.results = f
	ck, err := os.OpenFile(w.Path(opt.ID, CheckpointFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("archive: %w", err)
	}
	a.ckpt = ck
	_ = os.MkdirAll(filepath.Join(w.ScanDir(opt.ID), BannersDir), 0o755)

	now := a.start.UTC().Format(time.RFC3339)
	run := Run{Started: now, State: StateRunning, PID: os.Getpid()}
	if opt.Resume != nil && opt.Resume.Status != nil {
		a.status = *opt.Resume.Status
		for i := range a.status.Runs {
			if a.status.Runs[i].State == StateRunning { // its process was killed
				a.status.Runs[i].State = "killed"
			}
		}
		run.Resumed = true
		run.Skipped = opt.Resume.Skippable()
		a.status.Errors = nil
	} else {
		a.status = Status{ID: opt.ID, Started: now, Targets: opt.Targets}
	}
	a.status.ID = opt.ID
	a.status.State = StateRunning
	a.status.PID = os.Getpid()
	a.status.Finished = ""
	a.status.Progress = Progress{PortsTotal: opt.PortsTotal}
	a.status.Runs = append(a.status.Runs, run)
	if r := opt.Resume; r != nil {
		a.hostUp, a.open = r.Results.count()
		a.svcs = len(r.Results.Services)
		for k := range r.Services {
			a.wrote[k] = true
		}
		for _, e := range r.Results.Errors {
			a.errs[e.Target+"\x00"+e.Error] = true
		}
	}
	if err := w.WriteStatus(&a.status); err != nil {
		a.closeFiles()
		return nil, fmt.Errorf("archive: %w", err)
	}
	go a.loop()
	return a, nil
}

// loop writes the pending records every FlushEvery and status.json every
// second while something changed.
func (a *Archive) loop() {
	defer close(a.loopDone)
	t := time.NewTicker(a.opt.FlushEvery)
	defer t.Stop()
	lastStatus := time.Now()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.flush()
			if time.Since(lastStatus) >= time.Second {
				a.writeStatus()
				lastStatus = time.Now()
			}
		}
	}
}

// flush writes and fsyncs what is pending.
func (a *Archive) flush() {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.mu.Lock()
	res := append([]byte(nil), a.buf.Bytes()...)
	ck := append([]byte(nil), a.ckbuf.Bytes()...)
	a.buf.Reset()
	a.ckbuf.Reset()
	a.mu.Unlock()
	if len(ck) > 0 {
		if _, err := a.ckpt.Write(ck); err != nil {
			a.setErr(err)
		} else if err := a.ckpt.Sync(); err != nil {
			a.setErr(err)
		}
	}
	if len(res) > 0 {
		if _, err := a.results.Write(res); err != nil {
			a.setErr(err)
		} else if err := a.results.Sync(); err != nil {
			a.setErr(err)
		}
	}
}

func (a *Archive) setErr(err error) {
	if a.writeErr.Load() == nil {
		a.writeErr.Store(fmt.Errorf("archive %s: %w", a.opt.ID, err))
		a.log.Error("archive write failed", "scan", a.opt.ID, "err", err)
	}
}

func (a *Archive) err() error {
	if e, ok := a.writeErr.Load().(error); ok {
		return e
	}
	return nil
}

func (a *Archive) writeStatus() {
	a.mu.Lock()
	if !a.dirty && a.status.State == StateRunning {
		a.mu.Unlock()
		return
	}
	a.dirty = false
	run := &a.status.Runs[len(a.status.Runs)-1]
	run.Seconds = round3(time.Since(a.start).Seconds())
	a.status.Stages = a.stageTimings()
	a.status.Hosts, a.status.Open, a.status.Services = a.hostUp, a.open, a.svcs
	// Without a progress feed (no terminal), the archive's own counts.
	a.status.Progress.Open = max(a.status.Progress.Open, int64(a.open))
	a.status.Progress.Fingerprints = max(a.status.Progress.Fingerprints, a.identified.Load())
	st := a.status
	st.Runs = append([]Run(nil), a.status.Runs...)
	a.mu.Unlock()
	if err := a.opt.Workspace.WriteStatus(&st); err != nil {
		a.log.Warn("status.json not written", "scan", a.opt.ID, "err", err)
	}
}

func (a *Archive) stageTimings() []StageTiming {
	var out []StageTiming
	a.stageNS.Range(func(k, v any) bool {
		c := v.(*stageClock)
		out = append(out, StageTiming{Name: k.(string), Seconds: round3(float64(c.ns.Load()) / 1e9), Calls: c.calls.Load()})
		return true
	})
	sortStages(out)
	return out
}

// AddStageTime records time spent in a pipeline stage (for status.json).
func (a *Archive) AddStageTime(name string, d time.Duration) {
	v, _ := a.stageNS.LoadOrStore(name, &stageClock{})
	c := v.(*stageClock)
	c.ns.Add(int64(d))
	c.calls.Add(1)
}

// SetProgress records a progress snapshot (scan.Config.Progress).
func (a *Archive) SetProgress(p scan.Progress) {
	a.mu.Lock()
	a.status.Progress.PortsDone = p.PortsDone
	a.status.Progress.Open = p.Open
	a.status.Progress.Fingerprints = p.Fingerprints
	a.status.Progress.Pending = p.Pending
	a.dirty = true
	a.mu.Unlock()
}

// AddError notes an error in status.json.
func (a *Archive) AddError(msg string) {
	a.mu.Lock()
	if len(a.status.Errors) < 100 {
		a.status.Errors = append(a.status.Errors, msg)
	}
	a.dirty = true
	a.mu.Unlock()
}

// line encodes a record as one JSON line.
func line(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (a *Archive) commit(b []byte) {
	a.mu.Lock()
	a.buf.Write(b)
	a.dirty = true
	a.mu.Unlock()
}

// Identified records a service the moment it is identified, before the
// pipeline releases it with the rest of its host: a resumed scan then does
// not fingerprint it again. Safe for concurrent use.
func (a *Archive) Identified(s *fingerprint.Service) {
	if s == nil {
		return
	}
	a.identified.Add(1)
	a.writeBanners(s)
	b, err := line(s)
	if err != nil {
		return
	}
	a.mu.Lock()
	a.ckbuf.Write(b)
	a.mu.Unlock()
}

// Begin writes the opening record (a resumed scan's is already there: the
// inner sink gets the archived records first, so its output is the whole
// scan).
func (a *Archive) Begin(m scan.Meta) error {
	if r := a.opt.Resume; r != nil {
		begin := m
		if r.Results.Begin != nil {
			begin = *r.Results.Begin
		}
		if err := a.opt.Inner.Begin(begin); err != nil {
			return err
		}
		return r.Results.ReplayBody(a.opt.Inner)
	}
	m.Type = "scan"
	b, err := line(m)
	if err != nil {
		return err
	}
	a.commit(b)
	return a.opt.Inner.Begin(m)
}

// Host holds the host record until its stage records are complete.
func (a *Archive) Host(h scan.HostRecord) error {
	r := a.opt.Resume
	if r != nil && r.DoneHosts[h.Host] {
		return nil // archived in full by the killed run
	}
	if r != nil {
		if err := a.releaseHost(h.Host); err != nil {
			return err
		}
	}
	h.Type = "host"
	b, err := line(h)
	if err != nil {
		return err
	}
	if old, ok := a.held[h.Host]; ok { // a second record for a host: keep both, in order
		a.commit(old.Bytes())
	}
	a.held[h.Host] = bytes.NewBuffer(b)
	if h.State == "up" {
		a.hostUp++
	}
	return a.opt.Inner.Host(h)
}

// Port writes a port record unless the killed run already archived it.
func (a *Archive) Port(p scan.PortRecord) error {
	p.Type = "port"
	if r := a.opt.Resume; r != nil && r.Ports[PortKey(p)] {
		return nil
	}
	b, err := line(p)
	if err != nil {
		return err
	}
	a.commit(b)
	if p.State == "open" {
		a.open++
	}
	return a.opt.Inner.Port(p)
}

// Service writes a service record unless already archived. On a resume
// the host's services wait for its host record (releaseHost), so that they
// are correlated with the ones the killed run identified.
func (a *Archive) Service(s *fingerprint.Service) error {
	if s == nil {
		return nil
	}
	if a.opt.Resume != nil {
		if a.resumeBuf == nil {
			a.resumeBuf = map[string][]*fingerprint.Service{}
		}
		a.resumeBuf[s.Host] = append(a.resumeBuf[s.Host], s)
		return nil
	}
	return a.writeService(s)
}

// releaseHost writes a resumed host's services: the ones checkpointed by
// the killed run and the ones identified now, correlated together (with the
// archived ones as context), as an uninterrupted scan would have written
// them.
func (a *Archive) releaseHost(host string) error {
	r := a.opt.Resume
	svcs := append(r.takePending(host), a.resumeBuf[host]...)
	delete(a.resumeBuf, host)
	if len(svcs) == 0 {
		return nil
	}
	var all []*fingerprint.Service
	for _, old := range r.archived[host] {
		c := *old // context only: archived records are not rewritten
		c.Stack = append([]fingerprint.Tech(nil), old.Stack...)
		all = append(all, &c)
	}
	fingerprint.Correlate(append(all, svcs...))
	for _, s := range svcs {
		dedupeStack(s)
		if err := a.writeService(s); err != nil {
			return err
		}
	}
	return nil
}

// dedupeStack drops repeated technologies (a service correlated twice).
func dedupeStack(s *fingerprint.Service) {
	seen := map[string]bool{}
	out := s.Stack[:0]
	for _, t := range s.Stack {
		k := t.Product + "\x00" + t.Version + "\x00" + t.Role + "\x00" + t.Evidence
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, t)
	}
	s.Stack = out
}

func (a *Archive) writeService(s *fingerprint.Service) error {
	k := ServiceKey(s)
	if a.opt.Resume != nil {
		if a.wrote[k] {
			return nil
		}
		a.wrote[k] = true
	}
	a.writeBanners(s)
	b, err := line(s)
	if err != nil {
		return err
	}
	a.commit(b)
	a.svcs++
	return a.opt.Inner.Service(s)
}

// Record adds a stage record to its host's group; a CommitMarker closes
// the group and releases it to the file.
func (a *Archive) Record(rec scan.Record) error {
	if m, ok := rec.(*CommitMarker); ok {
		if hb, ok := a.held[m.Host]; ok {
			a.commit(hb.Bytes())
			delete(a.held, m.Host)
		}
		return nil
	}
	host := rec.RecordHost()
	if r := a.opt.Resume; r != nil && r.DoneHosts[host] {
		return nil
	}
	b, err := line(rec)
	if err != nil {
		return err
	}
	if hb, ok := a.held[host]; ok {
		hb.Write(b)
	} else {
		a.commit(b)
	}
	return a.opt.Inner.Record(rec)
}

// Error writes an error record once.
func (a *Archive) Error(e scan.ErrorRecord) error {
	e.Type = "error"
	k := e.Target + "\x00" + e.Error
	if a.errs[k] {
		return nil
	}
	a.errs[k] = true
	b, err := line(e)
	if err != nil {
		return err
	}
	a.commit(b)
	a.AddError(e.Target + ": " + e.Error)
	return a.opt.Inner.Error(e)
}

// PortScanFailed records that the port scan ended on an error: the scan
// is then recorded as failed (resumable), not done.
func (a *Archive) PortScanFailed(err error) {
	if err != nil && a.ctx.Err() == nil {
		a.scanErr.Store(err)
	}
}

// End closes the scan. A scan that ran to its end gets its scan-end record
// and state "done"; one whose context was cancelled, or whose port scan
// failed, keeps no end record (it is resumable) and is marked interrupted
// or failed.
func (a *Archive) End(m scan.Meta) error {
	scanErr, _ := a.scanErr.Load().(error)
	interrupted := a.ctx.Err() != nil || scanErr != nil
	r := a.opt.Resume
	if r != nil && r.Results.Begin != nil {
		m.Started = r.Results.Begin.Started
	}
	if !interrupted {
		if r != nil {
			// Services whose host never reported again (the host is gone):
			// still part of the scan.
			hosts := map[string]bool{}
			for h := range a.resumeBuf {
				hosts[h] = true
			}
			for _, h := range r.pendingHosts() {
				hosts[h] = true
			}
			for _, h := range sortedHosts(hosts) {
				if err := a.releaseHost(h); err != nil {
					return err
				}
			}
		}
		for h, hb := range a.held {
			a.commit(hb.Bytes())
			delete(a.held, h)
		}
	}
	a.mu.Lock()
	prev := 0.0
	for _, run := range a.status.Runs[:len(a.status.Runs)-1] {
		prev += run.Seconds
	}
	a.mu.Unlock()
	if r != nil {
		m.Hosts, m.Open = a.hostUp, a.open
		m.WallTimeS = round3(prev + time.Since(a.start).Seconds())
	}
	var endErr error
	if !interrupted {
		m.Type = "scan-end"
		b, err := line(struct {
			scan.Meta
			X struct {
				WallTimeS float64 `json:"wall_time_s"`
				Scanner   string  `json:"scanner"`
			} `json:"_meta"`
		}{Meta: m, X: struct {
			WallTimeS float64 `json:"wall_time_s"`
			Scanner   string  `json:"scanner"`
		}{m.WallTimeS, m.Scanner}})
		if err != nil {
			return err
		}
		a.commit(b)
	}
	innerErr := a.opt.Inner.End(m)
	// An archive that could not be written (a full disk) is said loudly
	// and recorded in status.json, but does not fail the scan: the user's
	// output is complete.
	if endErr = a.finish(interrupted, scanErr); endErr != nil {
		a.log.Error("scan not fully archived", "scan", a.opt.ID, "err", endErr)
	}
	return innerErr
}

// Fail marks the scan failed (an error ended it before End).
func (a *Archive) Fail(err error) {
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return
	}
	_ = a.finish(true, err)
}

func (a *Archive) finish(interrupted bool, failure error) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return a.err()
	}
	a.closed = true
	a.mu.Unlock()
	close(a.stop)
	<-a.loopDone
	a.flush()
	now := time.Now().UTC().Format(time.RFC3339)
	a.mu.Lock()
	state := StateDone
	switch {
	case failure != nil:
		state = StateFailed
		a.status.Errors = append(a.status.Errors, failure.Error())
	case interrupted:
		state = StateInterrupted
	}
	if e := a.err(); e != nil && state == StateDone {
		state = StateFailed
		a.status.Errors = append(a.status.Errors, e.Error())
	}
	if n := a.bannerErrs.Load(); n > 0 {
		a.status.Errors = append(a.status.Errors, "banners not written: "+strconv.FormatInt(n, 10))
	}
	a.status.State = state
	run := &a.status.Runs[len(a.status.Runs)-1]
	run.State = state
	run.Finished = now
	if state == StateDone {
		a.status.Finished = now
	}
	a.dirty = true
	a.mu.Unlock()
	var wall float64
	a.mu.Lock()
	run.Seconds = round3(time.Since(a.start).Seconds())
	for _, r := range a.status.Runs {
		wall += r.Seconds
	}
	a.status.WallTimeS = round3(wall)
	a.mu.Unlock()
	a.writeStatus()
	a.closeFiles()
	if state == StateDone {
		_ = os.Remove(a.opt.Workspace.Path(a.opt.ID, CheckpointFile))
	}
	if a.opt.AfterFinish != nil {
		a.opt.AfterFinish(a)
	}
	return a.err()
}

func (a *Archive) closeFiles() {
	if a.results != nil {
		a.results.Close()
	}
	if a.ckpt != nil {
		a.ckpt.Close()
	}
}

// State is the final state once the archive is closed.
func (a *Archive) State() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status.State
}

// writeBanners stores each raw response as
// artifacts/banners/<ip>-<port>-<probe>.bin (once per port).
func (a *Archive) writeBanners(s *fingerprint.Service) {
	if a.opt.NoBanners {
		return
	}
	ex := s.Exchanges()
	if len(ex) == 0 {
		return
	}
	k := ServiceKey(s)
	a.mu.Lock()
	if a.banners[k] {
		a.mu.Unlock()
		return
	}
	a.banners[k] = true
	a.mu.Unlock()
	dir := filepath.Join(a.opt.Workspace.ScanDir(a.opt.ID), BannersDir)
	used := map[string]int{}
	for _, x := range ex {
		if len(x.Response) == 0 {
			continue
		}
		probe := x.Probe
		if x.TLS {
			probe = "tls-" + probe
		}
		name := BannerName(s.Host, s.Port, probe)
		if s.Transport == "udp" {
			name = BannerName(s.Host, s.Port, "udp-"+probe)
		}
		if n := used[name]; n > 0 {
			name = strings.TrimSuffix(name, ".bin") + "-" + strconv.Itoa(n+1) + ".bin"
		}
		used[name]++
		if err := os.WriteFile(filepath.Join(dir, name), x.Response, 0o644); err != nil {
			a.bannerErrs.Add(1)
		}
	}
}

// BannerName is the artifact file name of one response: the address
// (IPv6 colons as '_'), the port and the probe name, with anything but
// letters, digits, '.', '_' and '-' replaced by '_'.
func BannerName(host string, port int, probe string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
				return r
			}
			return '_'
		}, s)
	}
	if probe == "" {
		probe = "NULL"
	}
	if len(probe) > 64 {
		probe = probe[:64]
	}
	return clean(host) + "-" + strconv.Itoa(port) + "-" + clean(probe) + ".bin"
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

func sortStages(s []StageTiming) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].Name < s[j-1].Name; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// CommitMarker is the record CommitStage adds after a host's stage
// records: the Archive writes the host's group when it sees it, and never
// writes or forwards the marker itself.
type CommitMarker struct{ Host string }

func (m *CommitMarker) RecordType() string { return "workspace-commit" }
func (m *CommitMarker) RecordHost() string { return m.Host }

// CommitStage is the last pipeline stage when archiving: it marks the end
// of a host's records.
type CommitStage struct{}

func (CommitStage) Name() string { return "workspace" }

func (CommitStage) Host(_ context.Context, h scan.HostRecord, _ []*fingerprint.Service, _ []scan.Record) []scan.Record {
	return []scan.Record{&CommitMarker{Host: h.Host}}
}

func sortedHosts(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for h := range m {
		out = append(out, h)
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

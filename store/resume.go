package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

// ResumeState is what a killed scan left: the records already archived and
// the services identified but not yet released. `portrait scan --resume`
// runs the same request again and uses it to
//   - leave out the hosts that were finished (their host record is archived),
//   - drop the ports whose service (or closed/filtered verdict) is archived
//     or checkpointed, so they are not fingerprinted again (Filter),
//   - write no record twice (the Archive skips the archived keys),
//   - hand the stages the host's archived services with the new ones
//     (WrapStages), so per-host findings see the whole host.
type ResumeState struct {
	Results   *Results
	Status    *Status
	DoneHosts map[string]bool
	Ports     map[Key]bool // port records archived
	Services  map[Key]bool // service records archived
	// skip is every port settled in the archive; read-only after load (the
	// port scan's goroutines read it).
	skip map[Key]bool
	// pending are checkpointed services not in results.jsonl, by host.
	pending map[string][]*fingerprint.Service
	// byHost are every archived or checkpointed service, by host (for the
	// stages); archived only the ones in results.jsonl.
	byHost   map[string][]*fingerprint.Service
	archived map[string][]*fingerprint.Service
}

// ErrComplete is returned when resuming a scan that already finished.
var ErrComplete = errors.New("scan already complete")

// LoadResume reads a scan's archive for a resume.
func (w *Workspace) LoadResume(id string) (*ResumeState, error) {
	res, err := w.Results(id)
	if err != nil {
		return nil, err
	}
	if res.Complete() {
		return nil, fmt.Errorf("%w: %s (its results are in %s)", ErrComplete, id, w.Path(id, ResultsFile))
	}
	st, err := w.Status(id)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if st != nil && st.State == StateRunning && processAlive(st.PID) && st.PID != os.Getpid() {
		return nil, fmt.Errorf("scan %s is still running (pid %d)", id, st.PID)
	}
	r := &ResumeState{Results: res, Status: st, DoneHosts: map[string]bool{}, Ports: map[Key]bool{},
		Services: map[Key]bool{}, skip: map[Key]bool{}, pending: map[string][]*fingerprint.Service{},
		byHost: map[string][]*fingerprint.Service{}, archived: map[string][]*fingerprint.Service{}}
	// A host record is written with its stage records (CommitMarker), so a
	// host record in the file means the host is finished.
	for _, h := range res.Hosts {
		r.DoneHosts[h.Host] = true
	}
	for _, p := range res.Ports {
		k := PortKey(p)
		r.Ports[k] = true
		// A closed or filtered verdict (--report-closed) carries no service.
		if p.State != "open" {
			r.skip[k] = true
		}
	}
	for _, s := range res.Services {
		k := ServiceKey(s)
		r.Services[k] = true
		r.skip[k] = true
		r.byHost[s.Host] = append(r.byHost[s.Host], s)
		r.archived[s.Host] = append(r.archived[s.Host], s)
	}
	ck, err := ReadResultsFile(w.Path(id, CheckpointFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if ck != nil {
		seen := map[Key]bool{}
		for _, s := range ck.Services {
			k := ServiceKey(s)
			if r.Services[k] || seen[k] || r.DoneHosts[s.Host] {
				continue
			}
			seen[k] = true
			r.skip[k] = true
			r.pending[s.Host] = append(r.pending[s.Host], s)
			r.byHost[s.Host] = append(r.byHost[s.Host], s)
		}
	}
	return r, nil
}

// Skip tells whether a port verdict from the resumed port scan is already
// settled in the archive and must not go through the pipeline again.
func (r *ResumeState) Skip(p scan.PortRecord) bool {
	return r.DoneHosts[p.Host] || r.skip[PortKey(p)]
}

// Skippable counts the ports the resume will not scan again.
func (r *ResumeState) Skippable() int { return len(r.skip) }

// DoneHostList lists the finished hosts (for the target exclusions).
func (r *ResumeState) DoneHostList() []string {
	out := make([]string, 0, len(r.DoneHosts))
	for h := range r.DoneHosts {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

func (r *ResumeState) takePending(host string) []*fingerprint.Service {
	s := r.pending[host]
	delete(r.pending, host)
	return s
}

func (r *ResumeState) pendingHosts() []string {
	hosts := make([]string, 0, len(r.pending))
	for h := range r.pending {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}

// FilterPortScan wraps a port scan so that verdicts already archived are
// dropped (neither recorded nor fingerprinted again) and finished hosts'
// summaries are not repeated. The port scan itself runs in full: port
// verdicts cost little next to fingerprints, and the scanner's host
// summaries stay right.
func (r *ResumeState) FilterPortScan(ps scan.PortScanFunc) scan.PortScanFunc {
	return func(ctx context.Context, onPort func(scan.PortRecord), onHost func(scan.HostRecord)) error {
		return ps(ctx, func(p scan.PortRecord) {
			if r.Skip(p) {
				return
			}
			onPort(p)
		}, func(h scan.HostRecord) {
			if r.DoneHosts[h.Host] {
				return
			}
			onHost(h)
		})
	}
}

// ArchivedServices are the services of host that the resume will not
// identify again.
func (r *ResumeState) ArchivedServices(host string) []*fingerprint.Service { return r.byHost[host] }

// TimedStage wraps a stage to add the archived services of the host (on a
// resume; r may be nil) and to time it into the archive's status.
type TimedStage struct {
	scan.Stage
	Resume  *ResumeState
	Archive *Archive
}

// Host runs the wrapped stage.
func (t TimedStage) Host(ctx context.Context, h scan.HostRecord, svcs []*fingerprint.Service, earlier []scan.Record) []scan.Record {
	if t.Resume != nil {
		if old := t.Resume.ArchivedServices(h.Host); len(old) > 0 {
			svcs = append(append([]*fingerprint.Service(nil), old...), svcs...)
		}
	}
	start := time.Now()
	out := t.Stage.Host(ctx, h, svcs, earlier)
	if t.Archive != nil {
		t.Archive.AddStageTime(t.Stage.Name(), time.Since(start))
	}
	return out
}

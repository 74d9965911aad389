package store

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/report"
	"github.com/portrait-scanner/portrait/scan"
)

func svc(host string, port int, name, product string) *fingerprint.Service {
	return &fingerprint.Service{Type: "service", Host: host, Port: port, Transport: "tcp", State: "open", Service: name,
		Product: product, Confidence: 90, Method: "probed"}
}

func port(host string, n int) scan.PortRecord {
	return scan.PortRecord{Host: host, Port: n, Transport: "tcp", State: "open", Reason: "syn-ack"}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// abandon stops an archive the way kill -9 does, after its last batch
// reached the disk: no End, no final status.
func (a *Archive) abandon() {
	close(a.stop)
	<-a.loopDone
	a.flush()
	a.closeFiles()
}

func newWS(t *testing.T) *Workspace {
	t.Helper()
	ws, err := Open(t.TempDir())
	must(t, err)
	return ws
}

// TestResumeNoLossNoDuplicate kills an archive in the middle of a
// three-host scan and resumes it: every record is there once, and the
// user's output of the resumed run is the whole scan.
func TestResumeNoLossNoDuplicate(t *testing.T) {
	ws := newWS(t)
	id, err := ws.Create(&Request{Args: []string{"127.0.0.1-3"}})
	must(t, err)
	var out1 bytes.Buffer
	a, err := NewArchive(context.Background(), ArchiveOptions{Workspace: ws, ID: id, Inner: report.NewJSONL(&out1)})
	must(t, err)
	A, B, C := "127.0.0.1", "127.0.0.2", "127.0.0.3"
	must(t, a.Begin(scan.Meta{Scanner: "portrait test", Targets: []string{"127.0.0.1-3"}, Ports: 100}))
	// Host A: finished, with a stage record.
	must(t, a.Port(port(A, 22)))
	a.Identified(svc(A, 22, "ssh", "OpenSSH"))
	must(t, a.Service(svc(A, 22, "ssh", "OpenSSH")))
	must(t, a.Host(scan.HostRecord{Host: A, State: "up", Open: 1, Closed: 99}))
	must(t, a.Record(&RawRecord{Type: "finding", Host: A, Raw: json.RawMessage(`{"type":"finding","host":"127.0.0.1","id":"X-1","severity":"low"}`)}))
	must(t, a.Record(&CommitMarker{Host: A}))
	// Host B: two ports open, one identified (checkpointed), not released.
	must(t, a.Port(port(B, 13)))
	must(t, a.Port(port(B, 7)))
	daytime := svc(B, 13, "daytime", "xinetd")
	daytime.Info = "internal daytime"
	a.Identified(daytime)
	// Host C: its host record was sent but its stages never finished.
	must(t, a.Port(port(C, 80)))
	must(t, a.Service(svc(C, 80, "http", "nginx")))
	must(t, a.Host(scan.HostRecord{Host: C, State: "up", Open: 1}))
	time.Sleep(10 * time.Millisecond)
	a.abandon()
	// A torn line at the end, as a write cut by the kill leaves.
	f, _ := os.OpenFile(ws.Path(id, ResultsFile), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"type":"port","host":"127.0.0.9","po`)
	f.Close()

	st, err := ws.Status(id)
	must(t, err)
	if st.State != StateRunning || st.Effective() != StateRunning { // our own pid lives
		t.Fatalf("status after the kill: %s", st.State)
	}
	r, err := ws.LoadResume(id)
	must(t, err)
	if r.Results.Torn == 0 || !r.DoneHosts[A] || r.DoneHosts[B] || r.DoneHosts[C] {
		t.Fatalf("resume state: torn %d, done %v", r.Results.Torn, r.DoneHosts)
	}
	// The resumed port scan reports every port again: the settled ones are dropped.
	var passed []string
	ps := r.FilterPortScan(func(ctx context.Context, onPort func(scan.PortRecord), onHost func(scan.HostRecord)) error {
		for _, p := range []scan.PortRecord{port(A, 22), port(B, 13), port(B, 7), port(C, 80), port(C, 443)} {
			onPort(p)
		}
		onHost(scan.HostRecord{Host: A, State: "up"})
		return nil
	})
	ps(context.Background(), func(p scan.PortRecord) { passed = append(passed, p.Host+":"+itoa(p.Port)) }, func(h scan.HostRecord) { passed = append(passed, "host "+h.Host) })
	// C:80's service was archived before the kill: settled too.
	if strings.Join(passed, " ") != "127.0.0.2:7 127.0.0.3:443" {
		t.Errorf("passed to the pipeline: %v", passed)
	}

	var out2 bytes.Buffer
	a2, err := NewArchive(context.Background(), ArchiveOptions{Workspace: ws, ID: id, Inner: report.NewJSONL(&out2), Resume: r})
	must(t, err)
	must(t, a2.Begin(scan.Meta{Scanner: "portrait test"}))
	must(t, a2.Port(port(B, 7)))
	echo := svc(B, 7, "echo", "") // named xinetd by correlation with the checkpointed daytime
	must(t, a2.Service(echo))
	must(t, a2.Host(scan.HostRecord{Host: B, State: "up", Open: 2}))
	must(t, a2.Record(&CommitMarker{Host: B}))
	must(t, a2.Port(port(C, 80)))
	must(t, a2.Port(port(C, 443)))
	must(t, a2.Service(svc(C, 80, "http", "nginx")))
	must(t, a2.Service(svc(C, 443, "http", "nginx")))
	must(t, a2.Host(scan.HostRecord{Host: C, State: "up", Open: 2}))
	must(t, a2.Record(&RawRecord{Type: "finding", Host: C, Raw: json.RawMessage(`{"type":"finding","host":"127.0.0.3","id":"X-2"}`)}))
	must(t, a2.Record(&CommitMarker{Host: C}))
	must(t, a2.End(scan.Meta{Scanner: "portrait test", Hosts: 2, Open: 3}))

	res, err := ws.Results(id)
	must(t, err)
	if !res.Complete() || res.Torn != 0 {
		t.Fatalf("complete %v, torn %d", res.Complete(), res.Torn)
	}
	count := map[string]int{}
	for _, x := range res.Order {
		switch v := x.(type) {
		case scan.PortRecord:
			count["port "+v.Host+":"+itoa(v.Port)]++
		case *fingerprint.Service:
			count["service "+v.Host+":"+itoa(v.Port)]++
		case scan.HostRecord:
			count["host "+v.Host]++
		case *RawRecord:
			count[v.Type+" "+v.Host]++
		}
	}
	want := []string{"port 127.0.0.1:22", "service 127.0.0.1:22", "host 127.0.0.1", "finding 127.0.0.1",
		"port 127.0.0.2:13", "port 127.0.0.2:7", "service 127.0.0.2:13", "service 127.0.0.2:7", "host 127.0.0.2",
		"port 127.0.0.3:80", "port 127.0.0.3:443", "service 127.0.0.3:80", "service 127.0.0.3:443", "host 127.0.0.3", "finding 127.0.0.3"}
	for _, k := range want {
		if count[k] != 1 {
			t.Errorf("%s: %d records, want 1", k, count[k])
		}
	}
	if len(count) != len(want) {
		t.Errorf("records %v", count)
	}
	if m := res.End; m.Hosts != 3 || m.Open != 5 {
		t.Errorf("scan-end counts: %d hosts, %d open (want 3, 5)", m.Hosts, m.Open)
	}
	if s := res.ServiceMap()[Key{B, "tcp", 7}]; s.Product != "xinetd" {
		t.Errorf("echo not correlated with the checkpointed daytime: %+v", s)
	}
	// The resumed run's output is the whole scan, once.
	lines := strings.Split(strings.TrimSpace(out2.String()), "\n")
	if len(lines) != len(res.Order) {
		t.Errorf("resumed output has %d records, the archive %d", len(lines), len(res.Order))
	}
	st, _ = ws.Status(id)
	if st.State != StateDone || len(st.Runs) != 2 || st.Runs[0].State != "killed" || !st.Runs[1].Resumed {
		t.Errorf("status %+v", st)
	}
	if _, err := os.Stat(ws.Path(id, CheckpointFile)); !os.IsNotExist(err) {
		t.Error("checkpoint left behind")
	}
	if _, err := ws.LoadResume(id); err == nil {
		t.Error("a finished scan was resumable")
	}
}

func TestInterruptedAndFailed(t *testing.T) {
	ws := newWS(t)
	id, _ := ws.Create(&Request{})
	ctx, cancel := context.WithCancel(context.Background())
	a, err := NewArchive(ctx, ArchiveOptions{Workspace: ws, ID: id, Inner: report.NewJSONL(&bytes.Buffer{})})
	must(t, err)
	a.Begin(scan.Meta{})
	a.Port(port("127.0.0.1", 22))
	a.Host(scan.HostRecord{Host: "127.0.0.1", State: "up"})
	cancel()
	must(t, a.End(scan.Meta{}))
	res, _ := ws.Results(id)
	st, _ := ws.Status(id)
	if res.Complete() || st.State != StateInterrupted || !st.Resumable() || len(res.Hosts) != 0 {
		t.Errorf("interrupted: complete %v, state %s, hosts %d (the host's stages never ran)", res.Complete(), st.State, len(res.Hosts))
	}
	id2, _ := ws.Create(&Request{})
	a, _ = NewArchive(context.Background(), ArchiveOptions{Workspace: ws, ID: id2, Inner: report.NewJSONL(&bytes.Buffer{})})
	a.Begin(scan.Meta{})
	a.PortScanFailed(os.ErrDeadlineExceeded)
	a.End(scan.Meta{})
	st, _ = ws.Status(id2)
	if st.State != StateFailed || len(st.Errors) == 0 {
		t.Errorf("failed scan: %+v", st)
	}
}

func TestBanners(t *testing.T) {
	ws := newWS(t)
	id, _ := ws.Create(&Request{})
	a, _ := NewArchive(context.Background(), ArchiveOptions{Workspace: ws, ID: id, Inner: report.NewJSONL(&bytes.Buffer{})})
	if got := BannerName("::1", 22, "tls:GetRequest/x"); got != "__1-22-tls_GetRequest_x.bin" {
		t.Errorf("banner name %q", got)
	}
	a.Begin(scan.Meta{})
	a.End(scan.Meta{})
	ents, _ := os.ReadDir(filepath.Join(ws.ScanDir(id), BannersDir))
	if len(ents) != 0 {
		t.Errorf("banners without services: %v", ents)
	}
}

func TestResolveAndIndex(t *testing.T) {
	ws := newWS(t)
	var ids []string
	for i := 0; i < 3; i++ {
		id := NewID(time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC))
		ids = append(ids, id)
		ws.Create(&Request{ID: id})
		a, _ := NewArchive(context.Background(), ArchiveOptions{Workspace: ws, ID: id, Inner: report.NewJSONL(&bytes.Buffer{})})
		a.Begin(scan.Meta{Targets: []string{"127.0.0.1"}})
		a.Port(port("127.0.0.1", 22))
		s := svc("127.0.0.1", 22, "ssh", "OpenSSH")
		s.Version = "9." + itoa(i)
		a.Service(s)
		a.Host(scan.HostRecord{Host: "127.0.0.1", State: "up", Open: 1})
		a.Record(&CommitMarker{Host: "127.0.0.1"})
		a.End(scan.Meta{Hosts: 1, Open: 1})
	}
	for ref, want := range map[string]string{"latest": ids[2], "latest~2": ids[0], ids[1]: ids[1], "2026010": ""} {
		got, err := ws.Resolve(ref)
		if want == "" {
			if err == nil {
				t.Errorf("ambiguous prefix %q resolved to %s", ref, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	if _, err := ws.Resolve("latest~3"); err == nil {
		t.Error("latest~3 of 3 resolved")
	}
	n, errs, err := ws.Reindex()
	if err != nil || n != 3 || len(errs) != 0 {
		t.Fatalf("reindex: %d %v %v", n, errs, err)
	}
	ix, err := ws.OpenIndex()
	must(t, err)
	defer ix.Close()
	if v, err := ix.Version(); err != nil || v < 1 {
		t.Errorf("schema version %d %v", v, err)
	}
	rows, err := ix.ScanRows(Query{Product: "openssh", Version: "9.1"})
	if err != nil || len(rows) != 1 || rows[0].ID != ids[1] || rows[0].State != StateDone {
		t.Errorf("query: %+v %v", rows, err)
	}
	hist, _ := ix.ServiceHistory("127.0.0.1", 22)
	if len(hist) != 3 || hist[2].Version != "9.2" {
		t.Errorf("history %+v", hist)
	}
	must(t, ws.Remove(ids[0]))
	if rows, _ := ix.ScanRows(Query{}); len(rows) != 2 {
		t.Errorf("%d rows after rm", len(rows))
	}
	// Retention: the newest one kept by max_scans 1; a running scan never goes.
	res, err := ws.GC(Retention{MaxScans: 1}, time.Now(), true)
	if err != nil || len(res.Removed) != 1 || res.Removed[0].ID != ids[1] {
		t.Errorf("gc dry run %+v %v", res, err)
	}
	res, _ = ws.GC(Retention{MaxAge: Age(time.Hour)}, time.Now().Add(2*time.Hour), false)
	if len(res.Removed) != 2 || res.Kept != 0 {
		t.Errorf("gc by age %+v", res)
	}
}

func TestSettingsAndSizes(t *testing.T) {
	ws := newWS(t)
	os.WriteFile(filepath.Join(ws.Dir, SettingsFile), []byte("retention:\n  max_age: 30d\n  max_scans: 10\n  min_free_space: 1.5GiB\nnotifications:\n  channels: []\n"), 0o644)
	s, err := ws.LoadSettings()
	must(t, err)
	if time.Duration(s.Retention.MaxAge) != 30*24*time.Hour || s.Retention.MaxScans != 10 || s.Retention.MinFreeSpace != Size(1.5*(1<<30)) {
		t.Errorf("%+v", s.Retention)
	}
	os.WriteFile(filepath.Join(ws.Dir, SettingsFile), []byte("retention:\n  max_agee: 30d\n"), 0o644)
	if _, err := ws.LoadSettings(); err == nil {
		t.Error("unknown key accepted")
	}
	for in, want := range map[string]int64{"1024": 1024, "500MB": 500e6, "2GiB": 2 << 30, "1.5G": 3 << 29} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d %v", in, got, err)
		}
	}
}

func TestReadResultsHostile(t *testing.T) {
	if _, err := ReadResults(strings.NewReader("not json\n")); err == nil {
		t.Error("garbage accepted")
	}
	if _, err := ReadResults(strings.NewReader(`{"host":"x"}` + "\n")); err == nil {
		t.Error("record without type accepted")
	}
	r, err := ReadResults(strings.NewReader(`{"type":"scan"}` + "\n" + `{"type":"po`))
	if err != nil || r.Torn != 11 || r.Begin == nil {
		t.Errorf("torn tail: %+v %v", r, err)
	}
	big := strings.Repeat("x", maxLine+10)
	if _, err := ReadResults(strings.NewReader(big)); err == nil {
		t.Error("endless line accepted")
	}
}

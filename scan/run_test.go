package scan

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/protocol"
)

type memSink struct{ recs []any }

func (m *memSink) Begin(x Meta) error                   { m.recs = append(m.recs, x); return nil }
func (m *memSink) Host(x HostRecord) error              { m.recs = append(m.recs, x); return nil }
func (m *memSink) Port(x PortRecord) error              { m.recs = append(m.recs, x); return nil }
func (m *memSink) Service(x *fingerprint.Service) error { m.recs = append(m.recs, x); return nil }
func (m *memSink) Record(x Record) error                { m.recs = append(m.recs, x); return nil }
func (m *memSink) Error(x ErrorRecord) error            { m.recs = append(m.recs, x); return nil }
func (m *memSink) End(x Meta) error                     { m.recs = append(m.recs, x); return nil }

// The pipeline fingerprints open ports while the scan runs, emits each
// host's services before its host record, and correlates them.
func TestRunPipeline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("22 NOV 2026 22:15:26 UTC\r\n"))
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	cat := fingerprint.NewCatalog()
	if err := cat.Add(fingerprint.Rule{Name: "xd", Product: "xinetd", Category: "daytime", Service: "daytime",
		Patterns: []fingerprint.Pattern{{Type: "banner", Regex: `^\d\d [A-Z]{3} \d{4}`, Confidence: 80}}}); err != nil {
		t.Fatal(err)
	}
	eng := fingerprint.New(fingerprint.Config{BannerWait: 300 * time.Millisecond, ProbeTimeout: 300 * time.Millisecond}, []protocol.Module{}, cat, nil, nil)
	sink := &memSink{}
	ps := func(ctx context.Context, onPort func(PortRecord), onHost func(HostRecord)) error {
		onPort(PortRecord{Host: "127.0.0.1", Port: port, State: "open", Reason: "syn-ack"})
		onPort(PortRecord{Host: "127.0.0.1", Port: 1, State: "closed", Reason: "conn-refused"})
		onHost(HostRecord{Host: "127.0.0.1", State: "up", Reason: "syn-ack", Open: 1, Closed: 1})
		return nil
	}
	meta, err := Run(context.Background(), Config{PortScan: ps, Engine: eng, Errors: []ErrorRecord{{Target: "x.invalid", Error: "no such host"}}}, sink)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range sink.recs {
		switch v := r.(type) {
		case Meta:
			kinds = append(kinds, "meta")
		case ErrorRecord:
			kinds = append(kinds, "error")
		case PortRecord:
			kinds = append(kinds, "port:"+strconv.Itoa(v.Port))
		case *fingerprint.Service:
			kinds = append(kinds, "service")
			if v.Product != "xinetd" || v.Service != "daytime" {
				t.Errorf("service %+v", v)
			}
		case HostRecord:
			kinds = append(kinds, "host")
		}
	}
	want := []string{"meta", "error", "port:" + strconv.Itoa(port), "service", "host", "meta"}
	if len(kinds) != len(want) {
		t.Fatalf("records %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("records %v, want %v", kinds, want)
		}
	}
	if meta.Open != 1 || meta.Hosts != 1 {
		t.Errorf("meta %+v", meta)
	}
}

// stageFunc is a Stage from a function.
type stageFunc func(h HostRecord, svcs []*fingerprint.Service) []Record

func (stageFunc) Name() string { return "test" }
func (f stageFunc) Host(_ context.Context, h HostRecord, svcs []*fingerprint.Service, _ []Record) []Record {
	return f(h, svcs)
}

// A port the port scan already identified (UDP: from its reply) goes
// through the pipeline like a fingerprinted one: the checkpoint hook, the
// host's later stages, the sink; the engine is not asked again.
func TestRunPreIdentified(t *testing.T) {
	udpSvc := &fingerprint.Service{Type: "service", Host: "127.0.0.1", Port: 161, Transport: "udp", State: "open", Service: "snmp", Product: "net-snmp"}
	ps := func(ctx context.Context, onPort func(PortRecord), onHost func(HostRecord)) error {
		onPort(PortRecord{Host: "127.0.0.1", Port: 161, Transport: "udp", State: "open", Reason: "udp-response", Service: udpSvc})
		onHost(HostRecord{Host: "127.0.0.1", State: "up", Open: 1})
		return nil
	}
	var identified, staged []*fingerprint.Service
	stage := stageFunc(func(_ HostRecord, svcs []*fingerprint.Service) []Record {
		staged = append(staged, svcs...)
		return nil
	})
	sink := &memSink{}
	eng := fingerprint.New(fingerprint.Config{}, []protocol.Module{}, fingerprint.NewCatalog(), nil, nil)
	_, err := Run(context.Background(), Config{PortScan: ps, Engine: eng, Stages: []Stage{stage},
		OnIdentified: func(s *fingerprint.Service) { identified = append(identified, s) }}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if len(identified) != 1 || identified[0] != udpSvc {
		t.Errorf("checkpoint hook got %v", identified)
	}
	if len(staged) != 1 || staged[0] != udpSvc {
		t.Errorf("later stages got %v", staged)
	}
	var services int
	for _, r := range sink.recs {
		switch v := r.(type) {
		case *fingerprint.Service:
			services++
		case PortRecord:
			if v.Service != nil {
				t.Errorf("the port record carries its service into the sink")
			}
		}
	}
	if services != 1 {
		t.Errorf("%d service records, want 1", services)
	}
}

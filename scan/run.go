// Package scan strings the pipeline's stages together: targets → port scan
// → fingerprint → reports. Stages run concurrently: a port is fingerprinted
// as soon as it is found open, while the port scan goes on.
package scan

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// PortScanFunc runs stage 3: it reports each port (open ports at least) and
// each host's summary through the callbacks, which may be called from many
// goroutines.
type PortScanFunc func(ctx context.Context, onPort func(PortRecord), onHost func(HostRecord)) error

// Config is one scan's pipeline.
type Config struct {
	Meta     Meta
	PortScan PortScanFunc
	// Engine fingerprints open ports; nil skips stage 4.
	Engine *fingerprint.Engine
	// FingerprintConcurrency bounds the ports fingerprinted at once (default 64).
	FingerprintConcurrency int
	// Stages run after fingerprinting, per completed host, in order.
	Stages []Stage
	// Errors are reported before the scan starts (names that did not resolve).
	Errors []ErrorRecord
	// ReportClosed emits closed and filtered port records too.
	ReportClosed bool
	Log          *slog.Logger
	// Progress, when set, is called with running totals (for a terminal bar).
	Progress func(p Progress)
	// OnIdentified, when set, sees each service as soon as it is identified,
	// before its host's group is released (the workspace checkpoints it, so
	// that a resumed scan does not fingerprint it again). Called from many
	// goroutines.
	OnIdentified func(*fingerprint.Service)
}

// Progress is a snapshot of a running scan.
type Progress struct {
	PortsDone    int64
	Open         int64
	Fingerprints int64
	Pending      int64
}

// Run executes the scan and streams records into sink. It returns the
// closing metadata; records already produced are delivered even on error.
func Run(ctx context.Context, cfg Config, sink Sink) (Meta, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	meta := cfg.Meta
	meta.Started = start.UTC().Format(time.RFC3339)
	if err := sink.Begin(meta); err != nil {
		return meta, err
	}
	// One goroutine owns the sink: records arrive on out in the order produced.
	out := make(chan any, 256)
	var sinkErr error
	sinkDone := make(chan struct{})
	go func() {
		defer close(sinkDone)
		for r := range out {
			if sinkErr != nil {
				continue
			}
			switch v := r.(type) {
			case HostRecord:
				sinkErr = sink.Host(v)
			case PortRecord:
				sinkErr = sink.Port(v)
			case *fingerprint.Service:
				sinkErr = sink.Service(v)
			case ErrorRecord:
				sinkErr = sink.Error(v)
			case Record:
				sinkErr = sink.Record(v)
			}
		}
	}()

	conc := cfg.FingerprintConcurrency
	if conc <= 0 {
		conc = 64
	}
	var prog Progress
	var hosts, open atomic.Int64
	// Services are held per host until the host's port scan and all its
	// fingerprints are done, so that its ports can explain each other
	// (fingerprint.Correlate). Memory is bounded by the hosts in flight.
	groups := newHostGroups(func(svcs []*fingerprint.Service, h *HostRecord) {
		fingerprint.Correlate(svcs)
		for _, s := range svcs {
			out <- s
		}
		if h != nil {
			out <- *h
			var recs []Record
			for _, st := range cfg.Stages {
				if ctx.Err() != nil {
					break
				}
				recs = append(recs, st.Host(ctx, *h, svcs, recs)...)
			}
			for _, r := range recs {
				out <- r
			}
		}
	})
	fpQueue := make(chan PortRecord, 4096)
	var fpWG sync.WaitGroup
	for i := 0; i < conc; i++ {
		fpWG.Add(1)
		go func() {
			defer fpWG.Done()
			for p := range fpQueue {
				atomic.AddInt64(&prog.Pending, -1)
				addr, err := netip.ParseAddr(p.Host)
				if err != nil || ctx.Err() != nil {
					groups.done(p.Host, nil)
					continue
				}
				svc := cfg.Engine.Identify(ctx, fingerprint.Target{Addr: addr, Hostname: p.Hostname, Port: p.Port})
				if cfg.OnIdentified != nil && svc != nil && ctx.Err() == nil {
					cfg.OnIdentified(svc)
				}
				atomic.AddInt64(&prog.Fingerprints, 1)
				groups.done(p.Host, svc)
			}
		}()
	}

	var progressStop chan struct{}
	if cfg.Progress != nil {
		progressStop = make(chan struct{})
		go func() {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					cfg.Progress(Progress{PortsDone: atomic.LoadInt64(&prog.PortsDone), Open: open.Load(),
						Fingerprints: atomic.LoadInt64(&prog.Fingerprints), Pending: atomic.LoadInt64(&prog.Pending)})
				case <-progressStop:
					return
				}
			}
		}()
	}

	onPort := func(p PortRecord) {
		atomic.AddInt64(&prog.PortsDone, 1)
		if p.State != "open" && !cfg.ReportClosed {
			return
		}
		p.Type = "port"
		if p.Transport == "" {
			p.Transport = "tcp"
		}
		if p.State == "open" {
			open.Add(1)
		}
		svc := p.Service
		p.Service = nil
		out <- p
		if p.State == "open" && svc != nil {
			groups.add(p.Host)
			if cfg.OnIdentified != nil && ctx.Err() == nil {
				cfg.OnIdentified(svc)
			}
			atomic.AddInt64(&prog.Fingerprints, 1)
			groups.done(p.Host, svc)
			return
		}
		if p.State == "open" && cfg.Engine != nil && p.Transport == "tcp" {
			atomic.AddInt64(&prog.Pending, 1)
			groups.add(p.Host)
			fpQueue <- p
		}
	}
	onHost := func(h HostRecord) {
		h.Type = "host"
		if h.State == "up" {
			hosts.Add(1)
		}
		groups.hostDone(h)
	}
	for _, e := range cfg.Errors {
		e.Type = "error"
		out <- e
	}
	err := cfg.PortScan(ctx, onPort, onHost)
	close(fpQueue)
	fpWG.Wait()
	groups.flush()
	if progressStop != nil {
		close(progressStop)
	}
	close(out)
	<-sinkDone
	end := time.Now()
	meta.Finished = end.UTC().Format(time.RFC3339)
	meta.WallTimeS = float64(end.Sub(start).Milliseconds()) / 1000
	meta.Hosts = int(hosts.Load())
	meta.Open = int(open.Load())
	if err2 := sink.End(meta); err == nil {
		err = err2
	}
	if err == nil {
		err = sinkErr
	}
	log.Debug("scan finished", "wall", meta.WallTimeS, "hosts", meta.Hosts, "open", meta.Open)
	return meta, err
}

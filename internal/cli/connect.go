package cli

import (
	"context"
	"fmt"

	"github.com/portrait-scanner/portrait/internal/config"
	"github.com/portrait-scanner/portrait/netscan/connect"
	"github.com/portrait-scanner/portrait/netscan/portspec"
	"github.com/portrait-scanner/portrait/scan"
	"github.com/portrait-scanner/portrait/target"
)

func topPorts(n int) ([]int, error) {
	if n > portspec.TopLen() {
		return nil, fmt.Errorf("--top-ports %d: the ranked list has %d ports (use -p- for all)", n, portspec.TopLen())
	}
	return portspec.Top(n), nil
}

// connectScan adapts the TCP connect scanner to the pipeline's stage 3.
func connectScan(g *globals, o *scanOpts, cf *config.File, set *target.Set, ports []int) (scan.PortScanFunc, error) {
	retries := connect.DefaultRetries
	if cf.Scanner.Retries != nil {
		retries = *cf.Scanner.Retries
	}
	if o.retries >= 0 {
		retries = o.retries
	}
	if retries == 0 {
		retries = -1 // the scanner's "none"
	}
	if o.rate < 0 || cf.Scanner.Rate < 0 {
		return nil, usagef("--rate must not be negative")
	}
	cfg := connect.Config{
		Concurrency:    firstInt(o.concurrency, cf.Scanner.Concurrency),
		PerHost:        firstInt(o.hostConc, cf.Scanner.HostConcurrency),
		Rate:           o.rate,
		Timeout:        firstDur(o.timeout, cf.Scanner.Timeout.Get(0)),
		Retries:        retries,
		ReportClosed:   o.reportClosed,
		ReportFiltered: o.reportClosed,
	}
	if cfg.Rate == 0 {
		cfg.Rate = cf.Scanner.Rate
	}
	return func(ctx context.Context, onPort func(scan.PortRecord), onHost func(scan.HostRecord)) error {
		cfg.OnPort = func(r connect.PortResult) {
			if r.State == connect.Error {
				g.log.Warn("port not probed", "host", r.Addr, "port", r.Port, "err", r.Err)
			}
			onPort(scan.PortRecord{Host: r.Addr.String(), Hostname: r.Name, Port: r.Port, Transport: "tcp",
				State: r.State.String(), Reason: r.Reason, RTTMS: ms(r.RTT.Seconds())})
		}
		cfg.OnHost = func(h connect.HostResult) {
			if h.State == connect.Down {
				g.log.Info("host did not answer", "host", h.Addr, "reason", h.Reason, "skipped", h.Skipped)
			}
			onHost(scan.HostRecord{Host: h.Addr.String(), Hostname: h.Name, State: h.State.String(), Reason: h.Reason,
				RTTMS: ms(h.RTT.Seconds()), Open: h.Open, Closed: h.Closed, Filtered: h.Filtered, Skipped: h.Skipped})
		}
		_, err := connect.Scan(ctx, cfg, set.Iter(), ports)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("port scan: %w", err)
		}
		return nil
	}, nil
}

func ms(sec float64) float64 { return float64(int64(sec*1e6)) / 1000 }

package connect

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/portrait-scanner/portrait/target"
)

// job is one connect attempt.
type job struct {
	h       *host
	port    int
	attempt int // 0 for the first try
	timeout time.Duration
}

// done is a finished attempt.
type done struct {
	job
	v   verdict
	rtt time.Duration
	err error
}

// retryItem is a port waiting for another attempt.
type retryItem struct {
	port    int
	attempt int
}

// host is the scheduler's state for one target in the window.
type host struct {
	t        target.Target
	next     int         // index of the next fresh port
	retry    []retryItem // timed-out ports awaiting another try (bounded by PerHost)
	inflight int
	queued   bool // in the run queue

	answered    bool
	firstReason string
	unreach     string // last unreachable reason seen
	silent      int    // silent attempts while nothing answered
	backoff     bool
	skip        bool

	srtt, rttvar time.Duration
	res          HostResult
	start        time.Time
}

// Scan probes every port of every target and returns the totals. Ports are
// probed in the order given (put the likely ones first: portspec.Top does).
// It returns ctx.Err() when cancelled, after in-flight attempts have ended;
// hosts not finished by then get no HostResult.
func Scan(ctx context.Context, cfg Config, src Source, ports []int) (Summary, error) {
	if len(ports) == 0 {
		return Summary{}, ErrNoPorts
	}
	c := cfg.withDefaults()
	workers := EffectiveConcurrency(cfg)
	// More workers than the window can use would only idle.
	workers = min(workers, c.HostWindow*c.PerHost)
	s := &scheduler{
		cfg:   c,
		src:   src,
		ports: ports,
		jobs:  make(chan job),
		done:  make(chan done, workers),
	}
	if c.Rate > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(c.Rate), c.Burst)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(ctx)
		}()
	}
	err := s.run(ctx)
	close(s.jobs)
	wg.Wait()
	s.sum.Elapsed = time.Since(start)
	s.sum.Concurrency = workers
	return s.sum, err
}

// ScanChan is Scan with the port verdicts sent on out (which it closes when
// the scan ends) instead of a callback. cfg.OnPort, if set, is called too.
func ScanChan(ctx context.Context, cfg Config, src Source, ports []int, out chan<- PortResult) (Summary, error) {
	defer close(out)
	prev := cfg.OnPort
	cfg.OnPort = func(r PortResult) {
		if prev != nil {
			prev(r)
		}
		select {
		case out <- r:
		case <-ctx.Done():
		}
	}
	return Scan(ctx, cfg, src, ports)
}

type scheduler struct {
	cfg     Config
	src     Source
	ports   []int
	limiter *rate.Limiter

	jobs chan job
	done chan done

	runq      ring
	active    int  // hosts in the window
	exhausted bool // src has no more targets
	inflight  int
	sum       Summary
}

// work runs in each worker goroutine.
func (s *scheduler) work(ctx context.Context) {
	for j := range s.jobs {
		s.done <- s.attempt(ctx, j)
	}
}

// attempt makes one connect, retrying local resource failures (out of file
// descriptors or ephemeral ports) a few times with a growing pause: they say
// nothing about the target.
func (s *scheduler) attempt(ctx context.Context, j job) done {
	d := done{job: j}
	pause := 10 * time.Millisecond
	for try := 0; ; try++ {
		if s.limiter != nil {
			if err := s.limiter.Wait(ctx); err != nil {
				d.v, d.err = verdict{Error, ReasonLocalError, canceled, false}, err
				return d
			}
		}
		addr := netip.AddrPortFrom(j.h.t.Addr, uint16(j.port))
		t0 := time.Now()
		err := s.cfg.Dial(ctx, addr, j.timeout)
		d.rtt = time.Since(t0)
		d.v, d.err = classify(err), err
		if ctx.Err() != nil && d.v.kind != answered {
			d.v.kind = canceled
		}
		if d.v.kind != local || try >= 6 {
			return d
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			d.v.kind = canceled
			return d
		}
		pause = min(2*pause, time.Second)
	}
}

// run is the scheduler loop: it alone touches host state, so no locks.
func (s *scheduler) run(ctx context.Context) error {
	var pending *job
	for {
		if pending == nil && ctx.Err() == nil {
			pending = s.next()
		}
		if pending == nil && s.inflight == 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if s.exhausted && s.active == 0 {
				return nil
			}
		}
		var jobs chan job
		var j job
		if pending != nil {
			jobs, j = s.jobs, *pending
		}
		select {
		case jobs <- j:
			s.inflight++
			pending = nil
		case d := <-s.done:
			s.inflight--
			s.complete(d)
		case <-ctx.Done():
			if pending != nil {
				pending.h.inflight--
				pending = nil
			}
			// keep draining in-flight attempts; they end quickly once
			// their dials see the cancelled context.
			for s.inflight > 0 {
				s.inflight--
				<-s.done
			}
			return ctx.Err()
		}
	}
}

// admit pulls targets into the window while it has room.
func (s *scheduler) admit() {
	for !s.exhausted && s.active < s.cfg.HostWindow {
		t, ok := s.src.Next()
		if !ok {
			s.exhausted = true
			return
		}
		h := &host{t: t}
		h.res.Addr, h.res.Name = t.Addr, t.Name
		s.active++
		s.sum.Hosts++
		s.enqueue(h)
	}
}

// next picks the next attempt, round-robin over runnable hosts.
func (s *scheduler) next() *job {
	s.admit()
	for s.runq.len() > 0 {
		h := s.runq.pop()
		h.queued = false
		if !h.hasWork(len(s.ports)) || h.inflight >= s.cfg.PerHost {
			continue
		}
		j := &job{h: h}
		if len(h.retry) > 0 {
			r := h.retry[0]
			h.retry = h.retry[1:]
			if len(h.retry) == 0 {
				h.retry = nil // let the backing array go
			}
			j.port, j.attempt = r.port, r.attempt
		} else {
			j.port = s.ports[h.next]
			h.next++
		}
		j.timeout = s.timeout(h, j.attempt)
		if h.start.IsZero() {
			h.start = time.Now()
		}
		h.inflight++
		s.enqueue(h)
		return j
	}
	return nil
}

func (h *host) hasWork(nports int) bool { return len(h.retry) > 0 || h.next < nports }

// enqueue puts h on the run queue if it can take another attempt.
func (s *scheduler) enqueue(h *host) {
	if !h.queued && h.hasWork(len(s.ports)) && h.inflight < s.cfg.PerHost {
		h.queued = true
		s.runq.push(h)
	}
}

// timeout is the budget for an attempt on h.
func (s *scheduler) timeout(h *host, attempt int) time.Duration {
	c := &s.cfg
	switch {
	case h.backoff && !h.answered:
		return c.BackoffTimeout
	case h.answered:
		t := time.Duration(c.RTTMultiplier*float64(h.srtt)) + 4*h.rttvar
		t = max(min(t, c.Timeout), c.MinTimeout)
		for range attempt {
			t = min(2*t, c.Timeout)
		}
		return t
	}
	return c.Timeout
}

// observe folds an RTT sample into h's estimate (RFC 6298 smoothing).
func (h *host) observe(rtt time.Duration) {
	if !h.answered || h.srtt == 0 {
		h.srtt, h.rttvar = rtt, rtt/2
		return
	}
	diff := h.srtt - rtt
	if diff < 0 {
		diff = -diff
	}
	h.rttvar = (3*h.rttvar + diff) / 4
	h.srtt = (7*h.srtt + rtt) / 8
}

// complete applies a finished attempt.
func (s *scheduler) complete(d done) {
	h := d.h
	h.inflight--
	h.res.Probes++
	s.sum.Probes++
	switch d.v.kind {
	case canceled:
		return
	case answered:
		h.observe(d.rtt)
		if !h.answered {
			h.answered, h.firstReason = true, d.v.reason
		}
		s.final(h, d, d.rtt)
	case silent:
		if d.v.reason != ReasonNoResponse {
			h.unreach = d.v.reason
		}
		if !h.answered {
			h.silent++
			if s.cfg.BackoffAfter > 0 && h.silent >= s.cfg.BackoffAfter {
				h.backoff = true
			}
		}
		if d.v.retry && d.attempt < s.cfg.Retries && !(h.backoff && !h.answered) && !h.skip {
			h.retry = append(h.retry, retryItem{d.port, d.attempt + 1})
		} else {
			s.final(h, d, 0)
		}
		if !h.answered && !h.skip && s.cfg.SkipAfter > 0 && h.silent >= s.cfg.SkipAfter {
			s.skipRest(h)
		}
	default: // local error that persisted
		s.final(h, d, 0)
	}
	s.enqueue(h)
	if !h.hasWork(len(s.ports)) && h.inflight == 0 {
		s.finish(h)
	}
}

// final records a port's verdict and reports it if asked.
func (s *scheduler) final(h *host, d done, rtt time.Duration) {
	r := PortResult{
		Addr: h.t.Addr, Name: h.t.Name, Port: d.port,
		State: d.v.state, Reason: d.v.reason, RTT: rtt, Tries: d.attempt + 1,
	}
	report := false
	switch r.State {
	case Open:
		h.res.Open++
		s.sum.Open++
		report = true
	case Closed:
		h.res.Closed++
		s.sum.Closed++
		report = s.cfg.ReportClosed
	case Filtered:
		h.res.Filtered++
		s.sum.Filtered++
		report = s.cfg.ReportFiltered
	default:
		r.Err = d.err
		h.res.Errors++
		s.sum.Errors++
		report = true
	}
	if report && s.cfg.OnPort != nil {
		s.cfg.OnPort(r)
	}
}

// skipRest gives up on a host that has answered nothing: pending retries
// become filtered verdicts and the untried ports are counted as skipped.
func (s *scheduler) skipRest(h *host) {
	h.skip = true
	for _, r := range h.retry {
		s.final(h, done{job: job{h: h, port: r.port, attempt: r.attempt - 1},
			v: verdict{Filtered, ReasonNoResponse, silent, false}}, 0)
	}
	h.retry = nil
	n := len(s.ports) - h.next
	h.res.Skipped += n
	s.sum.Skipped += n
	h.next = len(s.ports)
}

// finish reports a host whose ports are all decided and frees its slot.
func (s *scheduler) finish(h *host) {
	s.active--
	r := &h.res
	r.RTT = h.srtt
	if !h.start.IsZero() {
		r.Duration = time.Since(h.start)
	}
	switch {
	case h.answered:
		r.State, r.Reason = Up, h.firstReason
		s.sum.Up++
	default:
		r.State = Down
		s.sum.Down++
		switch {
		case h.unreach != "":
			r.Reason = h.unreach
		case r.Filtered+r.Skipped > 0:
			r.Reason = ReasonAllFiltered
		default:
			r.Reason = ReasonLocalError
		}
	}
	if s.cfg.OnHost != nil {
		s.cfg.OnHost(*r)
	}
}

// ring is a growable FIFO of hosts.
type ring struct {
	buf        []*host
	head, size int
}

func (r *ring) len() int { return r.size }

func (r *ring) push(h *host) {
	if r.size == len(r.buf) {
		nb := make([]*host, max(16, 2*len(r.buf)))
		for i := range r.size {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = h
	r.size++
}

func (r *ring) pop() *host {
	h := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return h
}

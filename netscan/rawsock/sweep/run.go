package sweep

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/portrait-scanner/portrait/target"
)

// Dropper is implemented by transports that can tell how many packets the
// kernel dropped before they were read (cumulative). The sweep slows down
// and adds a round when the count grows.
type Dropper interface {
	Drops() uint64
}

// batchMax is the most probes handed to the transport at once.
const batchMax = 128

// Run sends every probe and returns once all blocks are done (or ctx is
// cancelled: then it returns ctx.Err() and hosts not finished get no
// HostResult). Callbacks have all returned when Run returns.
func (s *Sweep) Run(ctx context.Context, src Source, tr Transport) (Summary, error) {
	start := time.Now()
	emitted := make(chan struct{})
	go s.emit(emitted)
	blocks := make(chan *block)
	lctx, cancelLoad := context.WithCancel(ctx)
	go s.load(lctx, src, blocks)
	err := s.loop(ctx, tr, blocks)
	cancelLoad()
	for range blocks { // let the loader end
	}
	close(s.out)
	<-emitted
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sum.Elapsed = time.Since(start)
	return s.sum, err
}

func (s *Sweep) emit(done chan struct{}) {
	defer close(done)
	for ev := range s.out {
		switch {
		case ev.port != nil && s.cfg.OnPort != nil:
			s.cfg.OnPort(*ev.port)
		case ev.host != nil && s.cfg.OnHost != nil:
			s.cfg.OnHost(*ev.host)
		case ev.dark != nil && s.cfg.OnDark != nil:
			s.cfg.OnDark(*ev.dark)
		}
	}
}

// load cuts the target stream into blocks. Targets are pulled by a helper
// goroutine so that a slow source (discovery feeding live hosts) never
// stalls the sender: a block starts with whatever arrived, after a short
// linger.
func (s *Sweep) load(ctx context.Context, src Source, blocks chan<- *block) {
	defer close(blocks)
	targets := make(chan target.Target, 1024)
	go func() {
		defer close(targets)
		for {
			t, ok := src.Next()
			if !ok {
				return
			}
			select {
			case targets <- t:
			case <-ctx.Done():
				return
			}
		}
	}()
	np := len(s.cfg.Ports)
	per := max(1, min(s.cfg.MaxBlockHosts, s.cfg.MaxBlockBits/np))
	const linger = 20 * time.Millisecond
	for {
		var ts []target.Target
		select {
		case t, ok := <-targets:
			if !ok {
				return
			}
			ts = append(ts, t)
		case <-ctx.Done():
			return
		}
		timer := time.NewTimer(linger)
	fill:
		for len(ts) < per {
			select {
			case t, ok := <-targets:
				if !ok {
					break fill
				}
				ts = append(ts, t)
				continue
			default:
			}
			select {
			case t, ok := <-targets:
				if !ok {
					break fill
				}
				ts = append(ts, t)
			case <-timer.C:
				break fill
			case <-ctx.Done():
				timer.Stop()
				return
			}
		}
		timer.Stop()
		b := s.newBlock(ts)
		select {
		case blocks <- b:
		case <-ctx.Done():
			return
		}
	}
}

func (s *Sweep) newBlock(ts []target.Target) *block {
	slices.SortFunc(ts, func(a, b target.Target) int { return a.Addr.Compare(b.Addr) })
	ts = slices.CompactFunc(ts, func(a, b target.Target) bool { return a.Addr == b.Addr })
	np := len(s.cfg.Ports)
	b := &block{np: np, hosts: make([]hostState, len(ts))}
	nets := map[netip.Prefix]*subnet{}
	for i, t := range ts {
		h := &b.hosts[i]
		h.addr, h.name = t.Addr, t.Name
		h.unans = int32(np)
		h.skipAt = -1
		k := netKey(t.Addr)
		n := nets[k]
		if n == nil {
			n = &subnet{prefix: k}
			nets[k] = n
			b.nets = append(b.nets, n)
		}
		h.net = n
		if s.cfg.HostInfo != nil {
			if hint := s.cfg.HostInfo(t.Addr); hint.Up {
				h.known, h.reason = true, hint.Reason
				if hint.RTT > 0 {
					h.srtt, h.rvar = hint.RTT, hint.RTT/2
				}
			}
		}
	}
	b.lo, b.hi = b.hosts[0].addr, b.hosts[len(b.hosts)-1].addr
	// Discovery's RTTs seed the scan's estimate, so the first waits are
	// already fitted to the network (UDP scans measure no RTT of their own).
	s.mu.Lock()
	for i := range b.hosts {
		if h := &b.hosts[i]; h.known && h.srtt > 0 && s.srtt == 0 {
			s.observe(h.srtt)
		}
	}
	s.mu.Unlock()
	pairs := len(ts) * np
	b.answered = make([]uint64, (pairs+63)/64)
	if s.cfg.PaceLimited {
		b.sentRound = make([]uint64, (pairs+63)/64)
	}
	b.remaining = pairs
	b.maxRound = s.cfg.Retries
	s.mu.Lock()
	b.perm = newPerm(len(ts), s.rnd)
	s.mu.Unlock()
	return b
}

// wait is the time a round is given for its answers.
func (s *Sweep) waitFor(round int) time.Duration {
	w := s.cfg.Timeout
	if s.srtt > 0 {
		w = s.srtt + 4*s.rvar
		// Answers are timed in whole milliseconds; queueing at high rates
		// adds jitter the estimate has not seen yet.
		w = 2*w + 5*time.Millisecond
	}
	for range round {
		w *= 2
	}
	return max(s.cfg.MinTimeout, min(w, s.cfg.Timeout))
}

// loop is the sender: it alone advances blocks; Answer only marks bits.
func (s *Sweep) loop(ctx context.Context, tr Transport, blocks <-chan *block) error {
	p := newPacer(s.cfg.Rate, s.cfg.Burst)
	batch := make([]Probe, 0, batchMax)
	maxBatch := batchMax
	if s.cfg.Rate > 0 {
		maxBatch = max(1, min(batchMax, s.cfg.Burst))
	}
	exhausted := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := time.Now()
		s.mu.Lock()
		// Advance blocks whose wait is over or that are fully answered.
		var cur *block
		var earliest time.Time
		for i := 0; i < len(s.live); i++ {
			b := s.live[i]
			if !b.sending && (b.remaining == 0 || !now.Before(b.due)) {
				if b.deferred > 0 && b.remaining > 0 {
					// A paced round: another pass over the deferred probes.
					b.sending, b.cursor, b.deferred = true, 0, 0
				} else if b.remaining > 0 && b.round < b.maxRound {
					s.nextRound(b, now)
				} else {
					s.finish(b, now)
					s.live = slices.Delete(s.live, i, i+1)
					i--
					continue
				}
			}
			if b.sending && cur == nil {
				cur = b
			}
			if !b.sending && (earliest.IsZero() || b.due.Before(earliest)) {
				earliest = b.due
			}
		}
		if cur == nil && !exhausted && len(s.live) < s.cfg.MaxLiveBlocks {
			s.mu.Unlock()
			var b *block
			var ok bool
			if len(s.live) == 0 {
				select {
				case b, ok = <-blocks:
				case <-ctx.Done():
					return ctx.Err()
				}
			} else {
				select {
				case b, ok = <-blocks:
				default:
					ok, b = true, nil
				}
			}
			if !ok {
				exhausted = true
				continue
			}
			if b != nil {
				s.mu.Lock()
				b.start, b.sending = time.Now(), true
				b.roundStart = b.start
				s.live = append(s.live, b)
				s.sum.Hosts += len(b.hosts)
				s.mu.Unlock()
				continue
			}
			s.mu.Lock()
		}
		if cur == nil {
			if len(s.live) == 0 && exhausted {
				s.mu.Unlock()
				return nil
			}
			s.mu.Unlock()
			d := 5 * time.Millisecond
			if !earliest.IsZero() {
				d = min(d, max(time.Until(earliest), 0))
			}
			if !exhausted && len(s.live) < s.cfg.MaxLiveBlocks {
				d = min(d, time.Millisecond) // poll for the next block
			}
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-s.wake:
				t.Stop()
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
			continue
		}
		batch = s.fill(cur, batch[:0], maxBatch, now)
		s.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		if dr, ok := tr.(Dropper); ok && p.observeDrops(dr.Drops()) {
			// Answers were lost in our own receive path: the probes of
			// the live blocks deserve another round.
			s.mu.Lock()
			s.sum.Throttles++
			for _, b := range s.live {
				b.maxRound = min(max(b.maxRound, b.round+1), s.cfg.Retries+3)
			}
			s.mu.Unlock()
		}
		if d := p.take(len(batch)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		if err := tr.Send(ctx, batch); err != nil {
			return err
		}
		s.mu.Lock()
		s.sum.Probes += len(batch)
		cur.lastSend = time.Now()
		if !cur.sending && cur.deferred == 0 {
			cur.due = cur.lastSend.Add(s.waitFor(cur.round))
		}
		s.mu.Unlock()
	}
}

// nextRound starts a retry round: hosts that stayed silent (and were not
// found up by discovery) and dark networks get no retries.
func (s *Sweep) nextRound(b *block, now time.Time) {
	b.round++
	b.sending, b.cursor, b.deferred = true, 0, 0
	if b.sentRound != nil {
		clear(b.sentRound)
	}
	// A round's wait has passed: a network that answered none of enough
	// probes is dark now.
	for _, n := range b.nets {
		if n.answers == 0 && s.cfg.DarkAfter > 0 && n.sent >= s.cfg.DarkAfter {
			n.dark = true
		}
	}
	for i := range b.hosts {
		h := &b.hosts[i]
		if h.abandoned || h.unans == 0 {
			continue
		}
		silent := h.answers == 0 && !h.known
		if silent && (h.net.dark || (s.cfg.SkipAfter > 0 && int(h.sent) >= s.cfg.SkipAfter)) {
			s.abandon(b, h, int32(b.np))
			continue
		}
		// ICMP rate limiting: a host whose previous retry round drew new
		// error answers while ports stay unanswered is answering as fast
		// as its limit lets it. From the third round on its probes are
		// paced, starting at the rate the last round achieved, and it
		// gets rounds for as long as they make progress.
		newClosed := h.counts[Closed] - h.closedMark
		h.closedMark = h.counts[Closed]
		if s.cfg.PaceLimited && b.round >= 2 && newClosed > 0 && h.unans > 0 {
			if h.pace == nil {
				rate := float64(newClosed) / max(now.Sub(b.roundStart).Seconds(), 0.05)
				h.pace = newHostPacer(rate)
			}
			b.maxRound = max(b.maxRound, min(b.round+1, s.cfg.Retries+maxPacedRounds))
		}
	}
	b.roundStart = now
	if s.cfg.Log.Enabled(context.Background(), slog.LevelDebug) {
		paced, rate := 0, 0.0
		for i := range b.hosts {
			if p := b.hosts[i].pace; p != nil {
				paced++
				rate = p.rate
			}
		}
		s.cfg.Log.Debug("sweep round", "round", b.round, "of", b.maxRound, "remaining", b.remaining, "paced", paced, "rate", rate)
	}
}

// maxPacedRounds bounds the extra rounds given to rate-limited hosts.
const maxPacedRounds = 12

func (s *Sweep) abandon(b *block, h *hostState, skipAt int32) {
	if h.abandoned {
		return
	}
	h.abandoned = true
	h.skipAt = skipAt
	b.remaining -= int(h.unans)
}

// fill picks the next probes of b's current round.
func (s *Sweep) fill(b *block, batch []Probe, n int, now time.Time) []Probe {
	nh := len(b.hosts)
	total := nh * b.np
	wait := s.waitFor(0)
	for b.cursor < total && len(batch) < n {
		i := b.cursor
		b.cursor++
		j := i / nh
		k := b.perm.at(i % nh)
		h := &b.hosts[k]
		bit := k*b.np + j
		if testBit(b.answered, bit) || h.abandoned {
			continue
		}
		if b.sentRound != nil && testBit(b.sentRound, bit) {
			continue
		}
		if b.round == 0 && h.answers == 0 && !h.known && !h.firstSend.IsZero() && now.Sub(h.firstSend) >= wait {
			n := h.net
			if !n.dark && n.answers == 0 && s.cfg.DarkAfter > 0 && n.sent >= s.cfg.DarkAfter && now.Sub(n.firstSend) >= wait {
				n.dark = true
			}
			if (s.cfg.SkipAfter > 0 && int(h.sent) >= s.cfg.SkipAfter) || (n.dark && int(h.sent) >= s.cfg.DarkHostSkip) {
				s.abandon(b, h, int32(j))
				continue
			}
		}
		if h.pace != nil && b.round > 0 {
			if ok, next := h.pace.allow(b, now, s.waitFor(0)); !ok {
				b.deferred++
				if b.nextToken.IsZero() || next < b.nextToken.Sub(now) {
					b.nextToken = now.Add(next)
				}
				continue
			}
			h.pace.record(bit, now)
		}
		if b.sentRound != nil {
			setBit(b.sentRound, bit)
		}
		if h.firstSend.IsZero() {
			h.firstSend = now
		}
		if h.net.firstSend.IsZero() {
			h.net.firstSend = now
		}
		h.sent++
		h.net.sent++
		if b.round == 0 {
			h.probed0++
		}
		batch = append(batch, Probe{Addr: h.addr, Port: uint16(s.cfg.Ports[j]), Try: uint8(min(b.round, 255))})
	}
	if b.cursor >= total {
		b.sending = false
		due := now
		if b.deferred > 0 {
			// Come back when the first paced host has a token again.
			due = now.Add(5 * time.Millisecond)
			if b.nextToken.After(due) {
				due = b.nextToken
			}
			b.nextToken = time.Time{}
		} else {
			due = now.Add(s.waitFor(b.round))
		}
		b.due = due
	}
	return batch
}

// Answer records a reply. It is safe to call from any goroutine; replies
// to probes of finished blocks, duplicates and strays are counted and
// dropped.
func (s *Sweep) Answer(a Answer) {
	pi := int(s.portIdx[a.Port])
	if pi < 0 || a.Verdict == None || a.Verdict >= nVerdicts {
		return
	}
	s.mu.Lock()
	var b *block
	k := -1
	for _, lb := range s.live {
		if k = lb.find(a.Addr); k >= 0 {
			b = lb
			break
		}
	}
	if b == nil {
		s.sum.Strays++
		s.mu.Unlock()
		return
	}
	h := &b.hosts[k]
	bit := k*b.np + pi
	if testBit(b.answered, bit) {
		s.sum.Duplicates++
		s.mu.Unlock()
		return
	}
	setBit(b.answered, bit)
	s.sum.Answers++
	if a.RTT > 0 {
		s.observe(a.RTT)
		h.observe(a.RTT)
	}
	first := false
	if a.FromHost {
		first = h.answers == 0
		h.answers++
		h.net.answers++
		h.net.dark = false
		if h.reason == "" {
			h.reason = a.Reason
		}
	} else {
		h.unreach = a.Reason
	}
	h.counts[a.Verdict]++
	if !h.abandoned {
		h.unans--
		b.remaining--
		if first && s.cfg.AnyAnswer {
			s.abandon(b, h, int32(b.np))
		}
		if b.remaining == 0 {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}
	report := a.Verdict == Open || a.Verdict == Closed && s.cfg.ReportClosed || a.Verdict != Closed && s.cfg.ReportFiltered
	var r *Result
	if report {
		r = &Result{Addr: h.addr, Name: h.name, Port: int(a.Port), Verdict: a.Verdict, Reason: a.Reason,
			RTT: a.RTT, Tries: b.round + 1, Probe: a.Probe, HostFirst: first}
		if len(a.Data) > 0 {
			r.Data = append([]byte(nil), a.Data...)
		}
	}
	s.mu.Unlock()
	if r != nil {
		s.out <- event{port: r}
	}
}

// observe folds an RTT sample into the scan's estimate (RFC 6298).
func (s *Sweep) observe(rtt time.Duration) {
	if s.srtt == 0 {
		s.srtt, s.rvar = rtt, rtt/2
		return
	}
	d := s.srtt - rtt
	if d < 0 {
		d = -d
	}
	s.rvar = (3*s.rvar + d) / 4
	s.srtt = (7*s.srtt + rtt) / 8
}

func (h *hostState) observe(rtt time.Duration) {
	if h.srtt == 0 {
		h.srtt, h.rvar = rtt, rtt/2
		return
	}
	d := h.srtt - rtt
	if d < 0 {
		d = -d
	}
	h.rvar = (3*h.rvar + d) / 4
	h.srtt = (7*h.srtt + rtt) / 8
}

// finish reports a block's silent ports, hosts and dark networks. Called
// with s.mu held; the events go out after the port results already queued.
func (s *Sweep) finish(b *block, now time.Time) {
	var evs []event
	for _, n := range b.nets {
		if n.answers == 0 && (n.dark || n.sent >= s.cfg.DarkAfter && s.cfg.DarkAfter > 0) {
			n.dark = true
		}
	}
	for i := range b.hosts {
		h := &b.hosts[i]
		hr := HostResult{Addr: h.addr, Name: h.name, Probes: int(h.sent), RTT: h.srtt}
		if !h.firstSend.IsZero() {
			hr.Duration = now.Sub(h.firstSend)
		}
		silent := 0
		for j := 0; j < b.np; j++ {
			bit := i*b.np + j
			if testBit(b.answered, bit) {
				continue
			}
			if h.abandoned && !probedPort(b, h, j) {
				hr.Skipped++
				continue
			}
			silent++
			if s.cfg.ReportFiltered {
				evs = append(evs, event{port: &Result{Addr: h.addr, Name: h.name, Port: s.cfg.Ports[j],
					Verdict: s.cfg.Silent, Reason: ReasonNoResponse, Tries: b.round + 1}})
			}
		}
		hr.Open = int(h.counts[Open])
		hr.Closed = int(h.counts[Closed])
		hr.Filtered = int(h.counts[Filtered])
		hr.OpenFiltered = int(h.counts[OpenFiltered])
		if s.cfg.Silent == OpenFiltered {
			hr.OpenFiltered += silent
		} else {
			hr.Filtered += silent
		}
		switch {
		case h.answers > 0 || h.known:
			hr.Up, hr.Reason = true, h.reason
			s.sum.Up++
		case h.unreach != "":
			hr.Reason = h.unreach
			s.sum.Down++
		case h.net.dark:
			hr.Reason = ReasonDarkNet
			s.sum.Down++
		default:
			hr.Reason = ReasonNoResponse
			s.sum.Down++
		}
		h.net.skipped += hr.Skipped
		s.sum.Open += hr.Open
		s.sum.Closed += hr.Closed
		s.sum.Filtered += hr.Filtered
		s.sum.OpenFiltered += hr.OpenFiltered
		s.sum.Skipped += hr.Skipped
		evs = append(evs, event{host: &hr})
	}
	for _, d := range mergeDark(b.nets) {
		s.sum.DarkNets++
		s.cfg.Log.Info("dark network: no answer to any probe; its hosts were backed off",
			"network", d.Prefix.String(), "probes", d.Probes, "skipped", d.Skipped)
		evs = append(evs, event{dark: &d})
	}
	// Hand over without holding the lock (the emitter may be slow).
	s.mu.Unlock()
	for _, ev := range evs {
		s.out <- ev
	}
	s.mu.Lock()
}

// probedPort says whether port index j of an abandoned host was probed:
// in round 0 ports go out in index order, so the ones before skipAt were.
func probedPort(b *block, h *hostState, j int) bool {
	if h.skipAt < 0 || h.skipAt >= int32(b.np) {
		return true
	}
	return j < int(h.skipAt)
}

// mergeDark joins adjacent dark /24s into the largest aligned prefixes.
func mergeDark(nets []*subnet) []Dark {
	var ds []Dark
	for _, n := range nets {
		if !n.dark || n.reported {
			continue
		}
		n.reported = true
		d := Dark{Prefix: n.prefix, Probes: n.sent, Skipped: n.skipped}
		// Merge with the previous one while they form a larger aligned block.
		for len(ds) > 0 {
			last := ds[len(ds)-1]
			if last.Prefix.Bits() != d.Prefix.Bits() || last.Prefix.Bits() == 0 {
				break
			}
			parent, _ := last.Prefix.Addr().Prefix(last.Prefix.Bits() - 1)
			if parent.Addr() != last.Prefix.Addr() || !parent.Contains(d.Prefix.Addr()) {
				break
			}
			ds = ds[:len(ds)-1]
			d = Dark{Prefix: parent, Probes: last.Probes + d.Probes, Skipped: last.Skipped + d.Skipped}
		}
		ds = append(ds, d)
	}
	return ds
}

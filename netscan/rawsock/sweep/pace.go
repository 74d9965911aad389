package sweep

import "time"

// pacer is the scan-wide token bucket. Its rate is the configured one
// (0: none) until the transport reports packets the kernel dropped before
// we could read them (our own receive path overloaded: a busy CPU, a
// burst faster than the reader): then the rate is halved, and it grows
// back by a tenth every quiet 100ms, so the limit holds under load
// instead of turning answers into losses.
type pacer struct {
	max                 float64 // configured rate; 0 = none
	rate                float64 // effective rate; 0 = none
	burst, tokens       float64
	last                time.Time
	sent                int       // probes since window start
	window, lastDrop    time.Time // measurement window; last cut
	drops               uint64
	measured, dropLevel float64
}

func newPacer(rate float64, burst int) *pacer {
	if rate > 0 && burst <= 0 {
		burst = 16
	}
	return &pacer{max: rate, rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// take spends n tokens and returns how long to wait before sending them.
// Tokens never pile up beyond the burst, so a stall (a busy CPU) is not
// followed by a flood: the limit holds under load.
func (p *pacer) take(n int) time.Duration {
	now := time.Now()
	if p.window.IsZero() {
		p.window = now
	}
	p.sent += n
	if el := now.Sub(p.window); el >= 100*time.Millisecond {
		p.measured = float64(p.sent) / el.Seconds()
		p.sent, p.window = 0, now
		p.recover(now)
	}
	if p.rate <= 0 {
		return 0
	}
	if !p.last.IsZero() {
		p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	p.last = now
	p.tokens -= float64(n)
	if p.tokens >= 0 {
		return 0
	}
	return time.Duration(-p.tokens / p.rate * float64(time.Second))
}

// observeDrops folds in the transport's cumulative receive drops; it
// reports whether new ones appeared.
func (p *pacer) observeDrops(total uint64) bool {
	if total <= p.drops {
		return false
	}
	p.drops = total
	now := time.Now()
	if now.Sub(p.lastDrop) < 50*time.Millisecond {
		return true // one cut per burst of drops
	}
	p.lastDrop = now
	cur := p.rate
	if cur <= 0 {
		cur = max(p.measured, 10000)
		p.dropLevel = cur
	}
	p.rate = max(cur/2, 1000)
	if p.burst < 16 {
		p.burst = 16
	}
	p.burst = max(16, p.rate/100)
	return true
}

// recover raises a cut rate by a tenth after a quiet window.
func (p *pacer) recover(now time.Time) {
	if p.lastDrop.IsZero() || now.Sub(p.lastDrop) < 100*time.Millisecond || p.rate <= 0 {
		return
	}
	if p.max > 0 && p.rate >= p.max {
		return
	}
	p.rate *= 1.1
	p.burst = max(16, p.rate/100)
	switch {
	case p.max > 0 && p.rate >= p.max:
		p.rate = p.max
	case p.max <= 0 && p.rate >= 2*p.dropLevel:
		p.rate = 0 // back to no cap
	}
}

// hostPacer paces the retries to one rate-limiting host: additive
// increase while its probes are answered, halving when one is not.
type hostPacer struct {
	rate   float64 // probes per second
	tokens float64
	last   time.Time
	cut    time.Time // when the rate was last cut
	recent []paced
}

type paced struct {
	bit int
	at  time.Time
}

func newHostPacer(rate float64) *hostPacer {
	return &hostPacer{rate: min(max(rate, 0.5), 1000), tokens: 1}
}

// allow judges the probes sent at least one wait ago (answered: the rate
// grows by half a probe a second; lost: it drops by 30%), then says whether a token is
// free, and if not, how long until one is.
func (p *hostPacer) allow(b *block, now time.Time, wait time.Duration) (bool, time.Duration) {
	n := 0
	for _, r := range p.recent {
		if now.Sub(r.at) < wait {
			break
		}
		n++
		if testBit(b.answered, r.bit) {
			p.rate = min(p.rate+0.5, 1000)
		} else if r.at.After(p.cut) {
			// One cut per burst of losses (as TCP cuts once per window):
			// the losses of probes sent before the last cut are already
			// paid for.
			p.rate = max(p.rate*0.7, 0.5)
			p.cut = now
		}
	}
	p.recent = p.recent[n:]
	if !p.last.IsZero() {
		p.tokens = min(1, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	p.last = now
	if p.tokens < 1 {
		return false, time.Duration((1 - p.tokens) / p.rate * float64(time.Second))
	}
	p.tokens--
	return true, 0
}

func (p *hostPacer) record(bit int, now time.Time) {
	if len(p.recent) >= 256 {
		p.recent = p.recent[1:]
	}
	p.recent = append(p.recent, paced{bit, now})
}

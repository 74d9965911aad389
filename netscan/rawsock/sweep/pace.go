package sweep

import "time"

// pacer is the scan-wide token bucket.
type pacer struct {
	rate, burst, tokens float64
	last                time.Time
}

func newPacer(rate float64, burst int) *pacer {
	return &pacer{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// take spends n tokens and returns how long to wait before sending them.
// Tokens never pile up beyond the burst, so a stall (a busy CPU) is not
// followed by a flood: the limit holds under load.
func (p *pacer) take(n int) time.Duration {
	if p.rate <= 0 {
		return 0
	}
	now := time.Now()
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

package emulate

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/emulate/personalities"
)

// TestRoundTrip records each shipped personality's emulation with the
// recorder and compares the two personalities: the emulator must answer
// the whole test set, in every state, as the original did.
func TestRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("records every shipped personality's emulation (about a minute)")
	}
	for _, name := range personalities.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := shipped(t, name)
			addr, _ := serve(t, &Server{P: p, NoDelay: true})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var users []string
			p2, err := Record(ctx, RecordOptions{Target: addr, Protocol: p.Protocol, Name: name, Users: users,
				Timeout: time.Second, LongWait: time.Second, Quiet: 15 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			diffs, compared := diffPersonalities(p, p2)
			for _, d := range diffs {
				t.Error(d)
			}
			t.Logf("%s: %d (state, command class, argument class) answers compared, %d differ", name, compared, len(diffs))
		})
	}
}

// replyText renders a reply for comparison (delays left out: the
// emulation ran with NoDelay).
func replyText(p *Personality, r *Reply) string {
	if r == nil {
		return "<none>"
	}
	body := r.Body
	if r.BodyRef != "" {
		body = p.Bodies[r.BodyRef]
	}
	return fmt.Sprintf("lines=%q raw=%q b64=%q status=%q headers=%q body=%q bodyb64=%q silent=%v close=%v then=%q error=%v",
		r.Lines, r.Raw, r.RawB64, r.Status, r.Headers, body, r.BodyB64, r.Silent, r.Close, r.Then, r.Error)
}

func diffPersonalities(a, b *Personality) ([]string, int) {
	compared := 0
	var out []string
	if x, y := replyText(a, a.Greeting), replyText(b, b.Greeting); x != y {
		out = append(out, fmt.Sprintf("greeting:\n  original  %s\n  emulation %s", x, y))
	}
	if a.SSH != nil && (b.SSH == nil || fmt.Sprint(*a.SSH) != fmt.Sprint(*b.SSH)) {
		out = append(out, fmt.Sprintf("ssh: %+v vs %+v", a.SSH, b.SSH))
	}
	la, lb := a.Limits, b.Limits
	if la.MaxErrors != lb.MaxErrors || la.ErrorCloseWaits != lb.ErrorCloseWaits || replyText(a, la.ErrorClose) != replyText(b, lb.ErrorClose) {
		out = append(out, fmt.Sprintf("limits: %+v vs %+v", la, lb))
	}
	if (a.TLS == nil) != (b.TLS == nil) || a.TLS != nil && (a.TLS.Subject != b.TLS.Subject || a.TLS.Serial != b.TLS.Serial || a.TLS.Key != b.TLS.Key) {
		out = append(out, fmt.Sprintf("tls: %+v vs %+v", a.TLS, b.TLS))
	}
	// Compare what a session would get, state by state: entries merged
	// under "*" or left to their plain twin inside TLS are resolved as
	// the emulator resolves them (the recorder merges by delay too, so the
	// files may group the same answers differently).
	resolve := func(p *Personality, state, cmd, arg string) string {
		states := []string{state, "*"}
		if plain, ok := strings.CutPrefix(state, "tls:"); ok {
			states = []string{state, "tls:*", plain, "*"}
		}
		for _, st := range states {
			for i := range p.Replies {
				e := &p.Replies[i]
				if e.State == st && e.Command == cmd && e.Arg == arg {
					return replyText(p, &e.Reply)
				}
			}
		}
		return "<missing>"
	}
	type key struct{ cmd, arg string }
	keys := map[key]bool{}
	concrete := map[string]bool{}
	for _, p := range []*Personality{a, b} {
		for _, e := range p.Replies {
			keys[key{e.Command, e.Arg}] = true
			if e.State != "*" && e.State != "tls:*" {
				concrete[e.State] = true
			}
		}
	}
	var states []string
	for s := range concrete {
		states = append(states, s)
	}
	if len(states) == 0 {
		states = []string{"*"} // HTTP: one state
	}
	sort.Strings(states)
	var ks []key
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].cmd+ks[i].arg < ks[j].cmd+ks[j].arg })
	exact := func(p *Personality, st string, k key) bool {
		for _, e := range p.Replies {
			if e.State == st && e.Command == k.cmd && e.Arg == k.arg {
				return true
			}
		}
		return false
	}
	for _, st := range states {
		_, mode := lineModeTests[a.Protocol][strings.TrimPrefix(st, "tls:")]
		for _, k := range ks {
			if mode && !exact(a, st, k) && !exact(b, st, k) {
				continue // a mode state (DATA, SASL) has only its own classes
			}
			compared++
			x, y := resolve(a, st, k.cmd, k.arg), resolve(b, st, k.cmd, k.arg)
			if x != y {
				out = append(out, fmt.Sprintf("%s | %s | %s:\n  original  %s\n  emulation %s", st, k.cmd, k.arg, trunc(x, 300), trunc(y, 300)))
			}
		}
	}
	return out, compared
}

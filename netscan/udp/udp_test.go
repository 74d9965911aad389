package udp

import (
	"testing"

	"github.com/portrait-scanner/portrait/netscan/rawsock/sweep"
)

func TestICMPVerdicts(t *testing.T) {
	cases := []struct {
		v6        bool
		typ, code uint8
		v         sweep.Verdict
		reason    string
	}{
		{false, 3, 3, sweep.Closed, ReasonPortUnreach}, {false, 3, 13, sweep.Filtered, ReasonProhibited},
		{false, 3, 1, sweep.Filtered, ReasonHostUnreach}, {false, 3, 0, sweep.Filtered, ReasonNetUnreach},
		{false, 3, 2, sweep.Filtered, ReasonProtoUnreach}, {false, 11, 0, sweep.Filtered, ReasonTimeExceeded},
		{true, 1, 4, sweep.Closed, ReasonPortUnreach}, {true, 1, 1, sweep.Filtered, ReasonProhibited},
		{false, 0, 0, sweep.None, ""}, {false, 5, 1, sweep.None, ""},
	}
	for _, c := range cases {
		v, r := icmpVerdict(c.v6, c.typ, c.code)
		if v != c.v || r != c.reason {
			t.Errorf("v6=%v %d/%d: %s %s, want %s %s", c.v6, c.typ, c.code, v, r, c.v, c.reason)
		}
	}
	for v, want := range map[State]string{Open: "open", Closed: "closed", Filtered: "filtered", OpenFiltered: "open|filtered"} {
		if v.String() != want {
			t.Errorf("%d: %s", v, v)
		}
	}
	if r := portResult(sweep.Result{Verdict: sweep.OpenFiltered}); r.State != OpenFiltered {
		t.Errorf("%+v", r)
	}
}

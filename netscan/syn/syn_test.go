package syn

import (
	"testing"

	"github.com/portrait-scanner/portrait/netscan/connect"
	"github.com/portrait-scanner/portrait/netscan/rawsock/sweep"
)

func TestICMPReasons(t *testing.T) {
	cases := []struct {
		v6        bool
		typ, code uint8
		want      string
	}{
		{false, 3, 0, connect.ReasonNetUnreach}, {false, 3, 1, connect.ReasonHostUnreach}, {false, 3, 2, ReasonProtoUnreach},
		{false, 3, 3, ReasonPortUnreach}, {false, 3, 9, connect.ReasonProhibited}, {false, 3, 13, connect.ReasonProhibited},
		{false, 11, 0, ReasonTimeExceeded}, {true, 1, 0, connect.ReasonNetUnreach}, {true, 1, 1, connect.ReasonProhibited},
		{true, 1, 3, connect.ReasonHostUnreach}, {true, 1, 4, ReasonPortUnreach}, {true, 3, 0, ReasonTimeExceeded},
	}
	for _, c := range cases {
		if got := icmpReason(c.v6, c.typ, c.code); got != c.want {
			t.Errorf("v6=%v %d/%d: %s, want %s", c.v6, c.typ, c.code, got, c.want)
		}
	}
}

func TestResults(t *testing.T) {
	if r := portResult(sweep.Result{Port: 22, Verdict: sweep.Open, Reason: "syn-ack", Tries: 1}); r.State != connect.Open || r.Reason != "syn-ack" {
		t.Errorf("%+v", r)
	}
	if r := portResult(sweep.Result{Verdict: sweep.Closed}); r.State != connect.Closed {
		t.Errorf("%+v", r)
	}
	if r := portResult(sweep.Result{Verdict: sweep.Filtered}); r.State != connect.Filtered {
		t.Errorf("%+v", r)
	}
	h := hostResult(sweep.HostResult{Up: false, Reason: sweep.ReasonNoResponse, Filtered: 10})
	if h.State != connect.Down || h.Reason != connect.ReasonAllFiltered {
		t.Errorf("%+v", h)
	}
	if h := hostResult(sweep.HostResult{Up: true, Reason: "syn-ack", Open: 1}); h.State != connect.Up || h.Open != 1 {
		t.Errorf("%+v", h)
	}
}

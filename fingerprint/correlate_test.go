package fingerprint

import "testing"

// Ports explain each other: xinetd named on daytime is the product of the
// mute internal services; epmd names the Erlang node on its port. A pinned
// port (nmap's verdict) keeps its answer and gets the inference in its
// stack only.
func TestCorrelate(t *testing.T) {
	daytime := &Service{Port: 13, Service: "daytime", Product: "xinetd", Version: "2.3.15", Confidence: 90}
	echo := &Service{Port: 7, Service: "echo", Confidence: 90}
	pinnedTime := &Service{Port: 37, Service: "time", pinned: true}
	epmd := &Service{Port: 4369, Service: "epmd", Evidence: map[string]string{"epmd.nodes": "rabbit:25672, other:25999"}}
	node := &Service{Port: 25672, Method: "table", Service: "unknown"}
	pinnedNode := &Service{Port: 25999, pinned: true}
	Correlate([]*Service{daytime, echo, pinnedTime, epmd, node, pinnedNode})

	if echo.Product != "xinetd" || echo.Version != "2.3.15" || echo.Confidence != 60 || len(echo.Stack) != 1 || echo.Stack[0].Sources[0] != "host" {
		t.Errorf("echo %+v", echo)
	}
	if pinnedTime.Product != "" || len(pinnedTime.Stack) != 1 || pinnedTime.Stack[0].Product != "xinetd" {
		t.Errorf("pinned time %+v", pinnedTime)
	}
	if daytime.Product != "xinetd" || len(daytime.Stack) != 0 {
		t.Errorf("the super-server itself changed: %+v", daytime)
	}
	if node.Service != "erlang-dist" || node.Product != "Erlang distribution (RabbitMQ node)" || node.Info != "node rabbit" || node.Confidence != 70 {
		t.Errorf("node %+v", node)
	}
	if pinnedNode.Service != "" || pinnedNode.Product != "" || len(pinnedNode.Stack) != 1 || pinnedNode.Stack[0].Info != "node other" {
		t.Errorf("pinned node %+v", pinnedNode)
	}
}

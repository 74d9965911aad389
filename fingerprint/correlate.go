package fingerprint

import (
	"fmt"
	"strconv"
	"strings"
)

// inetdInternal are the trivial services a super-server (inetd, xinetd)
// answers itself: they say nothing about their implementation on the wire.
var inetdInternal = map[string]bool{"echo": true, "discard": true, "daytime": true, "time": true, "chargen": true}

// Correlate lets the ports of one host explain each other: what one port
// reveals (the super-server behind daytime, the Erlang nodes epmd
// announces) names services that are mute about themselves. Inferred
// products carry a lower confidence and say where the inference came from.
func Correlate(svcs []*Service) {
	var superServer *Service
	nodes := map[int]string{} // port → Erlang node name, from epmd
	for _, s := range svcs {
		if inetdInternal[s.Service] && s.Product != "" && strings.Contains(strings.ToLower(s.Product), "inetd") {
			superServer = s
		}
		if list := s.Evidence["epmd.nodes"]; list != "" {
			for _, ent := range strings.Split(list, ",") {
				name, port, ok := strings.Cut(strings.TrimSpace(ent), ":")
				if p, err := strconv.Atoi(port); ok && err == nil {
					nodes[p] = name
				}
			}
		}
	}
	// What the super-server says about the internal services it answers.
	var inetd *Tech
	if superServer != nil {
		inetd = &Tech{Product: superServer.Product, Version: superServer.Version, Role: "server",
			Confidence: min(superServer.Confidence-20, 60), Sources: []string{"host"},
			Evidence: fmt.Sprintf("%s on port %d of the same host is %s", superServer.Service, superServer.Port, superServer.Product)}
	}
	for _, s := range svcs {
		// nmap's verdict (--nmap-answer only, pinned) is reported as nmap
		// gives it: the inference goes into the stack alone.
		if inetd != nil && s != superServer && inetdInternal[s.Service] {
			switch {
			case s.pinned && !hasProduct(s.Stack, inetd.Product):
				s.Stack = append(s.Stack, *inetd)
			case !s.pinned && s.Product == "":
				s.Product, s.Version, s.Confidence = inetd.Product, inetd.Version, inetd.Confidence
				s.Stack = append(s.Stack, *inetd)
			}
		}
		if name, ok := nodes[s.Port]; ok && s.pinned {
			s.Stack = append(s.Stack, Tech{Product: "Erlang distribution", Role: "server", Confidence: 70, Sources: []string{"host"},
				Info: "node " + name, Evidence: fmt.Sprintf("epmd announces node %q at port %d", name, s.Port)})
			continue
		}
		if name, ok := nodes[s.Port]; ok {
			if s.Service == "" || s.Method == "table" {
				s.Service, s.Method = "erlang-dist", "matched"
			}
			if s.Service == "erlang-dist" {
				if s.Product == "" {
					s.Product = "Erlang distribution"
					s.Confidence = 70
				}
				if name == "rabbit" && !strings.Contains(s.Product, "RabbitMQ") {
					s.Product += " (RabbitMQ node)"
				}
				if s.Info == "" {
					s.Info = "node " + name
				}
				s.Stack = append(s.Stack, Tech{Product: s.Product, Role: "server", Confidence: s.Confidence, Sources: []string{"host"},
					Evidence: fmt.Sprintf("epmd announces node %q at port %d", name, s.Port)})
			}
		}
	}
}

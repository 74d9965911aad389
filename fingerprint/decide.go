package fingerprint

import (
	"sort"
	"strings"
)

// decide is layers 3 and 4: it names the service, runs the rules over the
// merged evidence, scores the matches and keeps every technology.
func (e *Engine) decide(t Target, isTLS bool, ev *evidence) *Service {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	svc := &Service{
		Type: "service", Host: t.Addr.String(), Hostname: t.Hostname, Port: t.Port,
		Transport: "tcp", State: "open", TLS: isTLS, Evidence: boundedEvidence(ev.fields), exchanges: ev.exchanges,
	}
	for _, x := range ev.exchanges {
		if len(x.Response) > 0 {
			name := x.Probe
			if x.TLS {
				name = "tls:" + name
			}
			svc.Probes = append(svc.Probes, name)
		}
	}
	// The protocol: the most confident module; inside TLS beats plaintext
	// (a TLS port's plaintext answers are mostly errors).
	var proto *modResult
	for i := range ev.results {
		r := &ev.results[i]
		if proto == nil || r.tls && !proto.tls || (r.tls == proto.tls && r.confidence > proto.confidence) ||
			(r.tls == proto.tls && r.confidence == proto.confidence && onPort(e.portsOf(r.module), t.Port)) {
			proto = r
		}
	}
	matches := e.catalog.Match(ev.fields)
	techs := mergeMatches(matches)

	// The port's product: the best server-role match that fits the protocol.
	var primary *Tech
	var primaryMatch Match
	for i := range techs {
		tc := &techs[i]
		if tc.Role != "server" && tc.Role != "proxy" {
			continue
		}
		m := techs[i].match
		if proto != nil && !fits(m, proto) {
			continue
		}
		primary, primaryMatch = &tc.Tech, m
		break
	}
	switch {
	case proto != nil:
		svc.Service, svc.Method, svc.Confidence = proto.service, "probed", proto.confidence
	case primary != nil:
		svc.Service, svc.Method, svc.Confidence = firstNonEmpty(primaryMatch.Service, primaryMatch.Category), "matched", primary.Confidence
	}
	if primary != nil {
		if primaryMatch.Service != "" {
			svc.Service = primaryMatch.Service
		}
		svc.Product, svc.Version, svc.Info, svc.CPE = primary.Product, primary.Version, primary.Info, primary.CPE
		svc.Device = primaryMatch.Device
		svc.Confidence = primary.Confidence
		// Ambiguity: another server product of the same protocol almost as sure.
		for i := range techs {
			o := &techs[i]
			if &o.Tech != primary && o.Role == primary.Role && o.Product != primary.Product &&
				o.Confidence >= primary.Confidence-5 && o.match.Category == primaryMatch.Category {
				svc.Confidence -= 10
				break
			}
		}
	}
	// A rule with role "service" names only the protocol (an RTSP status
	// line, a Java RMI ProtocolAck): data probes identify services that have
	// no module this way, with the version and details the answer shows.
	if proto == nil && primary == nil {
		for _, tc := range techs {
			if tc.Role == "service" {
				m := tc.match
				svc.Service, svc.Method, svc.Confidence = firstNonEmpty(m.Service, m.Category), "matched", tc.Confidence
				svc.Version, svc.Info, svc.Device = tc.Version, tc.Info, m.Device
				break
			}
		}
	}
	if svc.Service == "" && isTLS {
		svc.Service, svc.Method, svc.Confidence = "ssl", "probed", 90
	}
	if svc.Service == "" {
		if name := portName(t.Port); name != "" {
			svc.Service, svc.Method, svc.Confidence = name, "table", 30
		}
		for _, x := range ev.exchanges {
			if len(x.Response) > 0 {
				svc.Fingerprint = SF(t.Port, "TCP", ev.exchanges)
				break
			}
		}
	}
	// The OS: the most confident OS hint from any match.
	bestOS := 0
	for _, tc := range techs {
		m := tc.match
		if tc.Role == "os" && tc.Confidence > bestOS {
			svc.OS, bestOS = tc.Product, tc.Confidence
		}
		if m.OS != "" && tc.Confidence-10 > bestOS {
			svc.OS, bestOS = titleOS(m.OS), tc.Confidence-10
		}
	}
	for i := range techs {
		if techs[i].Role == "service" {
			continue // a protocol, not a technology
		}
		svc.Stack = append(svc.Stack, techs[i].Tech)
	}
	if svc.OS != "" && !hasProduct(svc.Stack, svc.OS) {
		svc.Stack = append(svc.Stack, Tech{Product: svc.OS, Role: "os", Confidence: bestOS, Sources: []string{"os-hint"}})
	}
	if isTLS {
		svc.Tunnel = "ssl"
	}
	if svc.Confidence > 100 {
		svc.Confidence = 100
	}
	if svc.Confidence < 0 {
		svc.Confidence = 0
	}
	return svc
}

func hasProduct(stack []Tech, p string) bool {
	for _, t := range stack {
		if strings.EqualFold(t.Product, p) {
			return true
		}
	}
	return false
}

func titleOS(s string) string {
	l := strings.ToLower(s)
	switch l {
	case "debian":
		return "Debian"
	case "ubuntu":
		return "Ubuntu"
	case "linux":
		return "Linux"
	case "windows", "win32", "win64":
		return "Microsoft Windows"
	case "freebsd":
		return "FreeBSD"
	case "centos":
		return "CentOS"
	}
	return s
}

// fits says whether a rule's product belongs on the confirmed protocol: a
// Postfix rule must not name an HTTP port because an error page quoted it.
func fits(m Match, p *modResult) bool {
	if m.Category == "" || m.Category == p.module || m.Category == p.service || m.Service == p.service {
		return true
	}
	// Families whose module name differs from the category wording.
	alias := map[string][]string{
		"http": {"https", "http-proxy", "ipp", "web", "etcd", "etcd-client", "etcd-server"},
		"smb":  {"microsoft-ds", "netbios-ssn"},
		"dns":  {"domain"},
	}
	for _, a := range alias[p.module] {
		if m.Category == a {
			return true
		}
	}
	return false
}

func (e *Engine) portsOf(module string) []int {
	for _, m := range e.modules {
		if m.Info().Name == module {
			return m.Info().Ports
		}
	}
	return nil
}

type scoredTech struct {
	Tech
	match Match
}

// mergeMatches merges matches of one product (sources combined, the highest
// confidence kept) and scores them: +10 when independent sources agree, +5
// when a version is explicit.
func mergeMatches(ms []Match) []scoredTech {
	byProduct := map[string]*scoredTech{}
	var order []string
	for _, m := range ms {
		key := strings.ToLower(m.Product)
		st, ok := byProduct[key]
		if !ok {
			st = &scoredTech{Tech: Tech{Product: m.Product, Role: m.Role, Info: m.Info, Rule: m.Rule}, match: m}
			byProduct[key] = st
			order = append(order, key)
		}
		src := m.Source
		if !contains(st.Sources, src) {
			st.Sources = append(st.Sources, src)
		}
		if m.Confidence > st.Confidence {
			st.Confidence, st.Evidence, st.match, st.Rule = m.Confidence, m.Evidence, m, m.Rule
			if m.Info != "" {
				st.Info = m.Info
			}
		}
		if len(m.Version) > len(st.Version) && (st.Version == "" || strings.HasPrefix(m.Version, st.Version)) {
			st.Version = m.Version
			st.CPE = m.CPE
		}
		if st.CPE == "" {
			st.CPE = m.CPE
		}
		if st.match.Version == "" && m.Version != "" {
			st.match.Version = m.Version
		}
	}
	out := make([]scoredTech, 0, len(order))
	for _, k := range order {
		st := byProduct[k]
		if len(st.Sources) > 1 {
			st.Confidence += 10
		}
		if st.Version != "" {
			st.Confidence += 5
		}
		if st.Confidence > 100 {
			st.Confidence = 100
		}
		out = append(out, *st)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Confidence != out[j].Confidence {
			return out[i].Confidence > out[j].Confidence
		}
		return out[i].Version != "" && out[j].Version == ""
	})
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Limits on the evidence a service record carries. The rules see every
// field whole; the record keeps enough to explain them, so that a hostile
// server (an endless banner answering every probe) cannot bloat reports.
const (
	maxEvidenceField = 8 << 10
	maxEvidenceTotal = 128 << 10
)

func boundedEvidence(fields map[string]string) map[string]string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	// Module fields first (they are short and named), raw answers last.
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := strings.HasPrefix(keys[i], "probe."), strings.HasPrefix(keys[j], "probe.")
		if ri != rj {
			return rj
		}
		return keys[i] < keys[j]
	})
	out := make(map[string]string, len(fields))
	total := 0
	for _, k := range keys {
		v := fields[k]
		if len(v) > maxEvidenceField {
			v = truncateUTF8(v, maxEvidenceField)
		}
		if total+len(v) > maxEvidenceTotal {
			out["evidence.truncated"] = "true"
			break
		}
		total += len(v)
		out[k] = v
	}
	return out
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

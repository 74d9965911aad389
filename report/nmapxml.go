package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/scan"
)

// NmapXML writes the scan as nmap's XML output (-oX), valid against
// nmap.dtd, so that the tools that import nmap scans (ndiff, Metasploit's
// db_import, DefectDojo, Faraday...) read portrait's. The document is
// written at the end: nmap's format groups ports under their host.
//
// The mapping: an up host is a <host> (down hosts are only counted in
// <runstats>, as nmap does without -v); each reported port a <port> with
// its <state> and reason; unreported closed/filtered ports an <extraports>
// count; a service record a <service> with product, version, extrainfo,
// ostype, devicetype, tunnel="ssl" for TLS, conf (confidence/10),
// method (table or probed), servicefp for unknown services and the CPE in
// nmap's CPE 2.2 URI form. The technology stack beyond the main product
// goes into a "portrait-stack" <script>, and the findings of later stages
// into "portrait-finding" host scripts.
type NmapXML struct {
	w io.Writer
	*collector
}

// NewNmapXML returns an nmap XML sink.
func NewNmapXML(w io.Writer) *NmapXML { return &NmapXML{w: w, collector: newCollector()} }

// The XML elements, in the DTD's order.
type xNmapRun struct {
	XMLName          xml.Name    `xml:"nmaprun"`
	Scanner          string      `xml:"scanner,attr"`
	Args             string      `xml:"args,attr,omitempty"`
	Start            string      `xml:"start,attr,omitempty"`
	StartStr         string      `xml:"startstr,attr,omitempty"`
	Version          string      `xml:"version,attr"`
	XMLOutputVersion string      `xml:"xmloutputversion,attr"`
	Verbose          xLevel      `xml:"verbose"`
	Debugging        xLevel      `xml:"debugging"`
	Hosts            []xHost     `xml:"host"`
	RunStats         xRunStats   `xml:"runstats"`
	Comment          xml.Comment `xml:",comment"`
}

type xLevel struct {
	Level string `xml:"level,attr"`
}

type xHost struct {
	StartTime  string       `xml:"starttime,attr,omitempty"`
	EndTime    string       `xml:"endtime,attr,omitempty"`
	Status     xStatus      `xml:"status"`
	Address    xAddress     `xml:"address"`
	Hostnames  *xHostnames  `xml:"hostnames"`
	Ports      *xPorts      `xml:"ports"`
	HostScript *xHostScript `xml:"hostscript"`
	Times      *xTimes      `xml:"times"`
}

type xStatus struct {
	State     string `xml:"state,attr"`
	Reason    string `xml:"reason,attr"`
	ReasonTTL string `xml:"reason_ttl,attr"`
}

type xAddress struct {
	Addr     string `xml:"addr,attr"`
	AddrType string `xml:"addrtype,attr"`
}

type xHostnames struct {
	Names []xHostname `xml:"hostname"`
}

type xHostname struct {
	Name string `xml:"name,attr"`
	Type string `xml:"type,attr"`
}

type xPorts struct {
	Extra []xExtraPorts `xml:"extraports"`
	Ports []xPort       `xml:"port"`
}

type xExtraPorts struct {
	State   string          `xml:"state,attr"`
	Count   int             `xml:"count,attr"`
	Reasons []xExtraReasons `xml:"extrareasons"`
}

type xExtraReasons struct {
	Reason string `xml:"reason,attr"`
	Count  int    `xml:"count,attr"`
	Proto  string `xml:"proto,attr,omitempty"`
}

type xPort struct {
	Protocol string    `xml:"protocol,attr"`
	PortID   int       `xml:"portid,attr"`
	State    xState    `xml:"state"`
	Service  *xService `xml:"service"`
	Scripts  []xScript `xml:"script"`
}

type xState struct {
	State     string `xml:"state,attr"`
	Reason    string `xml:"reason,attr"`
	ReasonTTL string `xml:"reason_ttl,attr"`
}

type xService struct {
	Name       string   `xml:"name,attr"`
	Product    string   `xml:"product,attr,omitempty"`
	Version    string   `xml:"version,attr,omitempty"`
	ExtraInfo  string   `xml:"extrainfo,attr,omitempty"`
	Tunnel     string   `xml:"tunnel,attr,omitempty"`
	OSType     string   `xml:"ostype,attr,omitempty"`
	DeviceType string   `xml:"devicetype,attr,omitempty"`
	ServiceFP  string   `xml:"servicefp,attr,omitempty"`
	Method     string   `xml:"method,attr"`
	Conf       string   `xml:"conf,attr"`
	CPE        []string `xml:"cpe"`
}

type xScript struct {
	ID     string  `xml:"id,attr"`
	Output string  `xml:"output,attr"`
	Elems  []xElem `xml:"elem"`
}

type xElem struct {
	Key   string `xml:"key,attr,omitempty"`
	Value string `xml:",chardata"`
}

type xHostScript struct {
	Scripts []xScript `xml:"script"`
}

type xTimes struct {
	SRTT   string `xml:"srtt,attr"`
	RTTVar string `xml:"rttvar,attr"`
	To     string `xml:"to,attr"`
}

type xRunStats struct {
	Finished xFinished `xml:"finished"`
	Hosts    xHostsSum `xml:"hosts"`
}

type xFinished struct {
	Time    string `xml:"time,attr"`
	TimeStr string `xml:"timestr,attr,omitempty"`
	Elapsed string `xml:"elapsed,attr"`
	Summary string `xml:"summary,attr,omitempty"`
	Exit    string `xml:"exit,attr"`
}

type xHostsSum struct {
	Up    int `xml:"up,attr"`
	Down  int `xml:"down,attr"`
	Total int `xml:"total,attr"`
}

// nmapTimeStr is nmap's startstr/timestr format ("Mon Nov 23 00:17:51 2026").
const nmapTimeStr = "Mon Jan _2 15:04:05 2006"

// End writes the document.
func (n *NmapXML) End(m scan.Meta) error {
	begin := n.begin
	if begin.Started == "" {
		begin.Started = m.Started
	}
	start, _ := time.Parse(time.RFC3339, begin.Started)
	end, err := time.Parse(time.RFC3339, m.Finished)
	if err != nil {
		end = start.Add(time.Duration(m.WallTimeS * float64(time.Second)))
	}
	scanner := firstNonEmpty(m.Scanner, begin.Scanner, "portrait")
	version := strings.TrimSpace(strings.TrimPrefix(scanner, "portrait"))
	doc := xNmapRun{
		Scanner:          "nmap", // the DTD allows no other value; args and the comment say who wrote it
		Args:             strings.TrimSpace("portrait scan " + strings.Join(firstSlice(m.Targets, begin.Targets), " ")),
		Version:          firstNonEmpty(version, "0"),
		XMLOutputVersion: "1.05",
		Verbose:          xLevel{"0"},
		Debugging:        xLevel{"0"},
		Comment:          xml.Comment(" written by " + scanner + " (nmap-compatible XML) "),
	}
	if !start.IsZero() {
		doc.Start = strconv.FormatInt(start.Unix(), 10)
		doc.StartStr = start.Local().Format(nmapTimeStr)
	}
	up, down := 0, 0
	for _, h := range n.sorted() {
		if h.Record != nil && h.Record.State != "up" {
			down++
			continue
		}
		up++
		doc.Hosts = append(doc.Hosts, n.host(h, start, end))
	}
	elapsed := m.WallTimeS
	if elapsed == 0 && !start.IsZero() {
		elapsed = end.Sub(start).Seconds()
	}
	fin := xFinished{Elapsed: strconv.FormatFloat(elapsed, 'f', 2, 64), Exit: "success"}
	if !end.IsZero() {
		fin.Time = strconv.FormatInt(end.Unix(), 10)
		fin.TimeStr = end.Local().Format(nmapTimeStr)
	} else {
		fin.Time = "0"
	}
	fin.Summary = fmt.Sprintf("portrait done at %s; %d IP address%s (%d host%s up) scanned in %s seconds",
		fin.TimeStr, up+down, plural(up+down, "", "es"), up, plural(up, "", "s"), fin.Elapsed)
	doc.RunStats = xRunStats{Finished: fin, Hosts: xHostsSum{Up: up, Down: down, Total: up + down}}
	if _, err := io.WriteString(n.w, xml.Header+"<!DOCTYPE nmaprun>\n"); err != nil {
		return err
	}
	enc := xml.NewEncoder(n.w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err = io.WriteString(n.w, "\n")
	return err
}

func (n *NmapXML) host(h *hostView, start, end time.Time) xHost {
	x := xHost{
		Status:  xStatus{State: "up", Reason: "user-set", ReasonTTL: "0"},
		Address: xAddress{Addr: h.Host, AddrType: "ipv4"},
	}
	if !start.IsZero() {
		x.StartTime = strconv.FormatInt(start.Unix(), 10)
		x.EndTime = strconv.FormatInt(end.Unix(), 10)
	}
	if a, err := netip.ParseAddr(h.Host); err == nil && a.Is6() && !a.Is4In6() {
		x.Address.AddrType = "ipv6"
	}
	if h.Record != nil && h.Record.Reason != "" {
		x.Status.Reason = h.Record.Reason
	}
	if h.Hostname != "" {
		x.Hostnames = &xHostnames{Names: []xHostname{{Name: h.Hostname, Type: "user"}}}
	}
	ports := &xPorts{}
	reported := map[string]int{}
	for _, p := range h.Ports {
		reported[p.State]++
		ports.Ports = append(ports.Ports, n.port(p))
	}
	if r := h.Record; r != nil {
		// Ports counted but not listed (closed and filtered without
		// --report-closed) are nmap's "Not shown" lines.
		for _, e := range []struct {
			state, reason string
			n             int
		}{{"closed", "conn-refused", r.Closed - reported["closed"]}, {"filtered", "no-response", r.Filtered - reported["filtered"]}} {
			if e.n > 0 {
				ports.Extra = append(ports.Extra, xExtraPorts{State: e.state, Count: e.n,
					Reasons: []xExtraReasons{{Reason: e.reason, Count: e.n}}})
			}
		}
		if r.RTTMS > 0 {
			us := strconv.Itoa(int(r.RTTMS * 1000))
			x.Times = &xTimes{SRTT: us, RTTVar: us, To: strconv.Itoa(max(100000, int(r.RTTMS*4000)))}
		}
	}
	x.Ports = ports
	var scripts []xScript
	for _, rec := range h.Records {
		if rec.RecordType() != "finding" {
			continue
		}
		f := recordFields(rec)
		id := firstNonEmpty(str(f["id"]), str(f["cve"]), str(f["check"]), str(f["name"]))
		title := firstNonEmpty(str(f["title"]), str(f["name"]), id)
		out := strings.TrimSpace(id + ": " + title)
		if sev := str(f["severity"]); sev != "" {
			out += " (" + sev + ")"
		}
		if p := str(f["port"]); p != "" && p != "0" {
			out = "port " + p + ": " + out
		}
		scripts = append(scripts, xScript{ID: "portrait-finding", Output: out})
	}
	if len(scripts) > 0 {
		x.HostScript = &xHostScript{Scripts: scripts}
	}
	return x
}

func (n *NmapXML) port(p *portView) xPort {
	reason := p.Reason
	if reason == "" {
		reason = "syn-ack"
	}
	x := xPort{Protocol: p.Transport, PortID: p.Port, State: xState{State: p.State, Reason: reason, ReasonTTL: "0"}}
	switch x.Protocol {
	case "tcp", "udp", "sctp", "ip":
	default:
		x.Protocol = "tcp"
	}
	s := p.Service
	if s == nil {
		return x
	}
	conf := s.Confidence / 10
	conf = min(max(conf, 0), 10)
	method := "probed"
	if s.Method == "table" {
		method = "table"
	}
	svc := &xService{
		Name: firstNonEmpty(s.Service, "unknown"), Product: s.Product, Version: s.Version, ExtraInfo: s.Info,
		OSType: s.OS, DeviceType: s.Device, Method: method, Conf: strconv.Itoa(conf),
	}
	if s.TLS {
		svc.Tunnel = "ssl"
	}
	if s.Service == "" {
		svc.ServiceFP = s.Fingerprint
	}
	seen := map[string]bool{}
	for _, c := range append([]string{s.CPE}, stackCPEs(s)...) {
		if u := CPE22(c); u != "" && !seen[u] {
			seen[u] = true
			svc.CPE = append(svc.CPE, u)
		}
	}
	x.Service = svc
	if len(s.Stack) > 1 {
		var lines []string
		var elems []xElem
		for _, t := range s.Stack {
			l := strings.TrimSpace(t.Product + " " + t.Version)
			if t.Role != "" {
				l += " (" + t.Role + ")"
			}
			lines = append(lines, l)
			elems = append(elems, xElem{Key: t.Role, Value: strings.TrimSpace(t.Product + " " + t.Version)})
		}
		x.Scripts = append(x.Scripts, xScript{ID: "portrait-stack", Output: strings.Join(lines, "; "), Elems: elems})
	}
	return x
}

// stackCPEs are the CPEs of the other technologies on the port (an OS, a
// runtime): importers match vulnerabilities on every <cpe>.
func stackCPEs(s *fingerprint.Service) []string {
	var out []string
	for _, t := range s.Stack {
		if t.CPE != "" {
			out = append(out, t.CPE)
		}
	}
	return out
}

// CPE22 converts a CPE 2.3 formatted string ("cpe:2.3:a:isc:bind:9.18.49:*:...")
// to the CPE 2.2 URI nmap writes ("cpe:/a:isc:bind:9.18.49"); a 2.2 URI is
// returned as is, anything else as "".
func CPE22(c string) string {
	c = strings.TrimSpace(c)
	if strings.HasPrefix(c, "cpe:/") {
		return c
	}
	rest, ok := strings.CutPrefix(c, "cpe:2.3:")
	if !ok {
		return ""
	}
	// Split on unescaped colons.
	var fields []string
	var cur strings.Builder
	for i := 0; i < len(rest); i++ {
		switch ch := rest[i]; {
		case ch == '\\' && i+1 < len(rest):
			i++
			cur.WriteByte(rest[i])
		case ch == ':':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	fields = append(fields, cur.String())
	if len(fields) > 5 {
		fields = fields[:5] // part, vendor, product, version, update
	}
	for len(fields) > 0 && (fields[len(fields)-1] == "*" || fields[len(fields)-1] == "" || fields[len(fields)-1] == "-") {
		fields = fields[:len(fields)-1]
	}
	if len(fields) < 2 {
		return ""
	}
	for i, f := range fields {
		if f == "*" || f == "-" {
			fields[i] = ""
		}
		fields[i] = strings.ToLower(strings.ReplaceAll(fields[i], " ", "_"))
	}
	return "cpe:/" + strings.Join(fields, ":")
}

// recordFields is a later stage's record as a JSON object.
func recordFields(r scan.Record) map[string]any {
	b, err := json.Marshal(r)
	if err != nil {
		return map[string]any{}
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return map[string]any{}
	}
	return m
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func firstSlice(s ...[]string) []string {
	for _, x := range s {
		if len(x) > 0 {
			return x
		}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

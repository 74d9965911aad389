package fingerprint

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/portrait-scanner/portrait/protocol/wire"
)

// NmapMode makes the engine run a user's nmap-service-probes file the way
// nmap -sV does (nmapprobes.Set.Mode builds it; the file's rules go into
// the catalog like any other rules):
//
//   - the NULL probe is the engine's own banner read;
//   - then, concurrently, every probe whose ports (sslports inside TLS)
//     list the port, whatever its rarity;
//   - then, when none of those gave a hard match, the other probes whose
//     rarity is at most Intensity, concurrently (Parallel at a time);
//   - a softmatch narrows the probes still to send to those with match
//     lines for the softmatched service;
//   - the schedule stops at the first hard match of an nmap rule;
//   - a port whose connections the server closes at once without a byte is
//     reported as "tcpwrapped".
//
// The port's answer is then nmap's: among the answers, in nmap's order
// (NULL first, then the probes in file order; for each answer the probe's
// own lines, its fallbacks', then NULL's, each in file order) the first
// hard match names the service, product and version. The engine's own
// modules and rules run alongside as without the file; they fill what
// nmap's match leaves empty and decide alone where nmap has no hard match.
type NmapMode struct {
	// Probes are the file's TCP probes in file order, NULL excluded.
	Probes []Probe
	// Intensity (0-9): probes not listing the port run when their rarity
	// is at most this (nmap's --version-intensity, default 7).
	Intensity int
	// Services maps a probe name to the services its match lines name,
	// for softmatch narrowing.
	Services map[string][]string
	// Fallbacks maps a probe name to the probes whose match lines apply to
	// its answers, in nmap's order: itself, its fallbacks, then NULL (TCP).
	Fallbacks map[string][]string
	// Rules maps the name of every rule the file produced to its line.
	Rules map[string]NmapRule
	// Exclude lists the ports nmap sends no probes to (printers that print
	// whatever arrives).
	Exclude []int
	// TCPWrapped is the NULL probe's tcpwrappedms (default 3s).
	TCPWrapped time.Duration
	// MaxWait caps one probe's wait for an answer (default 2s); nmap waits
	// totalwaitms (5s by default), one probe after the other.
	MaxWait time.Duration
	// Answer says how nmap's answer and the engine's own combine on a port
	// where nmap's rules matched:
	//   NmapAnswer ("nmap", the default): the port reads as nmap -sV
	//     reports it: service, product, version, info, OS, device and CPE
	//     of nmap's hard match (or, without one, its softmatch), fields
	//     nmap leaves empty left empty; the engine's findings stay in the
	//     stack;
	//   BestAnswer ("best"): nmap's hard match names the service and
	//     product, the engine's own findings fill what it leaves empty
	//     (a version nmap's line does not capture); a softmatch only
	//     names a service the engine could not.
	//   OnlyAnswer ("only"): as NmapAnswer, and where no nmap rule
	//     matched the port reads as nmap -sV leaves it too: tcpwrapped, or
	//     the port table's name (PortNames, else the engine's own table)
	//     with no product; the engine's findings stay in the stack. This
	//     is the mode that reproduces nmap's verdicts, e.g. to compare
	//     with an archive of nmap scans.
	// Where no nmap rule matched, the engine's own answer stands with
	// NmapAnswer and BestAnswer.
	Answer string
	// PortNames is nmap's port table (an nmap-services file the user
	// gives): the name nmap guesses for a TCP port nothing identified.
	PortNames map[int]string
}

// Values of NmapMode.Answer.
const (
	NmapAnswer = "nmap"
	BestAnswer = "best"
	OnlyAnswer = "only"
)

// Confidence of a port's record named by nmap's answer: a hard match is
// a byte pattern written for that very response; a softmatch only knows
// the protocol.
const (
	nmapHardConfidence = 90
	nmapSoftConfidence = 50
)

// NmapRule places one rule in its nmap-service-probes file.
type NmapRule struct {
	Probe string // the Probe section holding the match line
	Line  int    // the line number: nmap tries match lines in file order
	Soft  bool   // softmatch
}

// nmapState is one port's nmap schedule: one per layer (plaintext, TLS).
type nmapState struct {
	mu     sync.Mutex
	wg     sync.WaitGroup
	cancel [2]context.CancelFunc
	hard   [2]bool
	soft   [2]string
	// hits caches the best hard and soft match of each answer, by
	// exchange key ("tls:" prefix inside TLS).
	hits map[string][2]*nmapHit
	// sent and closed count the probe connections and those the server
	// closed at once without a byte (tcpwrapped).
	sent, closed [2]int
}

type nmapHit struct {
	Match
	chain int // place of the rule's probe in the answering probe's fallback chain
	line  int
	soft  bool
}

func (h *nmapHit) before(o *nmapHit) bool {
	return o == nil || h.chain < o.chain || (h.chain == o.chain && h.line < o.line)
}

func tlsIndex(tlsMode bool) int {
	if tlsMode {
		return 1
	}
	return 0
}

func exchangeKey(probe string, tlsMode bool) string {
	if tlsMode {
		return "tls:" + probe
	}
	return probe
}

func (ev *evidence) nmapState() *nmapState {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.nmap == nil {
		ev.nmap = &nmapState{hits: map[string][2]*nmapHit{}}
	}
	return ev.nmap
}

// nmapStart starts the nmap schedule of one layer once its banner read is
// over. It runs under the port's context, not the layer's: the layer stops
// as soon as a module confirms the protocol, but nmap's answer needs its
// probes. The TLS layer's schedule replaces the plaintext one.
func (e *Engine) nmapStart(ctx context.Context, t Target, tlsMode bool, ev *evidence, banner []byte) {
	nm := e.cfg.Nmap
	if nm == nil || onPort(nm.Exclude, t.Port) {
		return
	}
	st := ev.nmapState()
	sctx, cancel := context.WithCancel(ctx)
	st.mu.Lock()
	// The TLS layer's schedule replaces the plaintext one, except when
	// nmap's verdict is wanted: whether nmap would tunnel at all depends
	// on the plaintext answers to its own SSL probes.
	if tlsMode && st.cancel[0] != nil && nm.Answer != OnlyAnswer {
		st.cancel[0]()
	}
	st.cancel[tlsIndex(tlsMode)] = cancel
	st.wg.Add(1)
	st.mu.Unlock()
	go func() {
		defer st.wg.Done()
		defer cancel()
		e.nmapSchedule(sctx, t, tlsMode, ev, st, banner)
	}()
}

// nmapSchedule sends nmap's probes in nmap's order, each wave concurrently.
func (e *Engine) nmapSchedule(ctx context.Context, t Target, tlsMode bool, ev *evidence, st *nmapState, banner []byte) {
	nm := e.cfg.Nmap
	ti := tlsIndex(tlsMode)
	if len(banner) > 0 && e.nmapRecord(st, "banner", "NULL", tlsMode, Latin1(banner)) {
		return
	}
	var wave1, wave2 []*Probe
	for i := range nm.Probes {
		p := &nm.Probes[i]
		if p.Transport != "" && p.Transport != "tcp" {
			continue
		}
		probable := onPort(p.Ports, t.Port)
		if tlsMode {
			probable = onPort(p.TLSPorts, t.Port)
		}
		switch {
		case probable:
			wave1 = append(wave1, p)
		case p.Rarity <= nm.Intensity:
			wave2 = append(wave2, p)
		}
	}
	for _, wave := range [][]*Probe{wave1, wave2} {
		var wg sync.WaitGroup
		sem := make(chan struct{}, e.cfg.Parallel)
		for _, p := range wave {
			st.mu.Lock()
			skip := st.hard[ti] || (st.soft[ti] != "" && !contains(nm.Services[p.Name], st.soft[ti]))
			st.mu.Unlock()
			if skip || ctx.Err() != nil {
				continue
			}
			// An engine probe of the same name and bytes is nmap's probe:
			// sent once. One of the same name but other bytes is not.
			key := "probe:" + p.Name
			shared, clash := e.builtinTwin(p)
			if clash {
				key = "nmap-probe:" + p.Name
			}
			if !ev.markRan(key, tlsMode) {
				if shared {
					e.nmapRecheck(st, ev, p.Name, tlsMode)
				}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-sem }()
				e.nmapProbe(ctx, t, tlsMode, ev, st, p)
			}()
		}
		wg.Wait()
		st.mu.Lock()
		done := st.hard[ti]
		st.mu.Unlock()
		if done || ctx.Err() != nil {
			return
		}
	}
}

// nmapProbe sends one probe on its own connection and matches the answer.
func (e *Engine) nmapProbe(ctx context.Context, t Target, tlsMode bool, ev *evidence, st *nmapState, p *Probe) {
	nm := e.cfg.Nmap
	ti := tlsIndex(tlsMode)
	c, err := e.dial(ctx, t, tlsMode, nil)
	if err != nil {
		return
	}
	defer c.Close()
	opened := time.Now()
	host := t.Hostname
	if host == "" {
		host = t.Addr.String()
	}
	req := p.payload(host, t.Port)
	if wire.Write(ctx, c, e.cfg.ProbeTimeout, req) != nil {
		e.nmapCountClosed(st, ti, opened, nil, true)
		return
	}
	wait := probeWait(p)
	maxWait := nm.MaxWait
	if maxWait <= 0 {
		maxWait = 2 * time.Second
	}
	wait = min(wait, maxWait)
	resp, rerr := wire.ReadQuiet(ctx, c, wait, 300*time.Millisecond, e.cfg.MaxRead)
	if ctx.Err() != nil && len(resp) == 0 {
		return
	}
	e.nmapCountClosed(st, ti, opened, rerr, len(resp) == 0)
	if len(resp) == 0 {
		return
	}
	text := Latin1(resp)
	ev.mu.Lock()
	ev.fields["probe."+p.Name] = text
	ev.exchanges = append(ev.exchanges, Exchange{Probe: p.Name, TLS: tlsMode, Request: req, Response: resp})
	ev.mu.Unlock()
	if e.nmapRecord(st, "probe."+p.Name, p.Name, tlsMode, text) {
		st.mu.Lock()
		if c := st.cancel[ti]; c != nil {
			c() // the first hard match ends the schedule
		}
		st.mu.Unlock()
	}
}

// nmapCountClosed counts a probe connection and whether the server closed
// it within tcpwrappedms without sending a byte.
func (e *Engine) nmapCountClosed(st *nmapState, ti int, opened time.Time, err error, empty bool) {
	wrapped := e.cfg.Nmap.TCPWrapped
	if wrapped <= 0 {
		wrapped = 3 * time.Second
	}
	closed := empty && err != nil && time.Since(opened) < wrapped &&
		(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE))
	st.mu.Lock()
	st.sent[ti]++
	if closed {
		st.closed[ti]++
	}
	st.mu.Unlock()
}

// builtinTwin says whether the engine's own probes hold one named like p:
// with the same payload (shared) or another one (clash).
func (e *Engine) builtinTwin(p *Probe) (shared, clash bool) {
	for i := range e.probes {
		if q := &e.probes[i]; q.Name == p.Name && (q.Transport == "" || q.Transport == "tcp") {
			if q.Payload == p.Payload {
				return true, false
			}
			return false, true
		}
	}
	return false, false
}

// nmapRecheck matches an answer the engine's own probes already stored.
func (e *Engine) nmapRecheck(st *nmapState, ev *evidence, probe string, tlsMode bool) {
	ev.mu.Lock()
	var resp []byte
	for _, x := range ev.exchanges {
		if x.Probe == probe && x.TLS == tlsMode && len(x.Response) > 0 {
			resp = x.Response
		}
	}
	ev.mu.Unlock()
	if resp != nil {
		e.nmapRecord(st, "probe."+probe, probe, tlsMode, Latin1(resp))
	}
}

// nmapRecord matches one answer, caches its best hard and soft nmap match
// and updates the schedule's state. It reports a hard match.
func (e *Engine) nmapRecord(st *nmapState, field, probe string, tlsMode bool, text string) bool {
	hard, soft := e.nmapMatch(field, probe, text)
	ti := tlsIndex(tlsMode)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.hits[exchangeKey(probe, tlsMode)] = [2]*nmapHit{hard, soft}
	if hard != nil {
		st.hard[ti] = true
		return true
	}
	if soft != nil && st.soft[ti] == "" {
		st.soft[ti] = soft.Service
	}
	return false
}

// nmapMatch runs the catalog over one answer and keeps the nmap rules'
// matches, ranked as nmap tries them.
func (e *Engine) nmapMatch(field, probe, text string) (hard, soft *nmapHit) {
	nm := e.cfg.Nmap
	chain := nm.Fallbacks[probe]
	if probe == "NULL" {
		chain = []string{"NULL"}
	}
	for _, m := range e.catalog.Match(map[string]string{field: text}) {
		r, ok := nm.Rules[m.Rule]
		if !ok {
			continue
		}
		h := &nmapHit{Match: m, chain: len(chain), line: r.Line, soft: r.Soft}
		for i, c := range chain {
			if c == r.Probe {
				h.chain = i
				break
			}
		}
		if r.Soft {
			if h.before(soft) {
				soft = h
			}
		} else if h.before(hard) {
			hard = h
		}
	}
	return hard, soft
}

func probeWait(p *Probe) time.Duration {
	if p.wait > 0 {
		return p.wait
	}
	if d, err := time.ParseDuration(p.Wait); err == nil && d > 0 {
		return d
	}
	return 5 * time.Second
}

// nmapDecide waits for the port's nmap schedules, runs decide, and then
// lets nmap's answer name the service (when Authoritative).
func (e *Engine) nmapDecide(t Target, isTLS bool, ev *evidence) *Service {
	nm := e.cfg.Nmap
	var st *nmapState
	if nm != nil {
		ev.mu.Lock()
		st = ev.nmap
		ev.mu.Unlock()
	}
	if st != nil {
		st.wg.Wait()
	}
	svc := e.decide(t, isTLS, ev)
	if st == nil {
		return svc
	}
	// Rules without a product only name a service: not a technology.
	stack := svc.Stack[:0]
	for _, tc := range svc.Stack {
		if tc.Product != "" {
			stack = append(stack, tc)
		}
	}
	svc.Stack = stack

	if nm.Answer == OnlyAnswer {
		svc.pinned = true
		if isTLS && !st.sawSSL() {
			// nmap's own SSL probes drew no answer its rules call "ssl"
			// (a server refusing their old hellos): nmap never tunnels,
			// and reports the port from its plaintext answers.
			isTLS, svc.TLS, svc.Tunnel = false, false, ""
		}
	}
	hard, soft := e.nmapAnswer(t, st, ev, isTLS)
	strict := nm.Answer != BestAnswer
	switch {
	case hard != nil:
		applyNmap(svc, hard, isTLS, strict)
		svc.Fingerprint = ""
	case soft != nil && (strict || svc.Service == "" || svc.Method == "table"):
		applyNmap(svc, soft, isTLS, strict)
		// nmap prints the fingerprint of a softmatched service too: it is
		// what a new match line would be written from.
		if svc.Fingerprint == "" && len(svc.exchanges) > 0 {
			svc.Fingerprint = SF(t.Port, "TCP", svc.exchanges)
		}
	case nm.Answer == OnlyAnswer:
		nmapUnmatched(svc, nm, t.Port, st.wrapped(isTLS))
		if svc.Fingerprint == "" && len(svc.exchanges) > 0 {
			svc.Fingerprint = SF(t.Port, "TCP", svc.exchanges)
		}
	case (svc.Service == "" || svc.Method == "table") && len(svc.Probes) == 0:
		if st.wrapped(isTLS) {
			svc.Service, svc.Method, svc.Confidence = "tcpwrapped", "probed", 50
		}
	}
	if strict {
		nmapScripts(svc, ev)
	}
	return svc
}

// sawSSL says whether a plaintext answer matched an nmap rule (hard or
// soft) naming the service "ssl": what makes nmap re-probe through TLS.
func (st *nmapState) sawSSL() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	for key, hits := range st.hits {
		if strings.HasPrefix(key, "tls:") {
			continue
		}
		for _, h := range hits {
			if h != nil && h.Service == "ssl" {
				return true
			}
		}
	}
	return false
}

// nmapScripts stands in for the version scripts nmap -sV runs after its
// probes (NSE category "version"), from what the engine's own modules
// read: nmap's answer on such ports comes from the script, not the match
// line. amqp-info: product, version and protocol from Connection.Start.
func nmapScripts(svc *Service, ev *evidence) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if svc.Service == "amqp" && ev.fields["amqp.product"] != "" {
		svc.Product, svc.Version = ev.fields["amqp.product"], ev.fields["amqp.version"]
		if p := strings.Split(ev.fields["amqp.protocol"], "-"); len(p) >= 2 {
			svc.Info = p[0] + "-" + p[1]
		}
	}
}

// wrapped says whether the server closed every probe connection of the
// layer at once without a byte: nmap's tcpwrapped.
func (st *nmapState) wrapped(isTLS bool) bool {
	ti := tlsIndex(isTLS)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sent[ti] > 0 && st.closed[ti] == st.sent[ti]
}

// nmapUnmatched gives a port no nmap rule matched nmap's verdict: the
// engine's own answer moves into the stack, the port keeps the name of
// nmap's port table (or tcpwrapped) and nothing more.
func nmapUnmatched(svc *Service, nm *NmapMode, port int, wrapped bool) {
	if svc.Product != "" && !hasProduct(svc.Stack, svc.Product) {
		svc.Stack = append(svc.Stack, Tech{Product: svc.Product, Version: svc.Version, Role: "server",
			Confidence: svc.Confidence, Sources: []string{"portrait"}, CPE: svc.CPE, Info: svc.Info})
	}
	svc.Product, svc.Version, svc.Info, svc.CPE, svc.Device, svc.OS = "", "", "", "", "", ""
	switch {
	case wrapped:
		svc.Service, svc.Method, svc.Confidence = "tcpwrapped", "probed", 50
		return
	case nm.PortNames != nil:
		svc.Service = nm.PortNames[port]
	default:
		svc.Service = portName(port)
	}
	svc.Method, svc.Confidence = "table", 30
	if svc.Service == "" {
		svc.Method, svc.Confidence = "", 0
	}
}

// nmapAnswer picks nmap's answer for the port: the answers of the layer
// that decided (TLS when the port speaks it), NULL first, then the probes
// in file order; the first with a hard match wins; else the first softmatch.
func (e *Engine) nmapAnswer(t Target, st *nmapState, ev *evidence, isTLS bool) (hard, soft *nmapHit) {
	nm := e.cfg.Nmap
	// nmap's order: NULL, the probes listing the port, the others; each
	// group in file order.
	order := map[string]int{"NULL": -1}
	for i, p := range nm.Probes {
		probable := onPort(p.Ports, t.Port)
		if isTLS {
			probable = onPort(p.TLSPorts, t.Port)
		}
		order[p.Name] = i
		if !probable {
			order[p.Name] += len(nm.Probes)
		}
	}
	// Only answers to nmap's own bytes count: a module or an engine probe
	// may use one of nmap's probe names for another request.
	host := t.Hostname
	if host == "" {
		host = t.Addr.String()
	}
	payload := map[string][]byte{"NULL": nil}
	for i := range nm.Probes {
		payload[nm.Probes[i].Name] = nm.Probes[i].payload(host, t.Port)
	}
	ev.mu.Lock()
	var xs []Exchange
	for _, x := range ev.exchanges {
		if x.TLS != isTLS || len(x.Response) == 0 {
			continue
		}
		if want, ok := payload[x.Probe]; ok && bytes.Equal(x.Request, want) {
			xs = append(xs, x)
		}
	}
	ev.mu.Unlock()
	sort.SliceStable(xs, func(i, j int) bool { return order[xs[i].Probe] < order[xs[j].Probe] })
	for _, x := range xs {
		key := exchangeKey(x.Probe, x.TLS)
		st.mu.Lock()
		hits, ok := st.hits[key]
		st.mu.Unlock()
		if !ok {
			// A NULL answer a module read, or the late banner: match it now.
			field := "probe." + x.Probe
			if x.Probe == "NULL" {
				field = "banner"
			}
			h, s := e.nmapMatch(field, x.Probe, Latin1(x.Response))
			hits = [2]*nmapHit{h, s}
			st.mu.Lock()
			st.hits[key] = hits
			st.mu.Unlock()
		}
		if hits[0] != nil {
			return hits[0], nil
		}
		if soft == nil {
			soft = hits[1]
		}
	}
	return nil, soft
}

// applyNmap writes an nmap match onto the port's record. strict: as nmap
// reports it. Otherwise the engine's own answer stands and nmap's fills what
// it lacks: the whole answer on a port the engine named no product for, the
// version, information and CPE of the same product, a technology of the
// stack when the products differ.
func applyNmap(svc *Service, h *nmapHit, isTLS, strict bool) {
	service := h.Service
	if isTLS {
		service = strings.TrimPrefix(service, "ssl/")
	}
	tech := func() {
		if h.Product != "" && !hasProduct(svc.Stack, h.Product) {
			svc.Stack = append(svc.Stack, Tech{Product: h.Product, Version: h.Version, Role: "server", Confidence: h.Confidence,
				Sources: []string{h.Source}, Evidence: h.Evidence, CPE: h.CPE, Info: h.Info, Rule: h.Rule})
		}
	}
	unnamed := svc.Service == "" || svc.Method == "table"
	conf := nmapHardConfidence
	if h.soft {
		conf = nmapSoftConfidence
	}
	switch {
	case strict || (svc.Product == "" && (h.Product != "" || unnamed)):
		svc.Service, svc.Method, svc.Confidence = service, "matched", conf
		svc.Product, svc.Version, svc.Info, svc.CPE, svc.Device = h.Product, h.Version, h.Info, h.CPE, h.Device
		if h.OS != "" {
			svc.OS = titleOS(h.OS)
		}
		if h.Product != "" && !hasProduct(svc.Stack, h.Product) {
			tech()
			// The port's product leads the stack.
			svc.Stack = append(svc.Stack[len(svc.Stack)-1:], svc.Stack[:len(svc.Stack)-1]...)
		}
	case strings.EqualFold(svc.Product, h.Product):
		if svc.Version == "" {
			svc.Version = h.Version
		}
		if svc.Info == "" {
			svc.Info = h.Info
		}
		if svc.CPE == "" {
			svc.CPE = h.CPE
		}
		if svc.Device == "" {
			svc.Device = h.Device
		}
		if svc.OS == "" && h.OS != "" {
			svc.OS = titleOS(h.OS)
		}
	default:
		tech()
	}
}

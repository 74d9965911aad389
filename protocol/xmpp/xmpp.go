// Package xmpp opens an XMPP stream (RFC 6120) and reads the server's stream
// header and stream features, or its stream error. The features name the
// authentication mechanisms and extensions, an entity-capabilities element
// may name the server software in its node URI, and the header itself is
// written differently by each server: quote style, XML declaration and the
// shape of the stream id (Prosody uses UUIDs) are behaviour evidence. The
// attribute order is recorded too, but is not stable for every server
// (Prosody's follows a Lua table and changes between processes). Nothing is
// authenticated.
//
// Fields (all strings):
//
//	xmpp.stream_from   the header's from attribute (the served domain)
//	xmpp.stream_to     the header's to attribute, when present
//	xmpp.version       the header's version attribute ("1.0")
//	xmpp.lang          the header's xml:lang
//	xmpp.stream_attrs  header attribute names in document order
//	                   ("xmlns:stream,xmlns,from,xml:lang,version,id")
//	xmpp.quote         quote character of the header attributes: "single" or "double"
//	xmpp.xml_decl      the XML declaration the server sent, if any
//	xmpp.id_format     shape of the stream id: "uuid", "hex-16", "digits-20", "alnum-10", "other-N"
//	xmpp.features      stream feature element names in order ("starttls,mechanisms,c")
//	xmpp.feature_ns    their namespaces, same order, joined with " "
//	xmpp.starttls      "required" or "optional" when STARTTLS is offered
//	xmpp.mechanisms    SASL mechanisms, joined with ","
//	xmpp.compression   compression methods, joined with ","
//	xmpp.caps.node     entity capabilities node URI (XEP-0115)
//	xmpp.caps.ver      entity capabilities verification string
//	xmpp.caps.hash     its hash algorithm
//	xmpp.error         stream error condition ("host-unknown")
//	xmpp.error_text    stream error text
package xmpp

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Module is the XMPP module. The stream namespace follows the port:
// jabber:server on 5269/5270, jabber:client elsewhere.
type Module struct {
	s2s bool // force a server-to-server stream (tests on other ports)
}

// New returns the XMPP module.
func New() protocol.Module { return Module{} }

// Info describes the module.
func (Module) Info() protocol.Info {
	return protocol.Info{Name: "xmpp", Service: "xmpp-client", Ports: []int{5222, 5269, 5280}, TLSPorts: []int{5223, 5270}, Priority: 50}
}

// Claim is always false: the client opens the stream.
func (Module) Claim([]byte) bool { return false }

const (
	nsStreams = "http://etherx.jabber.org/streams"
	maxTokens = 4000
	maxList   = 1024
)

// Stream is what the server's first answer held.
type Stream struct {
	Header      string // raw stream start tag
	XMLDecl     string
	Attrs       []xml.Attr // in document order, raw prefixes
	Features    []xml.Name // local name and namespace of each feature
	StartTLS    string
	Mechanisms  []string
	Compression []string
	CapsNode    string
	CapsVer     string
	CapsHash    string
	Error       string
	ErrorText   string
	// Complete is true once the features or the error ended, or the
	// stream closed: nothing more is coming without our reply.
	Complete bool
}

func (s *Stream) attr(name string) (string, bool) {
	for _, a := range s.Attrs {
		if rawName(a.Name) == name {
			return a.Value, true
		}
	}
	return "", false
}

func rawName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// Parse reads the server's bytes with a bounded tokenizer. ok is false when
// the first element is not an XMPP stream.
func Parse(b []byte) (Stream, bool) {
	var s Stream
	d := xml.NewDecoder(io.LimitReader(bytes.NewReader(b), int64(len(b))))
	d.Strict = false
	d.AutoClose = nil
	depth := 0
	var path []string // local names of open elements below the stream
	var text strings.Builder
	started := false
	for i := 0; i < maxTokens; i++ {
		start := d.InputOffset()
		tok, err := d.RawToken()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if !started && t.Target == "xml" {
				s.XMLDecl = wire.Clip("<?xml "+string(t.Inst)+"?>", 200)
			}
		case xml.StartElement:
			if !started {
				if t.Name.Local != "stream" || !declaresStreams(t) {
					return s, false
				}
				started = true
				s.Attrs = t.Attr
				s.Header = wire.Clip(string(b[start:d.InputOffset()]), 1024)
				continue
			}
			depth++
			path = append(path, t.Name.Local)
			text.Reset()
			s.element(path, t)
		case xml.EndElement:
			if !started {
				return s, false
			}
			if depth == 0 { // </stream:stream>
				s.Complete = true
				return s, true
			}
			s.endElement(path, strings.TrimSpace(text.String()))
			depth--
			path = path[:len(path)-1]
			if depth == 0 && (t.Name.Local == "features" || t.Name.Local == "error") {
				s.Complete = true
			}
			text.Reset()
		case xml.CharData:
			if text.Len() < maxList {
				text.Write(t)
			}
		}
	}
	return s, started
}

// declaresStreams checks the stream element's namespace declaration.
func declaresStreams(t xml.StartElement) bool {
	for _, a := range t.Attr {
		if a.Value == nsStreams && (a.Name.Space == "xmlns" || a.Name.Local == "xmlns") {
			return true
		}
	}
	return false
}

func attrVal(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func (s *Stream) element(path []string, t xml.StartElement) {
	switch {
	case len(path) == 2 && path[0] == "features":
		if len(s.Features) < 64 {
			s.Features = append(s.Features, xml.Name{Local: t.Name.Local, Space: attrVal(t, "xmlns")})
		}
		switch t.Name.Local {
		case "starttls":
			s.StartTLS = "optional"
		case "c":
			s.CapsNode, s.CapsVer, s.CapsHash = attrVal(t, "node"), attrVal(t, "ver"), attrVal(t, "hash")
		}
	case len(path) == 3 && path[0] == "features" && path[1] == "starttls" && t.Name.Local == "required":
		s.StartTLS = "required"
	case len(path) == 2 && path[0] == "error" && t.Name.Local != "text" && s.Error == "":
		s.Error = t.Name.Local
	}
}

func (s *Stream) endElement(path []string, text string) {
	switch {
	case len(path) == 3 && path[0] == "features" && path[1] == "mechanisms" && path[2] == "mechanism":
		if len(s.Mechanisms) < 64 && text != "" {
			s.Mechanisms = append(s.Mechanisms, wire.Clip(text, 64))
		}
	case len(path) == 3 && path[0] == "features" && path[1] == "compression" && path[2] == "method":
		if len(s.Compression) < 16 && text != "" {
			s.Compression = append(s.Compression, wire.Clip(text, 64))
		}
	case len(path) == 2 && path[0] == "error" && path[1] == "text":
		s.ErrorText = wire.Clip(text, 512)
	}
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	hexRE  = regexp.MustCompile(`^[0-9a-f]+$`)
	digRE  = regexp.MustCompile(`^[0-9]+$`)
	alnRE  = regexp.MustCompile(`^[0-9A-Za-z]+$`)
)

// IDFormat classifies a stream id by shape, never by value.
func IDFormat(id string) string {
	n := strconv.Itoa(len(id))
	switch {
	case id == "":
		return ""
	case uuidRE.MatchString(id):
		return "uuid"
	case digRE.MatchString(id):
		return "digits-" + n
	case hexRE.MatchString(id):
		return "hex-" + n
	case alnRE.MatchString(id):
		return "alnum-" + n
	}
	return "other-" + n
}

// Fields turns the stream into evidence fields.
func (s *Stream) Fields(res *protocol.Result) {
	if v, ok := s.attr("from"); ok {
		res.Set("xmpp.stream_from", wire.Clip(v, 256))
	}
	if v, ok := s.attr("to"); ok {
		res.Set("xmpp.stream_to", wire.Clip(v, 256))
	}
	v, _ := s.attr("version")
	res.Set("xmpp.version", wire.Clip(v, 16))
	v, _ = s.attr("xml:lang")
	res.Set("xmpp.lang", wire.Clip(v, 16))
	id, _ := s.attr("id")
	res.Set("xmpp.id_format", IDFormat(id))
	var names []string
	for _, a := range s.Attrs {
		if len(names) < 32 {
			names = append(names, rawName(a.Name))
		}
	}
	res.Set("xmpp.stream_attrs", wire.Clip(strings.Join(names, ","), maxList))
	if i := strings.IndexAny(s.Header, `'"`); i >= 0 {
		res.Set("xmpp.quote", map[byte]string{'\'': "single", '"': "double"}[s.Header[i]])
	}
	res.Set("xmpp.xml_decl", s.XMLDecl)
	var fs, ns []string
	for _, f := range s.Features {
		fs = append(fs, f.Local)
		ns = append(ns, f.Space)
	}
	res.Set("xmpp.features", wire.Clip(strings.Join(fs, ","), maxList))
	res.Set("xmpp.feature_ns", wire.Clip(strings.TrimSpace(strings.Join(ns, " ")), maxList))
	res.Set("xmpp.starttls", s.StartTLS)
	res.Set("xmpp.mechanisms", wire.Clip(strings.Join(s.Mechanisms, ","), maxList))
	res.Set("xmpp.compression", strings.Join(s.Compression, ","))
	res.Set("xmpp.caps.node", wire.Clip(s.CapsNode, 256))
	res.Set("xmpp.caps.ver", wire.Clip(s.CapsVer, 128))
	res.Set("xmpp.caps.hash", wire.Clip(s.CapsHash, 32))
	res.Set("xmpp.error", wire.Clip(s.Error, 64))
	res.Set("xmpp.error_text", s.ErrorText)
}

// streamOpen builds the stream header; server-to-server ports use the
// jabber:server namespace and announce dialback.
func streamOpen(to string, s2s bool) []byte {
	ns := "jabber:client"
	extra := ""
	if s2s {
		ns, extra = "jabber:server", " xmlns:db='jabber:server:dialback'"
	}
	return []byte("<?xml version='1.0'?><stream:stream to='" + xmlEscape(to) + "' xmlns='" + ns + "'" + extra +
		" xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "'", "&#39;")
}

// Run opens the stream and reads the header and features.
func (m Module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	if len(banner) > 0 {
		return nil, fmt.Errorf("xmpp: server spoke first: %w", protocol.ErrNotThisProtocol)
	}
	to := env.Hostname
	if to == "" {
		to = "localhost"
	}
	s2s := m.s2s || env.Port == 5269 || env.Port == 5270
	req := streamOpen(to, s2s)
	if err := wire.Write(ctx, conn, env.Timeout, req); err != nil {
		return nil, fmt.Errorf("xmpp: send: %w", err)
	}
	max := env.MaxRead
	if max <= 0 {
		max = wire.DefaultMax
	}
	notXMPP := false
	got, err := wire.ReadUntil(ctx, conn, env.Timeout, max, func(b []byte) bool {
		t := bytes.TrimLeft(b, " \t\r\n\ufeff")
		if bytes.HasPrefix(b, req) {
			notXMPP = true // an echo service
			return true
		}
		if len(t) > 0 && t[0] != '<' {
			notXMPP = true
			return true
		}
		if !bytes.Contains(b, []byte(">")) {
			return false
		}
		s, ok := Parse(b)
		if !ok && len(b) > 256 {
			notXMPP = true
			return true
		}
		return ok && s.Complete
	})
	res := &protocol.Result{}
	probe := "xmpp-stream"
	if s2s {
		probe = "xmpp-server-stream"
	}
	res.Record(probe, req, got)
	if len(got) == 0 {
		return nil, fmt.Errorf("xmpp: no answer: %w", err)
	}
	s, ok := Parse(got)
	if bytes.HasPrefix(got, req) {
		notXMPP = true // an echo service sent our own header back
	}
	if notXMPP || !ok {
		return nil, fmt.Errorf("xmpp: answer %q: %w", wire.Clip(string(got), 40), protocol.ErrNotThisProtocol)
	}
	_ = wire.Write(ctx, conn, env.Timeout, []byte("</stream:stream>"))
	s.Fields(res)
	res.Service, res.Confidence = "xmpp-client", 95
	if s2s || strings.Contains(s.Header, "jabber:server") {
		res.Service = "xmpp-server"
	}
	return res, nil
}

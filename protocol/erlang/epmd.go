package erlang

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// EPMD is the Erlang Port Mapper Daemon module.
type EPMD struct{}

// NewEPMD returns the epmd module.
func NewEPMD() protocol.Module { return EPMD{} }

// Info describes the epmd module.
func (EPMD) Info() protocol.Info {
	return protocol.Info{Name: "epmd", Service: "epmd", Ports: []int{4369}, Priority: 40}
}

// Claim is always false: epmd never speaks first.
func (EPMD) Claim([]byte) bool { return false }

const (
	maxNodes       = 64 // names kept in epmd.nodes
	maxNodeDetails = 4  // PORT_PLEASE2 look-ups (one connection each)
)

// namesReq is NAMES_REQ: length 1, 'n' (110).
var namesReq = []byte{0, 1, 'n'}

var nameLine = regexp.MustCompile(`^name (\S{1,255}) at port (\d{1,5})$`)

// Node is one registered node.
type Node struct {
	Name string
	Port int
}

// ParseNames parses a NAMES_RESP: epmd's own port (4 bytes, big-endian)
// followed by one "name N at port P\n" line per node. ok is false when the
// answer is not in that form.
func ParseNames(b []byte) (port uint32, nodes []Node, ok bool) {
	if len(b) < 4 {
		return 0, nil, false
	}
	port = binary.BigEndian.Uint32(b[:4])
	if port == 0 || port > 65535 {
		return 0, nil, false
	}
	text := b[4:]
	if len(text) > 0 && !bytes.HasSuffix(text, []byte("\n")) {
		// A cut answer (size cap): drop the partial last line.
		if i := bytes.LastIndexByte(text, '\n'); i >= 0 {
			text = text[:i+1]
		} else {
			return 0, nil, false
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		if line == "" {
			continue
		}
		m := nameLine.FindStringSubmatch(line)
		if m == nil {
			return 0, nil, false
		}
		p, _ := strconv.Atoi(m[2])
		nodes = append(nodes, Node{Name: m[1], Port: p})
	}
	return port, nodes, true
}

// NodeInfo is a PORT2_RESP.
type NodeInfo struct {
	Port, Type, Proto, High, Low int
	Name                         string
	Extra                        []byte
}

// ParsePort2 parses a PORT2_RESP ('w', result, then on success port,
// node type, protocol, highest and lowest version, name and extra).
func ParsePort2(b []byte) (NodeInfo, bool) {
	if len(b) < 2 || b[0] != 'w' || b[1] != 0 || len(b) < 12 {
		return NodeInfo{}, false
	}
	ni := NodeInfo{
		Port:  int(binary.BigEndian.Uint16(b[2:])),
		Type:  int(b[4]),
		Proto: int(b[5]),
		High:  int(binary.BigEndian.Uint16(b[6:])),
		Low:   int(binary.BigEndian.Uint16(b[8:])),
	}
	nlen := int(binary.BigEndian.Uint16(b[10:]))
	if 12+nlen > len(b) {
		return NodeInfo{}, false
	}
	ni.Name = string(b[12 : 12+nlen])
	if rest := b[12+nlen:]; len(rest) >= 2 {
		elen := int(binary.BigEndian.Uint16(rest))
		if 2+elen <= len(rest) {
			ni.Extra = rest[2 : 2+elen]
		}
	}
	return ni, true
}

func (ni NodeInfo) String() string {
	typ := map[int]string{77: "normal", 72: "hidden"}[ni.Type]
	if typ == "" {
		typ = strconv.Itoa(ni.Type)
	}
	proto := "tcp"
	if ni.Proto != 0 {
		proto = strconv.Itoa(ni.Proto)
	}
	return fmt.Sprintf("port=%d type=%s proto=%s versions=%d-%d", ni.Port, typ, proto, ni.Low, ni.High)
}

// Run asks for the node list, then for the details of the first nodes.
func (EPMD) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	if len(banner) > 0 {
		return nil, fmt.Errorf("epmd: server spoke first: %w", protocol.ErrNotThisProtocol)
	}
	if err := wire.Write(ctx, conn, env.Timeout, namesReq); err != nil {
		return nil, fmt.Errorf("epmd: send: %w", err)
	}
	// epmd closes after the answer; read to the close (bounded).
	got, err := wire.ReadUntil(ctx, conn, env.Timeout, env.MaxRead, nil)
	res := &protocol.Result{}
	res.Record("epmd", namesReq, got)
	if len(got) == 0 {
		return nil, fmt.Errorf("epmd: no answer: %w", err)
	}
	port, nodes, ok := ParseNames(got)
	if !ok {
		return nil, fmt.Errorf("epmd: answer %q: %w", wire.Clip(got, 32), protocol.ErrNotThisProtocol)
	}
	res.Set("epmd.port", strconv.FormatUint(uint64(port), 10))
	var list []string
	for i, n := range nodes {
		if i == maxNodes {
			break
		}
		list = append(list, n.Name+":"+strconv.Itoa(n.Port))
	}
	res.Set("epmd.nodes", strings.Join(list, ","))
	res.Service, res.Confidence = "epmd", 90
	if len(nodes) == 0 && port != 4369 {
		res.Confidence = 60 // four bytes alone are a weak sign
	}
	if env.Dial != nil {
		for i, n := range nodes {
			if i == maxNodeDetails || ctx.Err() != nil {
				break
			}
			portPlease(ctx, env, n.Name, res)
		}
	}
	return res, nil
}

// portPlease asks epmd for one node's details on a new connection (epmd
// answers one request per connection).
func portPlease(ctx context.Context, env protocol.Env, name string, res *protocol.Result) {
	c, err := env.Dial(ctx)
	if err != nil {
		return
	}
	defer c.Close()
	req := frame(append([]byte{'z'}, name...))
	if wire.Write(ctx, c, env.Timeout, req) != nil {
		return
	}
	got, _ := wire.ReadUntil(ctx, c, env.Timeout, 1024, nil)
	res.Record("epmd-port-please2", req, got)
	if ni, ok := ParsePort2(got); ok {
		res.Set("epmd.node."+fieldName(name), ni.String())
	}
}

// fieldName makes a node name safe inside a field name.
func fieldName(s string) string {
	s = strings.ToLower(s)
	b := []byte(s)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

package rawsock

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// FilterSpec says which packets a Listener keeps. Offsets are from the IP
// header (cooked AF_PACKET); IPv4 fragments past the first are dropped.
type FilterSpec struct {
	TCPDstPort uint16   // TCP segments to this port, IPv4 and IPv6 (0: none)
	TCPPorts   []uint16 // more TCP destination ports, as TCPDstPort
	UDPDstPort uint16   // UDP datagrams to this port (0: none)
	ICMPErrors bool     // ICMP/ICMPv6 destination unreachable and time exceeded
	Echo       bool     // ICMP/ICMPv6 echo replies
	Snaplen    uint32   // bytes kept of an accepted packet (default 512)
}

// asm is a tiny two-pass assembler for classic BPF with named labels.
type asm struct {
	ins    []bpf.Instruction
	jumps  map[int][2]string // index -> true/false targets ("" = next)
	labels map[string]int
}

func newAsm() *asm { return &asm{jumps: map[int][2]string{}, labels: map[string]int{}} }

func (a *asm) op(i bpf.Instruction) { a.ins = append(a.ins, i) }
func (a *asm) label(name string)    { a.labels[name] = len(a.ins) }
func (a *asm) jeq(v uint32, t, f string) {
	a.jumps[len(a.ins)] = [2]string{t, f}
	a.ins = append(a.ins, bpf.JumpIf{Cond: bpf.JumpEqual, Val: v})
}
func (a *asm) jset(v uint32, t, f string) {
	a.jumps[len(a.ins)] = [2]string{t, f}
	a.ins = append(a.ins, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: v})
}
func (a *asm) jmp(t string) {
	a.jumps[len(a.ins)] = [2]string{t, ""}
	a.ins = append(a.ins, bpf.Jump{})
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	for i, tf := range a.jumps {
		skip := func(l string) (uint32, error) {
			if l == "" {
				return 0, nil
			}
			at, ok := a.labels[l]
			if !ok || at <= i {
				return 0, fmt.Errorf("bpf: bad label %q", l)
			}
			return uint32(at - i - 1), nil
		}
		t, err := skip(tf[0])
		if err != nil {
			return nil, err
		}
		f, err := skip(tf[1])
		if err != nil {
			return nil, err
		}
		switch j := a.ins[i].(type) {
		case bpf.JumpIf:
			if t > 255 || f > 255 {
				return nil, fmt.Errorf("bpf: jump too long")
			}
			j.SkipTrue, j.SkipFalse = uint8(t), uint8(f)
			a.ins[i] = j
		case bpf.Jump:
			j.Skip = t
			a.ins[i] = j
		}
	}
	return bpf.Assemble(a.ins)
}

// Filter compiles spec into a classic BPF program for Listen.
func Filter(spec FilterSpec) ([]bpf.RawInstruction, error) {
	snap := spec.Snaplen
	if snap == 0 {
		snap = 512
	}
	a := newAsm()
	tcpPorts := spec.TCPPorts
	if spec.TCPDstPort != 0 {
		tcpPorts = append([]uint16{spec.TCPDstPort}, tcpPorts...)
	}
	if len(tcpPorts) > 64 {
		return nil, fmt.Errorf("bpf: too many ports")
	}
	spec.TCPDstPort = 0
	if len(tcpPorts) > 0 {
		spec.TCPDstPort = tcpPorts[0]
	}
	matchTCP := func() {
		for _, p := range tcpPorts {
			a.jeq(uint32(p), "accept", "")
		}
		a.jmp("drop")
	}
	a.op(bpf.LoadAbsolute{Off: 0, Size: 1})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	a.jeq(0x40, "v4", "")
	a.jeq(0x60, "v6", "drop")

	a.label("v4")
	a.op(bpf.LoadAbsolute{Off: 6, Size: 2})
	a.jset(0x1fff, "drop", "")
	a.op(bpf.LoadAbsolute{Off: 9, Size: 1})
	if spec.TCPDstPort != 0 {
		a.jeq(ProtoTCP, "t4", "")
	}
	if spec.UDPDstPort != 0 {
		a.jeq(ProtoUDP, "u4", "")
	}
	if spec.ICMPErrors || spec.Echo {
		a.jeq(ProtoICMP, "i4", "")
	}
	a.jmp("drop")
	if spec.TCPDstPort != 0 {
		a.label("t4")
		a.op(bpf.LoadMemShift{Off: 0})
		a.op(bpf.LoadIndirect{Off: 2, Size: 2})
		matchTCP()
	}
	if spec.UDPDstPort != 0 {
		a.label("u4")
		a.op(bpf.LoadMemShift{Off: 0})
		a.op(bpf.LoadIndirect{Off: 2, Size: 2})
		a.jeq(uint32(spec.UDPDstPort), "accept", "drop")
	}
	if spec.ICMPErrors || spec.Echo {
		a.label("i4")
		a.op(bpf.LoadMemShift{Off: 0})
		a.op(bpf.LoadIndirect{Off: 0, Size: 1})
		if spec.ICMPErrors {
			a.jeq(ICMPUnreachable, "accept", "")
			a.jeq(ICMPTimeExceeded, "accept", "")
		}
		if spec.Echo {
			a.jeq(ICMPEchoReply, "accept", "")
		}
		a.jmp("drop")
	}

	a.label("v6")
	a.op(bpf.LoadAbsolute{Off: 6, Size: 1})
	if spec.TCPDstPort != 0 {
		a.jeq(ProtoTCP, "t6", "")
	}
	if spec.UDPDstPort != 0 {
		a.jeq(ProtoUDP, "u6", "")
	}
	if spec.ICMPErrors || spec.Echo {
		a.jeq(ProtoICMPv6, "i6", "")
	}
	a.jmp("drop")
	if spec.TCPDstPort != 0 {
		a.label("t6")
		a.op(bpf.LoadAbsolute{Off: 42, Size: 2})
		matchTCP()
	}
	if spec.UDPDstPort != 0 {
		a.label("u6")
		a.op(bpf.LoadAbsolute{Off: 42, Size: 2})
		a.jeq(uint32(spec.UDPDstPort), "accept", "drop")
	}
	if spec.ICMPErrors || spec.Echo {
		a.label("i6")
		a.op(bpf.LoadAbsolute{Off: 40, Size: 1})
		if spec.ICMPErrors {
			a.jeq(ICMPv6Unreachable, "accept", "")
			a.jeq(ICMPv6TimeExceeded, "accept", "")
		}
		if spec.Echo {
			a.jeq(ICMPv6EchoReply, "accept", "")
		}
		a.jmp("drop")
	}
	a.label("accept")
	a.op(bpf.RetConstant{Val: snap})
	a.label("drop")
	a.op(bpf.RetConstant{Val: 0})
	return a.assemble()
}

// ARPReplyFilter keeps ARP replies on an Ethernet packet socket (SOCK_RAW,
// offsets from the Ethernet header).
func ARPReplyFilter() ([]bpf.RawInstruction, error) {
	a := newAsm()
	a.op(bpf.LoadAbsolute{Off: 12, Size: 2})
	a.jeq(0x0806, "", "drop")
	a.op(bpf.LoadAbsolute{Off: 20, Size: 2})
	a.jeq(2, "", "drop")
	a.op(bpf.RetConstant{Val: 128})
	a.label("drop")
	a.op(bpf.RetConstant{Val: 0})
	return a.assemble()
}

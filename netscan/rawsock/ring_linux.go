//go:build linux

package rawsock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The receive ring (TPACKET_V3): the kernel writes packets into blocks of
// a memory area shared with us and hands a block over when it is full or
// after ringRetire milliseconds; one wake-up then delivers thousands of
// packets without a copy or a system call each. The ring absorbs what
// arrives while the reader is off the CPU: up to ringBlocks partly filled
// blocks, so ringBlocks x ringRetire ms of starvation (about 128ms), or the
// ring's bytes of answers, whichever comes first, before the kernel drops.
//
// The kernel allocates and zeroes the whole ring when it is set up (about
// 1 ms per MiB on a small VM, and as much again to free it), so a block is
// sized for the expected rate: what arrives in one retire period, at about
// ringPacketBytes a packet, between ringMinBlock and ringMaxBlock.
const (
	ringMinBlock    = 64 << 10
	ringMaxBlock    = 1 << 20
	ringBlocks      = 32
	ringFrameSize   = 2048 // only a sanity bound in V3: frames are packed
	ringRetire      = 4    // milliseconds a partly filled block waits
	ringPacketBytes = 128  // a header-only answer with its tpacket3_hdr, aligned
)

type ring struct {
	mem   []byte
	block int
	cur   int
}

// ringBlockSize is the block size for rate packets per second (0: unknown,
// the largest).
func ringBlockSize(rate float64) int {
	if rate <= 0 {
		return ringMaxBlock
	}
	need := rate * ringRetire / 1000 * ringPacketBytes
	b := ringMinBlock
	for b < ringMaxBlock && float64(b) < need {
		b <<= 1
	}
	return b
}

// setupRing switches fd to TPACKET_V3 and maps its receive ring.
func setupRing(fd int, rate float64) (*ring, error) {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, fmt.Errorf("TPACKET_V3: %w", err)
	}
	block := ringBlockSize(rate)
	req := unix.TpacketReq3{
		Block_size: uint32(block), Block_nr: ringBlocks,
		Frame_size: ringFrameSize, Frame_nr: uint32(block / ringFrameSize * ringBlocks),
		Retire_blk_tov: ringRetire,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, fmt.Errorf("PACKET_RX_RING: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, block*ringBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap ring: %w", err)
	}
	return &ring{mem: mem, block: block}, nil
}

func (r *ring) status(b int) *uint32 {
	// tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1
	// whose first word is block_status.
	return (*uint32)(unsafe.Pointer(&r.mem[b*r.block+8]))
}

// read delivers the packets of every block the kernel has handed over,
// waiting up to 50ms for the first (or until wake, the listener's
// eventfd, says it is closing).
func (r *ring) read(fd, wake int, snaplen int, fn func([]byte, time.Time)) (int, error) {
	n := 0
	for blocks := 0; blocks < ringBlocks; blocks++ {
		st := r.status(r.cur)
		if atomic.LoadUint32(st)&unix.TP_STATUS_USER == 0 {
			if n > 0 {
				return n, nil
			}
			if err := waitReadable(fd, wake, 50); err != nil {
				return 0, err
			}
			if atomic.LoadUint32(st)&unix.TP_STATUS_USER == 0 {
				return 0, nil
			}
		}
		blk := r.mem[r.cur*r.block : (r.cur+1)*r.block]
		num := int(binary.LittleEndian.Uint32(blk[12:]))
		off := int(binary.LittleEndian.Uint32(blk[16:]))
		for i := 0; i < num && off > 0 && off+28 <= len(blk); i++ {
			h := blk[off:]
			snap := int(binary.LittleEndian.Uint32(h[12:]))
			net := int(binary.LittleEndian.Uint16(h[26:]))
			if net+snap <= len(h) {
				// tp_sec, tp_nsec: when the kernel received the packet.
				ts := time.Unix(int64(binary.LittleEndian.Uint32(h[4:])), int64(binary.LittleEndian.Uint32(h[8:])))
				fn(h[net:net+min(snap, snaplen)], ts)
				n++
			}
			next := int(binary.LittleEndian.Uint32(h[0:]))
			if next == 0 {
				break
			}
			off += next
		}
		atomic.StoreUint32(st, unix.TP_STATUS_KERNEL)
		r.cur = (r.cur + 1) % ringBlocks
	}
	return n, nil
}

func (r *ring) close() { _ = unix.Munmap(r.mem) }

// waitReadable waits up to ms milliseconds for fd to have packets or for
// wake (an eventfd; -1 for none) to be signalled.
func waitReadable(fd, wake, ms int) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLERR}, {Fd: int32(wake), Events: unix.POLLIN}}
	if wake < 0 {
		fds = fds[:1]
	}
	if _, err := unix.Poll(fds, ms); err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("poll: %w", err)
	}
	return nil
}

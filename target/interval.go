package target

import (
	"math/big"
	"net/netip"
	"slices"
)

// interval is an inclusive address range of one family. The target list is
// held as a sorted, non-overlapping slice of these, so a /8 costs one element
// and duplicates and overlaps disappear when the slice is normalised.
type interval struct{ lo, hi netip.Addr }

func cmpInterval(a, b interval) int {
	if c := a.lo.Compare(b.lo); c != 0 {
		return c
	}
	return a.hi.Compare(b.hi)
}

// touches reports whether b (with b.lo >= a.lo) overlaps or is adjacent to a,
// so that the two can be merged. Families never merge.
func touches(a, b interval) bool {
	if a.lo.Is4() != b.lo.Is4() {
		return false
	}
	if b.lo.Compare(a.hi) <= 0 {
		return true
	}
	n := a.hi.Next()
	return n.IsValid() && n == b.lo
}

// normalize sorts and merges ivs in place and returns the result.
func normalize(ivs []interval) []interval {
	if len(ivs) < 2 {
		return ivs
	}
	slices.SortFunc(ivs, cmpInterval)
	out := ivs[:1]
	for _, iv := range ivs[1:] {
		last := &out[len(out)-1]
		if touches(*last, iv) {
			if last.hi.Less(iv.hi) {
				last.hi = iv.hi
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// subtract removes every address of ex from ivs; both must be normalised.
// It walks the two sorted lists once.
func subtract(ivs, ex []interval) []interval {
	if len(ex) == 0 {
		return ivs
	}
	var out []interval
	j := 0
	for _, iv := range ivs {
		cur := iv
		alive := true
		// skip exclusions wholly below cur
		for j < len(ex) && ex[j].hi.Less(cur.lo) {
			j++
		}
		for k := j; alive && k < len(ex) && ex[k].lo.Compare(cur.hi) <= 0; k++ {
			e := ex[k]
			if cur.lo.Less(e.lo) {
				out = append(out, interval{cur.lo, e.lo.Prev()})
			}
			if e.hi.Less(cur.hi) {
				cur.lo = e.hi.Next()
			} else {
				alive = false
			}
		}
		if alive {
			out = append(out, cur)
		}
	}
	return out
}

// u128 holds an address (or a count) as a 128-bit unsigned integer.
type u128 struct{ hi, lo uint64 }

func toU128(a netip.Addr) u128 {
	b := a.As16()
	var v u128
	for i := 0; i < 8; i++ {
		v.hi = v.hi<<8 | uint64(b[i])
		v.lo = v.lo<<8 | uint64(b[8+i])
	}
	return v
}

// size is hi-lo+1; it wraps to 0 only for the whole IPv6 space.
func (iv interval) size() u128 {
	a, b := toU128(iv.lo), toU128(iv.hi)
	lo := b.lo - a.lo
	hi := b.hi - a.hi
	if b.lo < a.lo {
		hi--
	}
	lo++
	if lo == 0 {
		hi++
	}
	return u128{hi, lo}
}

// bigSize is the number of addresses in iv, exact even for ::/0.
func (iv interval) bigSize() *big.Int {
	v := iv.size()
	if v == (u128{}) {
		return new(big.Int).Lsh(big.NewInt(1), 128)
	}
	return v.big()
}

func (v u128) big() *big.Int {
	x := new(big.Int).SetUint64(v.hi)
	x.Lsh(x, 64)
	return x.Or(x, new(big.Int).SetUint64(v.lo))
}

// fitsBits reports whether iv holds at most 2^bits addresses.
func (iv interval) fitsBits(bits int) bool {
	if bits >= 128 {
		return true
	}
	bits = max(bits, 0)
	return iv.bigSize().Cmp(new(big.Int).Lsh(big.NewInt(1), uint(bits))) <= 0
}

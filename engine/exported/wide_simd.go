//go:build goexperiment.simd && amd64

package exported

import (
	"math/bits"
	"simd/archsimd"
)

// haveWide: compactWide needs AVX-512 with byte permutes (VBMI) and byte compression
// (VBMI2).
var haveWide = archsimd.X86.AVX512() && archsimd.X86.AVX512VBMI() && archsimd.X86.AVX512VBMI2()

// times10 and times100 map a digit to ten and a hundred times it (a byte: the hundreds
// digits above 2 wrap, and are refused before they count).
var times10, times100 = digitTable(10), digitTable(100)

func digitTable(k int) archsimd.Uint8x64 {
	var t [64]uint8
	for d := range 10 {
		t[d] = uint8(d * k)
	}
	return archsimd.LoadUint8x64(&t)
}

// compactWide reads compact byte values ("12,255,0,") from buf[i:] into p a 64-byte block
// at a time, all the values of a block at once: the digit and comma masks say where each
// value's ones, tens and hundreds digits are, two loads shifted by one and two bytes put
// the tens and hundreds beside the ones, a table lookup weighs them, and the values are
// compressed to the front and stored. It takes only the values of a block that are
// plainly right and ends each block after its last comma; it stops at the first block
// with anything else (whitespace, a bad value, the array's end) or without room, and
// returns the values read and where it stopped: compact and the careful path take it
// from there. buf[i] starts a value, and the two bytes before it are readable (i >= 2).
func compactWide(p, buf []byte, i int) (n, next int) {
	if !haveWide || i < 2 {
		return 0, i
	}
	var (
		zero  = archsimd.BroadcastUint8x64('0')
		nine  = archsimd.BroadcastUint8x64(9)
		comma = archsimd.BroadcastUint8x64(',')
		two   = archsimd.BroadcastUint8x64(2)
		five  = archsimd.BroadcastUint8x64(5)
		none  = archsimd.BroadcastUint8x64(0)
	)
	for len(p)-n >= 64 && len(buf)-i >= 64 {
		x := archsimd.LoadUint8x64Slice(buf[i : i+64])
		d := x.Sub(zero) // digits as values; other bytes wrap above 9
		digit := d.LessEqual(nine).ToBits()
		commas := x.Equal(comma).ToBits()
		region := ^uint64(0) // the block up to its first byte that is neither
		if other := ^(digit | commas); other != 0 {
			region = other&-other - 1
		}
		c := commas & region
		if c == 0 || digit&1 == 0 {
			return n, i
		}
		ones := c >> 1 // the ones digit of each value: the byte before its comma
		if ones&^digit != 0 {
			return n, i // an empty value (",,")
		}
		tens := ones & (digit << 1)
		hundreds := tens & (digit << 2)
		if hundreds&(digit<<3) != 0 {
			return n, i // four digits or more
		}
		t := archsimd.LoadUint8x64Slice(buf[i-1 : i+63]).Sub(zero).Masked(archsimd.Mask8x64FromBits(tens))
		h := archsimd.LoadUint8x64Slice(buf[i-2 : i+62]).Sub(zero).Masked(archsimd.Mask8x64FromBits(hundreds))
		leadingZero := t.Equal(none).ToBits()&(tens&^hundreds) | h.Equal(none).ToBits()&hundreds
		over := h.Greater(two).ToBits() | h.Equal(two).ToBits()&(t.Greater(five).ToBits()|t.Equal(five).ToBits()&d.Greater(five).ToBits())
		if leadingZero|over&hundreds != 0 {
			return n, i
		}
		v := d.Add(times10.Permute(t)).Add(times100.Permute(h))
		v.Compress(archsimd.Mask8x64FromBits(ones)).StoreSlice(p[n : n+64])
		n += bits.OnesCount64(ones)
		i += 64 - bits.LeadingZeros64(c)
	}
	return n, i
}

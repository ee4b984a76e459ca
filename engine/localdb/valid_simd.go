//go:build goexperiment.simd && amd64

package localdb

import (
	"math/bits"
	"simd/archsimd"
)

// haveWide: plainRun needs AVX-512 (byte compares into mask registers).
var haveWide = archsimd.X86.AVX512()

// plainRun returns how many bytes of b, from its start, hold no control character, '"'
// or '\\', looking 64 bytes at a time; it stops looking at the last block of b shorter
// than 64 bytes, which skipString reads eight bytes at a time.
func plainRun(b []byte) int {
	if !haveWide {
		return 0
	}
	var (
		space = archsimd.BroadcastUint8x64(0x20)
		quote = archsimd.BroadcastUint8x64('"')
		slash = archsimd.BroadcastUint8x64('\\')
	)
	i := 0
	for len(b)-i >= 64 {
		x := archsimd.LoadUint8x64Slice(b[i : i+64])
		if m := x.Less(space).ToBits() | x.Equal(quote).ToBits() | x.Equal(slash).ToBits(); m != 0 {
			return i + bits.TrailingZeros64(m)
		}
		i += 64
	}
	return i
}

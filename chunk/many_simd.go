//go:build goexperiment.simd && amd64

package chunk

import (
	"encoding/binary"
	"math/bits"
	"simd/archsimd"
	"sync"
)

// haveMany: the kernel needs AVX-512 (sixteen 32-bit lanes and a rotate instruction).
var haveMany = archsimd.X86.AVX512()

type vec = archsimd.Uint32x16

const pieceLen = 1024 // BLAKE3's chunk: the unit a lane hashes

// piece is one lane's work: up to 1 KiB of an input, at position counter (in pieces)
// within it. A root piece is a whole input of at most 1 KiB; its result is the hash.
type piece struct {
	data    []byte
	counter uint64
	root    bool
	cv      int // where the result goes: scratch.cvs[cv]
}

// multi is an input of more than one piece: its pieces' results, in order, are
// scratch.cvs[first : first+n].
type multi struct {
	msg, first, n int
}

type scratch struct {
	pieces []piece
	multis []multi
	cvs    [][8]uint32
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

func (h *Hasher) hashMany(msgs [][]byte, out []ID) {
	s := scratches.Get().(*scratch)
	defer scratches.Put(s)
	s.pieces, s.multis, s.cvs = s.pieces[:0], s.multis[:0], s.cvs[:0]
	roots := make([]int, 0, len(msgs)) // the cv of each input of one piece, or -1
	for i, m := range msgs {
		n := max(1, (len(m)+pieceLen-1)/pieceLen)
		first := len(s.cvs)
		for c := range n {
			s.pieces = append(s.pieces, piece{data: m[c*pieceLen : min(len(m), (c+1)*pieceLen)], counter: uint64(c), root: n == 1, cv: first + c})
			s.cvs = append(s.cvs, [8]uint32{})
		}
		if n == 1 {
			roots = append(roots, first)
		} else {
			roots = append(roots, -1)
			s.multis = append(s.multis, multi{msg: i, first: first, n: n})
		}
	}
	for p := 0; p < len(s.pieces); p += 16 {
		h.hash16(s.pieces[p:min(p+16, len(s.pieces))], s.cvs)
	}
	for i, cv := range roots {
		if cv >= 0 {
			putWords(&out[i], &s.cvs[cv])
		}
	}
	for _, m := range s.multis {
		root := h.subtree(s.cvs[m.first:m.first+m.n], true)
		putWords(&out[m.msg], &root)
	}
}

func putWords(id *ID, w *[8]uint32) {
	for i, x := range w {
		binary.LittleEndian.PutUint32(id[4*i:], x)
	}
}

// subtree joins the results of consecutive pieces as BLAKE3's tree does: the left
// subtree holds the largest power of two of pieces that leaves at least one for the
// right.
func (h *Hasher) subtree(cvs [][8]uint32, root bool) [8]uint32 {
	if len(cvs) == 1 {
		return cvs[0]
	}
	left := 1 << (bits.Len(uint(len(cvs)-1)) - 1)
	l, r := h.subtree(cvs[:left], false), h.subtree(cvs[left:], false)
	var block [16]uint32
	copy(block[:8], l[:])
	copy(block[8:], r[:])
	flags := h.flags() | flagParent
	if root {
		flags |= flagRoot
	}
	return compress1(&h.key, &block, 0, 64, flags)
}

func (h *Hasher) flags() uint32 {
	if h.keyed {
		return flagKeyedHash
	}
	return 0
}

// hash16 runs up to sixteen pieces side by side, one per lane, and stores each
// result in cvs. All lanes run the same compressions in step; a lane whose piece has
// fewer blocks keeps its result from its last block.
func (h *Hasher) hash16(ps []piece, cvs [][8]uint32) {
	var blocks [16]int // blocks per lane, at least 1
	var counters [16]uint32
	maxBlocks := 0
	for k, p := range ps {
		nb := max(1, (len(p.data)+63)/64)
		blocks[k] = nb
		maxBlocks = max(maxBlocks, nb)
		counters[k] = uint32(p.counter)
	}
	base := h.flags()
	var cv [8]vec
	for i := range cv {
		cv[i] = archsimd.BroadcastUint32x16(h.key[i])
	}
	counter := archsimd.LoadUint32x16(&counters)
	var words [16][16]uint32 // words[w][lane]
	var lens, flags [16]uint32
	var pad [64]byte
	for b := 0; b < maxBlocks; b++ {
		var active uint16
		for k, p := range ps {
			if b >= blocks[k] {
				continue
			}
			active |= 1 << k
			m := p.data[b*64:]
			f := base
			if b == 0 {
				f |= flagChunkStart
			}
			var blk *[64]byte
			if b == blocks[k]-1 {
				f |= flagChunkEnd
				if p.root {
					f |= flagRoot
				}
				lens[k] = uint32(len(m))
				pad = [64]byte{}
				copy(pad[:], m)
				blk = &pad
			} else {
				lens[k] = 64
				blk = (*[64]byte)(m[:64])
			}
			flags[k] = f
			for w := range 16 {
				words[w][k] = binary.LittleEndian.Uint32(blk[4*w:])
			}
		}
		var m [16]vec
		for w := range m {
			m[w] = archsimd.LoadUint32x16(&words[w])
		}
		next := compress16(&cv, &m, counter, archsimd.LoadUint32x16(&lens), archsimd.LoadUint32x16(&flags))
		mask := archsimd.Mask32x16FromBits(active)
		for i := range cv {
			cv[i] = next[i].Merge(cv[i], mask)
		}
	}
	var res [8][16]uint32
	for i := range cv {
		cv[i].Store(&res[i])
	}
	for k, p := range ps {
		c := &cvs[p.cv]
		for w := range 8 {
			c[w] = res[w][k]
		}
	}
}

func g(a, b, c, d, x, y vec) (vec, vec, vec, vec) {
	a = a.Add(b).Add(x)
	d = d.Xor(a).RotateAllRight(16)
	c = c.Add(d)
	b = b.Xor(c).RotateAllRight(12)
	a = a.Add(b).Add(y)
	d = d.Xor(a).RotateAllRight(8)
	c = c.Add(d)
	b = b.Xor(c).RotateAllRight(7)
	return a, b, c, d
}

// schedule is BLAKE3's message word order for each of the seven rounds.
var schedule = [7][16]uint8{
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
	{3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
	{10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
	{12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
	{9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
	{11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
}

// compress16 is BLAKE3's compression function in sixteen lanes (block counters
// below 2^32), returning the first eight output words: the next chaining value, or
// the hash of a root block.
func compress16(cv *[8]vec, m *[16]vec, counter, blen, flags vec) [8]vec {
	v0, v1, v2, v3, v4, v5, v6, v7 := cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7]
	v8 := archsimd.BroadcastUint32x16(blake3IV[0])
	v9 := archsimd.BroadcastUint32x16(blake3IV[1])
	v10 := archsimd.BroadcastUint32x16(blake3IV[2])
	v11 := archsimd.BroadcastUint32x16(blake3IV[3])
	var zero vec
	v12, v13, v14, v15 := counter, zero, blen, flags
	for r := range 7 {
		s := &schedule[r]
		v0, v4, v8, v12 = g(v0, v4, v8, v12, m[s[0]], m[s[1]])
		v1, v5, v9, v13 = g(v1, v5, v9, v13, m[s[2]], m[s[3]])
		v2, v6, v10, v14 = g(v2, v6, v10, v14, m[s[4]], m[s[5]])
		v3, v7, v11, v15 = g(v3, v7, v11, v15, m[s[6]], m[s[7]])
		v0, v5, v10, v15 = g(v0, v5, v10, v15, m[s[8]], m[s[9]])
		v1, v6, v11, v12 = g(v1, v6, v11, v12, m[s[10]], m[s[11]])
		v2, v7, v8, v13 = g(v2, v7, v8, v13, m[s[12]], m[s[13]])
		v3, v4, v9, v14 = g(v3, v4, v9, v14, m[s[14]], m[s[15]])
	}
	return [8]vec{v0.Xor(v8), v1.Xor(v9), v2.Xor(v10), v3.Xor(v11), v4.Xor(v12), v5.Xor(v13), v6.Xor(v14), v7.Xor(v15)}
}

// compress1 is BLAKE3's compression function for one block (parent nodes),
// returning the first eight output words.
func compress1(cv *[8]uint32, m *[16]uint32, counter uint64, blen, flags uint32) [8]uint32 {
	v := [16]uint32{cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
		blake3IV[0], blake3IV[1], blake3IV[2], blake3IV[3], uint32(counter), uint32(counter >> 32), blen, flags}
	gs := func(a, b, c, d int, x, y uint32) {
		v[a] += v[b] + x
		v[d] = bits.RotateLeft32(v[d]^v[a], -16)
		v[c] += v[d]
		v[b] = bits.RotateLeft32(v[b]^v[c], -12)
		v[a] += v[b] + y
		v[d] = bits.RotateLeft32(v[d]^v[a], -8)
		v[c] += v[d]
		v[b] = bits.RotateLeft32(v[b]^v[c], -7)
	}
	for r := range 7 {
		s := &schedule[r]
		gs(0, 4, 8, 12, m[s[0]], m[s[1]])
		gs(1, 5, 9, 13, m[s[2]], m[s[3]])
		gs(2, 6, 10, 14, m[s[4]], m[s[5]])
		gs(3, 7, 11, 15, m[s[6]], m[s[7]])
		gs(0, 5, 10, 15, m[s[8]], m[s[9]])
		gs(1, 6, 11, 12, m[s[10]], m[s[11]])
		gs(2, 7, 8, 13, m[s[12]], m[s[13]])
		gs(3, 4, 9, 14, m[s[14]], m[s[15]])
	}
	var out [8]uint32
	for i := range out {
		out[i] = v[i] ^ v[i+8]
	}
	return out
}

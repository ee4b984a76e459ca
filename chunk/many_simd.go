//go:build goexperiment.simd && amd64

package chunk

import (
	"encoding/binary"
	"math/bits"
	"simd/archsimd"
	"slices"
	"sync"
	"unsafe"
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
// scratch.cvs[first : first+n]. As its tree is joined level by level, n counts the
// nodes of the level reached, which are kept in the same place.
type multi struct {
	msg, first, n int
}

// parentJob is one parent node: its children's chaining values are scratch.cvs[src]
// and scratch.cvs[src+1] (the block to compress, as they lie in memory), its result
// goes to scratch.cvs[dst].
type parentJob struct {
	src, dst int
	root     bool
}

type scratch struct {
	pieces []piece
	sorted []piece // pieces, by their number of blocks
	multis []multi
	cvs    [][8]uint32
	jobs   []parentJob
}

// blocksOf is the number of 64-byte blocks BLAKE3 compresses for a piece of n bytes.
func blocksOf(n int) int { return max(1, (n+63)/64) }

// byBlocks returns the pieces ordered by their number of blocks, most first (a
// counting sort: 1 to 16 blocks). A group of sixteen lanes runs as many compressions
// as its longest piece has blocks, so pieces of like length side by side waste few
// lanes, and more groups run every lane in full (hash16).
func (s *scratch) byBlocks() []piece {
	var count [pieceLen/64 + 1]int
	for _, p := range s.pieces {
		count[blocksOf(len(p.data))]++
	}
	var at [len(count)]int
	for nb, n := len(count)-1, 0; nb >= 1; nb-- {
		at[nb] = n
		n += count[nb]
	}
	s.sorted = slices.Grow(s.sorted[:0], len(s.pieces))[:len(s.pieces)]
	for _, p := range s.pieces {
		nb := blocksOf(len(p.data))
		s.sorted[at[nb]] = p
		at[nb]++
	}
	return s.sorted
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

func (h *Hasher) hashMany(msgs [][]byte, out []ID) {
	s := scratches.Get().(*scratch)
	defer scratches.Put(s)
	s.pieces, s.multis, s.cvs, s.jobs = s.pieces[:0], s.multis[:0], s.cvs[:0], s.jobs[:0]
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
	pieces := s.byBlocks()
	for p := 0; p < len(pieces); p += 16 {
		h.hash16(pieces[p:min(p+16, len(pieces))], s.cvs)
	}
	for i, cv := range roots {
		if cv >= 0 {
			putWords(&out[i], &s.cvs[cv])
		}
	}
	h.joinTrees(s)
	for _, m := range s.multis {
		putWords(&out[m.msg], &s.cvs[m.first])
	}
}

func putWords(id *ID, w *[8]uint32) {
	for i, x := range w {
		binary.LittleEndian.PutUint32(id[4*i:], x)
	}
}

// joinTrees joins the pieces' results of every input of more than one piece as
// BLAKE3's tree does, leaving each input's hash at the place of its first piece.
// BLAKE3's tree, whose left subtree holds the largest power of two of pieces that
// leaves at least one for the right, is the one built level by level: neighbours
// joined in pairs, an odd last node carried up as it is. So every level of every
// input is one round of independent parent compressions, run sixteen at a time
// across the inputs like the pieces are.
func (h *Hasher) joinTrees(s *scratch) {
	for {
		s.jobs = s.jobs[:0]
		for _, m := range s.multis {
			for k := range m.n / 2 {
				s.jobs = append(s.jobs, parentJob{src: m.first + 2*k, dst: m.first + k, root: m.n == 2})
			}
		}
		if len(s.jobs) == 0 {
			return
		}
		// A job writes below where any later one reads (dst = first+k < first+2k'
		// for k < k'), so each level is joined in place.
		for j := 0; j < len(s.jobs); j += 16 {
			h.parents16(s.jobs[j:min(j+16, len(s.jobs))], s.cvs)
		}
		for i := range s.multis {
			m := &s.multis[i]
			if m.n%2 == 1 && m.n > 1 {
				s.cvs[m.first+m.n/2] = s.cvs[m.first+m.n-1] // carried up
			}
			m.n = (m.n + 1) / 2
		}
	}
}

// parents16 runs up to sixteen parent compressions side by side, one per lane; a
// few are run one at a time, which is cheaper than a mostly empty vector.
func (h *Hasher) parents16(jobs []parentJob, cvs [][8]uint32) {
	base := h.flags() | flagParent
	if len(jobs) < 3 {
		for _, j := range jobs {
			f := base
			if j.root {
				f |= flagRoot
			}
			cvs[j.dst] = compress1(&h.key, (*[16]uint32)(unsafe.Pointer(&cvs[j.src])), 0, 64, f)
		}
		return
	}
	var m [16]vec
	var flags [16]uint32
	for k, j := range jobs {
		m[k] = archsimd.LoadUint32x16((*[16]uint32)(unsafe.Pointer(&cvs[j.src]))) // both children
		flags[k] = base
		if j.root {
			flags[k] |= flagRoot
		}
	}
	transpose(&m)
	var cv [8]vec
	for i := range cv {
		cv[i] = archsimd.BroadcastUint32x16(h.key[i])
	}
	next := compress16(&cv, &m, vec{}, archsimd.BroadcastUint32x16(64), archsimd.LoadUint32x16(&flags))
	var res [8][16]uint32
	for i := range next {
		next[i].Store(&res[i])
	}
	for k, j := range jobs {
		c := &cvs[j.dst]
		for w := range 8 {
			c[w] = res[w][k]
		}
	}
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
		nb := blocksOf(len(p.data))
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
	var m [16]vec
	// The blocks every lane has in full before its last (most of a 1 KiB piece) run
	// without a look at each lane: all are active, 64 bytes long, with the same flags.
	full := maxBlocks
	var at [16]unsafe.Pointer // each lane's first byte
	for k, p := range ps {
		full = min(full, blocks[k]-1)
		if len(p.data) > 0 {
			at[k] = unsafe.Pointer(unsafe.SliceData(p.data))
		}
	}
	blen := archsimd.BroadcastUint32x16(64)
	for b := 0; b < full; b++ {
		for k := range ps {
			m[k] = archsimd.LoadUint32x16((*[16]uint32)(unsafe.Add(at[k], b*64))) // little-endian words
		}
		for k := len(ps); k < 16; k++ {
			m[k] = vec{}
		}
		transpose(&m)
		f := base
		if b == 0 {
			f |= flagChunkStart
		}
		cv = compress16(&cv, &m, counter, blen, archsimd.BroadcastUint32x16(f))
	}
	var lens, flags [16]uint32
	var pads [16][16]uint32 // zero-padded last blocks
	for b := full; b < maxBlocks; b++ {
		var active uint16
		for k, p := range ps {
			if b >= blocks[k] {
				m[k] = vec{}
				continue
			}
			active |= 1 << k
			rest := p.data[b*64:]
			f := base
			if b == 0 {
				f |= flagChunkStart
			}
			if b == blocks[k]-1 {
				f |= flagChunkEnd
				if p.root {
					f |= flagRoot
				}
				lens[k] = uint32(len(rest))
				pads[k] = [16]uint32{}
				copy(unsafe.Slice((*byte)(unsafe.Pointer(&pads[k])), 64), rest)
				m[k] = archsimd.LoadUint32x16(&pads[k])
			} else {
				lens[k] = 64
				m[k] = archsimd.LoadUint32x16((*[16]uint32)(unsafe.Pointer(&rest[0]))) // little-endian words
			}
			flags[k] = f
		}
		for k := len(ps); k < 16; k++ {
			m[k] = vec{}
		}
		transpose(&m) // m[k] held lane k's block; now m[w] holds word w of every lane
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

// transposeIdx[s] are the two permutations of stage s of transpose, for blocks of
// 8, 4, 2 and 1 words: of rows a and c, lo takes each pair of blocks' first halves
// (a's, then c's) and hi their second halves.
var transposeIdx = func() (idx [4][2]vec) {
	for s, b := range []int{8, 4, 2, 1} {
		var lo, hi [16]uint32
		n := 0
		for blk := 0; blk < 16; blk += 2 * b {
			for j := range b {
				lo[n+j], lo[n+b+j] = uint32(blk+j), uint32(16+blk+j)
				hi[n+j], hi[n+b+j] = uint32(blk+b+j), uint32(16+blk+b+j)
			}
			n += 2 * b
		}
		idx[s] = [2]vec{archsimd.LoadUint32x16(&lo), archsimd.LoadUint32x16(&hi)}
	}
	return idx
}()

// transpose transposes the 16x16 matrix of words whose rows are m, in four stages
// of two-register permutations (unrolled, so that the rows stay in registers).
func transpose(m *[16]vec) {
	m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15 := m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11], m[12], m[13], m[14], m[15]
	lo, hi := transposeIdx[0][0], transposeIdx[0][1]
	m0, m8 = m0.ConcatPermute(m8, lo), m0.ConcatPermute(m8, hi)
	m1, m9 = m1.ConcatPermute(m9, lo), m1.ConcatPermute(m9, hi)
	m2, m10 = m2.ConcatPermute(m10, lo), m2.ConcatPermute(m10, hi)
	m3, m11 = m3.ConcatPermute(m11, lo), m3.ConcatPermute(m11, hi)
	m4, m12 = m4.ConcatPermute(m12, lo), m4.ConcatPermute(m12, hi)
	m5, m13 = m5.ConcatPermute(m13, lo), m5.ConcatPermute(m13, hi)
	m6, m14 = m6.ConcatPermute(m14, lo), m6.ConcatPermute(m14, hi)
	m7, m15 = m7.ConcatPermute(m15, lo), m7.ConcatPermute(m15, hi)
	lo, hi = transposeIdx[1][0], transposeIdx[1][1]
	m0, m4 = m0.ConcatPermute(m4, lo), m0.ConcatPermute(m4, hi)
	m1, m5 = m1.ConcatPermute(m5, lo), m1.ConcatPermute(m5, hi)
	m2, m6 = m2.ConcatPermute(m6, lo), m2.ConcatPermute(m6, hi)
	m3, m7 = m3.ConcatPermute(m7, lo), m3.ConcatPermute(m7, hi)
	m8, m12 = m8.ConcatPermute(m12, lo), m8.ConcatPermute(m12, hi)
	m9, m13 = m9.ConcatPermute(m13, lo), m9.ConcatPermute(m13, hi)
	m10, m14 = m10.ConcatPermute(m14, lo), m10.ConcatPermute(m14, hi)
	m11, m15 = m11.ConcatPermute(m15, lo), m11.ConcatPermute(m15, hi)
	lo, hi = transposeIdx[2][0], transposeIdx[2][1]
	m0, m2 = m0.ConcatPermute(m2, lo), m0.ConcatPermute(m2, hi)
	m1, m3 = m1.ConcatPermute(m3, lo), m1.ConcatPermute(m3, hi)
	m4, m6 = m4.ConcatPermute(m6, lo), m4.ConcatPermute(m6, hi)
	m5, m7 = m5.ConcatPermute(m7, lo), m5.ConcatPermute(m7, hi)
	m8, m10 = m8.ConcatPermute(m10, lo), m8.ConcatPermute(m10, hi)
	m9, m11 = m9.ConcatPermute(m11, lo), m9.ConcatPermute(m11, hi)
	m12, m14 = m12.ConcatPermute(m14, lo), m12.ConcatPermute(m14, hi)
	m13, m15 = m13.ConcatPermute(m15, lo), m13.ConcatPermute(m15, hi)
	lo, hi = transposeIdx[3][0], transposeIdx[3][1]
	m0, m1 = m0.ConcatPermute(m1, lo), m0.ConcatPermute(m1, hi)
	m2, m3 = m2.ConcatPermute(m3, lo), m2.ConcatPermute(m3, hi)
	m4, m5 = m4.ConcatPermute(m5, lo), m4.ConcatPermute(m5, hi)
	m6, m7 = m6.ConcatPermute(m7, lo), m6.ConcatPermute(m7, hi)
	m8, m9 = m8.ConcatPermute(m9, lo), m8.ConcatPermute(m9, hi)
	m10, m11 = m10.ConcatPermute(m11, lo), m10.ConcatPermute(m11, hi)
	m12, m13 = m12.ConcatPermute(m13, lo), m12.ConcatPermute(m13, hi)
	m14, m15 = m14.ConcatPermute(m15, lo), m14.ConcatPermute(m15, hi)
	m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11], m[12], m[13], m[14], m[15] = m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15
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
// the hash of a root block. The seven rounds are unrolled with the message words in
// schedule order, so that no word is looked up at run time.
func compress16(cv *[8]vec, m *[16]vec, counter, blen, flags vec) [8]vec {
	v0, v1, v2, v3, v4, v5, v6, v7 := cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7]
	v8 := archsimd.BroadcastUint32x16(blake3IV[0])
	v9 := archsimd.BroadcastUint32x16(blake3IV[1])
	v10 := archsimd.BroadcastUint32x16(blake3IV[2])
	v11 := archsimd.BroadcastUint32x16(blake3IV[3])
	v12, v13, v14, v15 := counter, vec{}, blen, flags
	m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15 := m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11], m[12], m[13], m[14], m[15]
	// round 1
	v0, v4, v8, v12 = g(v0, v4, v8, v12, m0, m1)
	v1, v5, v9, v13 = g(v1, v5, v9, v13, m2, m3)
	v2, v6, v10, v14 = g(v2, v6, v10, v14, m4, m5)
	v3, v7, v11, v15 = g(v3, v7, v11, v15, m6, m7)
	v0, v5, v10, v15 = g(v0, v5, v10, v15, m8, m9)
	v1, v6, v11, v12 = g(v1, v6, v11, v12, m10, m11)
	v2, v7, v8, v13 = g(v2, v7, v8, v13, m12, m13)
	v3, v4, v9, v14 = g(v3, v4, v9, v14, m14, m15)
	// round 2
	v0, v4, v8, v12 = g(v0, v4, v8, v12, m2, m6)
	v1, v5, v9, v13 = g(v1, v5, v9, v13, m3, m10)
	v2, v6, v10, v14 = g(v2, v6, v10, v14, m7, m0)
	v3, v7, v11, v15 = g(v3, v7, v11, v15, m4, m13)
	v0, v5, v10, v15 = g(v0, v5, v10, v15, m1, m11)
	v1, v6, v11, v12 = g(v1, v6, v11, v12, m12, m5)
	v2, v7, v8, v13 = g(v2, v7, v8, v13, m9, m14)
	v3, v4, v9, v14 = g(v3, v4, v9, v14, m15, m8)
	// round 3
	v0, v4, v8, v12 = g(v0, v4, v8, v12, m3, m4)
	v1, v5, v9, v13 = g(v1, v5, v9, v13, m10, m12)
	v2, v6, v10, v14 = g(v2, v6, v10, v14, m13, m2)
	v3, v7, v11, v15 = g(v3, v7, v11, v15, m7, m14)
	v0, v5, v10, v15 = g(v0, v5, v10, v15, m6, m5)
	v1, v6, v11, v12 = g(v1, v6, v11, v12, m9, m0)
	v2, v7, v8, v13 = g(v2, v7, v8, v13, m11, m15)
	v3, v4, v9, v14 = g(v3, v4, v9, v14, m8, m1)
	// round 4
	v0, v4, v8, v12 = g(v0, v4, v8, v12, m10, m7)
	v1, v5, v9, v13 = g(v1, v5, v9, v13, m12, m9)
	v2, v6, v10, v14 = g(v2, v6, v10, v14, m14, m3)
	v3, v7, v11, v15 = g(v3, v7, v11, v15, m13, m15)
	v0, v5, v10, v15 = g(v0, v5, v10, v15, m4, m0)
	v1, v6, v11, v12 = g(v1, v6, v11, v12, m11, m2)
	v2, v7, v8, v13 = g(v2, v7, v8, v13, m5, m8)
	v3, v4, v9, v14 = g(v3, v4, v9, v14, m1, m6)
	// round 5
	v0, v4, v8, v12 = g(v0, v4, v8, v12, m12, m13)
	v1, v5, v9, v13 = g(v1, v5, v9, v13, m9, m11)
	v2, v6, v10, v14 = g(v2, v6, v10, v14, m15, m10)
	v3, v7, v11, v15 = g(v3, v7, v11, v15, m14, m8)
	v0, v5, v10, v15 = g(v0, v5, v10, v15, m7, m2)
	v1, v6, v11, v12 = g(v1, v6, v11, v12, m5, m3)
	v2, v7, v8, v13 = g(v2, v7, v8, v13, m0, m1)
	v3, v4, v9, v14 = g(v3, v4, v9, v14, m6, m4)
	// round 6
	v0, v4, v8, v12 = g(v0, v4, v8, v12, m9, m14)
	v1, v5, v9, v13 = g(v1, v5, v9, v13, m11, m5)
	v2, v6, v10, v14 = g(v2, v6, v10, v14, m8, m12)
	v3, v7, v11, v15 = g(v3, v7, v11, v15, m15, m1)
	v0, v5, v10, v15 = g(v0, v5, v10, v15, m13, m3)
	v1, v6, v11, v12 = g(v1, v6, v11, v12, m0, m10)
	v2, v7, v8, v13 = g(v2, v7, v8, v13, m2, m6)
	v3, v4, v9, v14 = g(v3, v4, v9, v14, m4, m7)
	// round 7
	v0, v4, v8, v12 = g(v0, v4, v8, v12, m11, m15)
	v1, v5, v9, v13 = g(v1, v5, v9, v13, m5, m0)
	v2, v6, v10, v14 = g(v2, v6, v10, v14, m1, m9)
	v3, v7, v11, v15 = g(v3, v7, v11, v15, m8, m6)
	v0, v5, v10, v15 = g(v0, v5, v10, v15, m14, m10)
	v1, v6, v11, v12 = g(v1, v6, v11, v12, m2, m12)
	v2, v7, v8, v13 = g(v2, v7, v8, v13, m3, m4)
	v3, v4, v9, v14 = g(v3, v4, v9, v14, m7, m13)
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

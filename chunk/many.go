package chunk

import (
	"encoding/binary"
	"sync"

	"github.com/zeebo/blake3"
)

// A Hasher names chunks: the BLAKE3-256 hash of their bytes, keyed when the
// repository is encrypted. HashMany names many chunks at once, which is what the
// backup, restore and check paths do. Chunks here are a few KiB, and BLAKE3 hashes
// such an input as a chain of 64-byte compressions per 1 KiB piece: one input at a
// time leaves the CPU's vector units idle. With AVX-512 (many_simd.go) HashMany runs
// sixteen pieces, of any of the inputs, side by side in the lanes of the vector
// registers and joins the pieces of each input as BLAKE3's tree does. Elsewhere, and
// for Hash, github.com/zeebo/blake3 does the work.
type Hasher struct {
	keyed bool
	key   [8]uint32 // the key as BLAKE3 words; the IV when unkeyed
	pool  sync.Pool // of *blake3.Hasher with the key, for Hash
}

// blake3IV is BLAKE3's initialisation vector, the key of the unkeyed hash.
var blake3IV = [8]uint32{0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19}

// NewHasher returns a hasher for the plain hash (key nil) or the hash keyed by key.
func NewHasher(key *[32]byte) *Hasher {
	h := &Hasher{key: blake3IV}
	if key != nil {
		h.keyed = true
		for i := range h.key {
			h.key[i] = binary.LittleEndian.Uint32(key[4*i:])
		}
		k := *key
		h.pool.New = func() any {
			b, _ := blake3.NewKeyed(k[:])
			return b
		}
	}
	return h
}

// Hash returns the id of one input.
func (h *Hasher) Hash(data []byte) ID {
	if !h.keyed {
		return Hash(data)
	}
	k := h.pool.Get().(*blake3.Hasher)
	k.Reset()
	k.Write(data)
	var id ID
	k.Sum(id[:0])
	h.pool.Put(k)
	return id
}

// HashMany sets out[i] to the id of msgs[i]; out must be at least as long as msgs.
func (h *Hasher) HashMany(msgs [][]byte, out []ID) {
	_ = out[:len(msgs)]
	if !haveMany {
		for i, m := range msgs {
			out[i] = h.Hash(m)
		}
		return
	}
	h.hashMany(msgs, out)
}

// BLAKE3 domain flags.
const (
	flagChunkStart = 1 << 0
	flagChunkEnd   = 1 << 1
	flagParent     = 1 << 2
	flagRoot       = 1 << 3
	flagKeyedHash  = 1 << 4
)

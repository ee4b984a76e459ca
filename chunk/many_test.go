package chunk

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/zeebo/blake3"
)

// TestHashMany: ids from HashMany equal BLAKE3's (github.com/zeebo/blake3), plain
// and keyed, for inputs of every length from 0 to 1100 bytes and larger ones of
// several BLAKE3 chunks, mixed in one call (so lanes of one group have different
// numbers of blocks), and for group sizes that leave lanes empty. The larger ones
// make trees of every shape up to 17 pieces, deep ones (up to 1025 pieces, 11
// levels), and, with many inputs of 2 to 5 pieces in one call, levels of parent
// nodes that fill sixteen lanes and more, or leave some empty.
func TestHashMany(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var msgs [][]byte
	sizes := []int{}
	for n := 0; n <= 1100; n++ {
		sizes = append(sizes, n)
	}
	// Inputs of several pieces: every shape of BLAKE3's tree up to 9 pieces, and
	// larger ones.
	for _, n := range []int{2047, 2048, 2049, 3072, 3073, 4095, 4096, 4097, 5000, 7 << 10, 8 << 10, 8<<10 + 1, 9 << 10, 33333, 1 << 17,
		16<<10 - 1, 16 << 10, 16<<10 + 1, 31<<10 + 5, 32<<10 + 1, 1<<20 - 1, 1<<20 + 1} {
		sizes = append(sizes, n)
	}
	for pieces := 2; pieces <= 17; pieces++ {
		sizes = append(sizes, pieces<<10-rng.IntN(1024))
	}
	for range 70 {
		sizes = append(sizes, 1025+rng.IntN(4<<10))
	}
	for _, n := range sizes {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		msgs = append(msgs, b)
	}
	rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	var key [32]byte
	for i := range key {
		key[i] = byte(i * 7)
	}
	for _, keyed := range []bool{false, true} {
		var h *Hasher
		if keyed {
			h = NewHasher(&key)
		} else {
			h = NewHasher(nil)
		}
		for _, group := range []int{1, 5, 16, 17, 100, len(msgs)} {
			for start := 0; start < len(msgs); start += group {
				part := msgs[start:min(start+group, len(msgs))]
				out := make([]ID, len(part))
				h.HashMany(part, out)
				for i, m := range part {
					var want [32]byte
					if keyed {
						k, _ := blake3.NewKeyed(key[:])
						k.Write(m)
						k.Sum(want[:0])
					} else {
						want = blake3.Sum256(m)
					}
					if !bytes.Equal(out[i][:], want[:]) {
						t.Fatalf("keyed %v, group %d: %d-byte input hashed to %x, want %x", keyed, group, len(m), out[i][:8], want[:8])
					}
					if h.Hash(m) != ID(want) {
						t.Fatalf("Hash of %d bytes differs", len(m))
					}
				}
			}
		}
	}
	t.Logf("vector kernel in use: %v", haveMany)
}

func BenchmarkHashMany(b *testing.B) {
	msgs := make([][]byte, 256)
	for i := range msgs {
		msgs[i] = bytes.Repeat([]byte{byte(i)}, 512+i*8) // 512 B to 2.5 KiB
	}
	out := make([]ID, len(msgs))
	var key [32]byte
	h := NewHasher(&key)
	n := 0
	for _, m := range msgs {
		n += len(m)
	}
	b.SetBytes(int64(n))
	for b.Loop() {
		h.HashMany(msgs, out)
	}
}

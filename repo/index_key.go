package repo

import (
	"bytes"
	"encoding/binary"
	"unsafe"

	"cairn/chunk"
)

// A key is a chunk id as the in-memory index holds it: as big-endian words, so that
// comparing the first word orders ids as their bytes do. A format 2 repository's
// 128-bit ids take 16 bytes (an entry of 32 bytes), format 1's 256-bit ids 32 (an
// entry of 48). Both begin with their first word, which prefix reads without a call.
type key interface {
	narrowKey | wideKey
	id() chunk.ID
}

type (
	narrowKey [2]uint64
	wideKey   [4]uint64
)

func (k narrowKey) id() chunk.ID {
	var id chunk.ID
	binary.BigEndian.PutUint64(id[0:], k[0])
	binary.BigEndian.PutUint64(id[8:], k[1])
	return id
}

func (k wideKey) id() chunk.ID {
	var id chunk.ID
	for i, w := range k {
		binary.BigEndian.PutUint64(id[8*i:], w)
	}
	return id
}

// keyOf is id as a key of type K; false when K cannot hold it (an id wider than 128
// bits asked of a format 2 index, which holds none).
func keyOf[K key](id *chunk.ID) (K, bool) {
	var k K
	switch p := any(&k).(type) {
	case *narrowKey:
		p[0], p[1] = binary.BigEndian.Uint64(id[0:]), binary.BigEndian.Uint64(id[8:])
		return k, id.IsNarrow()
	case *wideKey:
		for i := range p {
			p[i] = binary.BigEndian.Uint64(id[8*i:])
		}
	}
	return k, true
}

// prefix is the key's first 64 bits.
func prefix[K key](k *K) uint64 { return *(*uint64)(unsafe.Pointer(k)) }

// cmpKey orders keys as their ids' bytes: by the first word, and in the rare tie by
// the rest.
func cmpKey[K key](a, b *K) int {
	x, y := prefix(a), prefix(b)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	case *a == *b:
		return 0
	}
	ia, ib := (*a).id(), (*b).id()
	return bytes.Compare(ia[:], ib[:])
}

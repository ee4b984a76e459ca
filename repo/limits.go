package repo

import (
	"errors"
	"fmt"

	"cairn/transport"
)

// Whoever holds the storage can hand the client anything: an object without end, a
// zstd stream that inflates a thousandfold, a thousand key slots. Every read is
// therefore bounded, before any password is checked and after; each bound is far above
// what cairn writes, and FORMAT.md says why.
const (
	maxConfigBytes   = 64 << 10  // a config is about 400 bytes of JSON
	maxKeySlotBytes  = 64 << 10  // a key slot is about 500 bytes of JSON
	maxLockBytes     = 64 << 20  // a pending-delete record names up to about 500,000 packs
	maxSnapshotBytes = 16 << 20  // a manifest is a few KiB: a line per collection
	maxIndexBytes    = 256 << 20 // an index file names at most maxIndexEntries chunks
	// maxFrameBytes is the most a frame decodes to. A frame holds either chunks
	// shorter than frameTarget that start before it (under 2 × frameTarget in all),
	// or one chunk, and index entries hold chunk lengths below 2^24.
	maxFrameBytes = 1 << 24
	// maxKeySlots is how many key slots opening a repository looks at, at most.
	maxKeySlots = 8
)

// maxIndexEntries is the most chunks one index file names: SaveIndex splits larger
// ones. Each takes 48 bytes, plus 36 per pack, so a file stays well below maxIndexBytes,
// which also leaves room for the single index file an older prune wrote for a
// repository of up to about five million chunks.
const maxIndexEntries = 1 << 21

// objectMax is the most bytes of an object of type t that cairn reads, and the most its
// payload decompresses to: 0 for packs (read by packMax, their frames decompressed by
// maxFrameBytes) and types cairn does not know.
func objectMax(t ObjectType) int64 {
	switch t {
	case TypeConfig:
		return maxConfigBytes
	case TypeKey:
		return maxKeySlotBytes
	case TypeLock:
		return maxLockBytes
	case TypeSnapshot:
		return maxSnapshotBytes
	case TypeIndex:
		return maxIndexBytes
	}
	return 0
}

// packMax is the most bytes of a whole pack read at once (check, prune, repair, and a
// backup adopting the packs of one cut off). A pack is closed once its frames or its
// entry table reach the pack size; the last section added and its entries may pass
// it, and the sealed table is padded by an eighth at most.
func packMax(packSize int) int64 { return 4*int64(packSize) + 64<<20 }

// readLimits are the read bounds of one repository handle, by object type: objectMax,
// unless a test lowers one. The zero value holds the defaults.
type readLimits [TypeLock + 1]int64

func (l *readLimits) of(t ObjectType) int64 {
	if int(t) < len(l) && l[t] > 0 {
		return l[t]
	}
	return objectMax(t)
}

// withReadLimit lowers the bound on reads of objects of type t (for tests, which then
// need not send a gigabyte to pass one).
func withReadLimit(t ObjectType, n int64) Option { return func(o *options) { o.limits[t] = n } }

// tooLarge marks an error of an object over its bound as damage too: cairn never
// writes one, so check reports it and repair leaves it out.
func tooLarge(err error) error {
	if errors.Is(err, transport.ErrTooLarge) && !errors.Is(err, ErrDamaged) {
		return fmt.Errorf("%w (%w)", err, ErrDamaged)
	}
	return err
}

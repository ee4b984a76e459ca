package repo

import (
	"fmt"

	"cairn/chunk"
)

// packEntries reads the table of a whole pack of this repository (packs.go checks
// the pack against its name first).
func (r *Repository) packEntries(pack []byte) ([]BlobRef, error) {
	return parsePackEntries(r.box, r.cfg.Format, pack, r.cfg.PackSize)
}

// TableIDsHashed reports whether the ids LoadPack returns were found by hashing the
// chunks (format 3 and later, whose pack tables hold no ids): a ref it returns then
// names the chunk that its location holds, and matches the index's entry for that id
// only when the index places the chunk there.
func (r *Repository) TableIDsHashed() bool { return r.cfg.Format >= formatHashedTables }

// nameChunks sets the id of each of refs, a format 3 pack's table in the order it was
// read (frame by frame), by decoding its frame from pack and hashing the chunk as the
// writer named it. Each frame is decoded once into one buffer reused for the next.
// It returns the refs it named (refs' own array, reused) and, when a frame does not
// open or decode or a chunk lies past the end of its frame, how many it could not
// name with an error wrapping ErrDamaged for the first of them.
func (r *Repository) nameChunks(pack []byte, refs []BlobRef) ([]BlobRef, int, error) {
	var (
		plain, buf []byte
		data       [][]byte
		ids        []chunk.ID
		first      error
		lost       int
	)
	named := refs[:0]
	for i := 0; i < len(refs); {
		f := refs[i]
		j := i + 1
		for j < len(refs) && refs[j].Frame == f.Frame {
			j++
		}
		group := refs[i:j]
		i = j
		var (
			raw []byte
			err error
		)
		if end := int(f.Frame) + int(f.FrameLen); end > len(pack) {
			err = fmt.Errorf("frame of %d bytes lies past the pack's end: %w", f.FrameLen, ErrDamaged)
		} else {
			raw, err = decodeFrameUnchecked(r.box, pack[f.Frame:end], &plain, &buf)
		}
		if err != nil {
			lost += len(group)
			if first == nil {
				first = fmt.Errorf("frame at %d: %w", f.Frame, err)
			}
			continue
		}
		data = data[:0]
		at := len(named)
		for _, e := range group {
			if end := int(e.Offset) + int(e.Raw); end > len(raw) {
				lost++
				if first == nil {
					first = fmt.Errorf("chunk at %d of %d bytes lies past the end of the frame at %d (%d bytes): %w", e.Offset, e.Raw, f.Frame, len(raw), ErrDamaged)
				}
				continue
			}
			data = append(data, raw[e.Offset:int(e.Offset)+int(e.Raw)])
			named = append(named, e)
		}
		if len(ids) < len(data) {
			ids = make([]chunk.ID, len(data))
		}
		r.ChunkIDs(data, ids[:len(data)])
		for k := range data {
			named[at+k].ID = ids[k]
		}
	}
	if first != nil {
		return named, lost, fmt.Errorf("%d chunks cannot be named: %w", lost, first)
	}
	return named, 0, nil
}

// decodeFrameUnchecked turns a stored frame back into its raw bytes as the chunk
// loader does: opened into *plain when sealed, a zstd frame (or split form) decoded
// into *dst without zstd's own checksum (the chunks are hashed after) and no larger
// than maxFrameBytes, a raw frame returned where it lies. Both buffers are kept,
// grown, for the next frame; the bytes returned are good until then.
func decodeFrameUnchecked(k *box, stored []byte, plain, dst *[]byte) ([]byte, error) {
	if k != nil {
		opened, err := k.open((*plain)[:0], stored, nil)
		if err != nil {
			return nil, fmt.Errorf("frame: %w", err)
		}
		*plain, stored = opened, opened
	}
	if len(stored) < 1 {
		return nil, fmt.Errorf("empty frame: %w", ErrDamaged)
	}
	payload := stored[1:]
	switch stored[0] {
	case codecNone:
		return payload, nil
	case codecZstd:
		if _, err := frameSize(payload); err != nil {
			return nil, err
		}
		out, err := decodeFrameZstd(payload, *dst)
		if err == nil {
			*dst = out
		}
		return out, err
	case codecZstdSplit:
		out, err := decodeSplit(payload, *dst)
		if err == nil {
			*dst = out
		}
		return out, err
	}
	return nil, fmt.Errorf("frame codec %d: %w", stored[0], ErrDamaged)
}

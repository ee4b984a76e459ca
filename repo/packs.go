package repo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"cairn/chunk"
	"cairn/transport"
)

// Packs lists the stored packs and their sizes.
func (r *Repository) Packs(ctx context.Context) (map[ObjectID]int64, error) {
	out := map[ObjectID]int64{}
	err := r.be.List(ctx, transport.Data, func(fi transport.FileInfo) error {
		id, err := ParseObjectID(fi.Name)
		if err != nil {
			return fmt.Errorf("data/%s: %w", fi.Name, ErrForeign)
		}
		out[id] = fi.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	return out, nil
}

// LoadPack reads a whole pack, checks that its bytes match its name and returns its
// entry table. The table of a format 3 pack holds no ids: LoadPack names its chunks
// by decoding the frames and hashing them (nameChunks). When some cannot be named, it
// returns the refs of those it named with an error wrapping ErrDamaged.
func (r *Repository) LoadPack(ctx context.Context, name ObjectID) ([]byte, []BlobRef, error) {
	data, err := r.loadAll(ctx, transport.Handle{Kind: transport.Data, Name: name.String()}, packMax(r.cfg.PackSize))
	if err != nil {
		return nil, nil, err
	}
	if objectID(data) != name {
		return data, nil, fmt.Errorf("pack %s: content does not match its name: %w", name.Short(), ErrDamaged)
	}
	refs, err := r.packEntries(data)
	if err == nil && r.TableIDsHashed() {
		refs, _, err = r.nameChunks(data, refs)
	}
	if err != nil {
		return data, refs, fmt.Errorf("pack %s: %w", name.Short(), err)
	}
	return data, refs, nil
}

// AdoptOrphans indexes the packs no index file names: those a backup uploaded before
// it was cut off. Each is downloaded and checked against its name first, so a resumed
// backup sends none of the chunks that already arrived (download is cheaper than upload
// on most thin links, and nothing unverified enters the index). The next Flush writes
// an index file for them. It returns the number of packs adopted; damaged ones are
// skipped (check reports them).
func (r *Repository) AdoptOrphans(ctx context.Context) (int, error) {
	packs, err := r.Packs(ctx)
	if err != nil {
		return 0, err
	}
	pending, err := r.PendingPacks(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for p := range packs {
		if r.idx.HasPack(p) || pending[p] {
			continue
		}
		r.mu.Lock()
		_, pending := r.unindex[p]
		r.mu.Unlock()
		if pending {
			continue
		}
		_, refs, err := r.LoadPack(ctx, p)
		if err != nil {
			if IsDamage(err) {
				continue
			}
			return n, err
		}
		r.idx.add(p, refs)
		r.mu.Lock()
		r.unindex[p] = refs
		r.unindexN += len(refs)
		r.mu.Unlock()
		n++
	}
	return n, nil
}

// VerifyChunk decodes a chunk from a loaded pack and checks it against its id. Pass
// the same frames map for every chunk of one pack: each frame is decompressed once.
func (r *Repository) VerifyChunk(pack []byte, id chunk.ID, loc Location, frames map[uint32][]byte) error {
	raw, ok := frames[loc.Frame]
	if !ok {
		end := int(loc.Frame) + int(loc.FrameLen)
		if end > len(pack) {
			return fmt.Errorf("chunk %s lies past the end of pack %s: %w", id.Short(), loc.Pack.Short(), ErrDamaged)
		}
		var err error
		raw, err = decodeFrame(r.box, pack[loc.Frame:end], nil)
		if err != nil {
			raw = nil // every chunk of a broken frame fails
		}
		frames[loc.Frame] = raw
	}
	if raw == nil {
		return fmt.Errorf("chunk %s: frame at %d of pack %s does not decompress: %w", id.Short(), loc.Frame, loc.Pack.Short(), ErrDamaged)
	}
	_, err := r.chunkOf(raw, id, loc.Offset, loc.Raw)
	return err
}

// VerifyChunks decodes the chunks ids (at locs) from a loaded pack and checks each
// against its id; errs[i] is nil for a good chunk. The chunks are taken frame by
// frame, each frame decompressed once into one reused buffer and its chunks hashed
// together.
func (r *Repository) VerifyChunks(pack []byte, ids []chunk.ID, locs []Location) (errs []error) {
	errs = make([]error, len(ids))
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(locs[a].Frame, locs[b].Frame); c != 0 {
			return c
		}
		return cmp.Compare(locs[a].Offset, locs[b].Offset)
	})
	var buf []byte
	var data [][]byte
	var at []int
	var got []chunk.ID
	for start := 0; start < len(order); {
		frame := locs[order[start]].Frame
		end := start
		for end < len(order) && locs[order[end]].Frame == frame {
			end++
		}
		group := order[start:end]
		start = end
		var raw []byte
		var bad func(id chunk.ID) error
		if fend := int(frame) + int(locs[group[0]].FrameLen); fend > len(pack) {
			bad = func(id chunk.ID) error {
				return fmt.Errorf("chunk %s lies past the end of pack %s: %w", id.Short(), locs[group[0]].Pack.Short(), ErrDamaged)
			}
		} else if out, err := decodeFrame(r.box, pack[frame:fend], buf); err != nil {
			bad = func(id chunk.ID) error {
				return fmt.Errorf("chunk %s: frame at %d of pack %s does not decompress: %w", id.Short(), frame, locs[group[0]].Pack.Short(), ErrDamaged)
			}
		} else {
			raw, buf = out, out
		}
		data, at = data[:0], at[:0]
		for _, i := range group {
			switch e := int(locs[i].Offset) + int(locs[i].Raw); {
			case bad != nil:
				errs[i] = bad(ids[i])
			case e > len(raw):
				errs[i] = fmt.Errorf("chunk %s lies past the end of its frame: %w", ids[i].Short(), ErrDamaged)
			default:
				data = append(data, raw[locs[i].Offset:e])
				at = append(at, i)
			}
		}
		got = slices.Grow(got[:0], len(data))[:len(data)]
		r.ChunkIDs(data, got)
		for k, i := range at {
			if got[k] != ids[i] {
				errs[i] = fmt.Errorf("chunk %s: content does not match its id: %w", ids[i].Short(), ErrDamaged)
			}
		}
	}
	return errs
}

// IsDamage reports whether err means damaged or missing repository data, as opposed
// to a transport fault.
func IsDamage(err error) bool {
	return errors.Is(err, ErrDamaged) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrForeign)
}

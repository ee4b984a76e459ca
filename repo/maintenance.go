package repo

import (
	"bytes"
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
// entry table.
func (r *Repository) LoadPack(ctx context.Context, name ObjectID) ([]byte, []BlobRef, error) {
	data, err := r.loadAll(ctx, transport.Handle{Kind: transport.Data, Name: name.String()}, packMax(r.cfg.PackSize))
	if err != nil {
		return nil, nil, err
	}
	if objectID(data) != name {
		return data, nil, fmt.Errorf("pack %s: content does not match its name: %w", name.Short(), ErrDamaged)
	}
	refs, err := parsePackEntries(r.box, data)
	if err != nil {
		return data, nil, fmt.Errorf("pack %s: %w", name.Short(), err)
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

// Rewrite is prune's first phase. It copies the chunks that keep accepts out of the
// packs in repack into new packs, records the packs in repack and drop as pending
// deletion, asks since for the chunks of snapshots written after keep was computed
// (a backup that finished meanwhile may use retired packs: those chunks stay indexed),
// writes one index for everything that stays, removes the index files this handle
// loaded (never one written since by a backup), and then records which operations were
// running at that point: FinishPending, in a later prune, deletes the retired packs
// once all of them have ended. A crash at any point leaves every snapshot readable:
// new data is durable before the old index goes, and no pack is deleted while anything
// may still use it. FORMAT.md gives the argument.
func (r *Repository) Rewrite(ctx context.Context, repack, drop map[ObjectID]bool, keep func(chunk.ID) bool, since func(context.Context) (map[chunk.ID]bool, error)) (RewriteStats, error) {
	var st RewriteStats
	written := r.BytesWritten()
	copied := map[chunk.ID]bool{}
	r.mu.Lock()
	r.lastFlushed = indexFile{} // from here on, it collects the packs of the copies
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.lastFlushed = nil
		r.mu.Unlock()
	}()
	for p := range repack {
		data, refs, err := r.LoadPack(ctx, p)
		if err != nil {
			return st, fmt.Errorf("repack: %w", err)
		}
		frames := map[uint32][]byte{}
		for _, e := range refs {
			if copied[e.ID] || !keep(e.ID) {
				continue
			}
			loc := Location{Pack: p, Frame: e.Frame, FrameLen: e.FrameLen, Offset: e.Offset, Raw: e.Raw}
			if err := r.VerifyChunk(data, e.ID, loc, frames); err != nil {
				return st, fmt.Errorf("repack: %w", err)
			}
			raw := frames[e.Frame]
			if _, err := r.saveChunk(ctx, e.ID, raw[e.Offset:e.Offset+e.Raw], true, &r.frame, r.sealFrame); err != nil {
				return st, err
			}
			copied[e.ID] = true
			st.ChunksCopied++
		}
	}
	// New packs and their index file first.
	if err := r.Flush(ctx); err != nil {
		return st, err
	}
	r.mu.Lock()
	copies := r.lastFlushed
	r.mu.Unlock()
	st.BytesWritten = r.BytesWritten() - written
	var retired []ObjectID
	for _, set := range []map[ObjectID]bool{repack, drop} {
		for p := range set {
			retired = append(retired, p)
		}
	}
	slices.SortFunc(retired, func(a, b ObjectID) int { return bytes.Compare(a[:], b[:]) })
	// The record comes before the index changes: from now on a committing backup
	// indexes again what it uses of these packs.
	draft, err := r.retire(ctx, retired, false)
	if err != nil {
		return st, fmt.Errorf("record packs pending deletion: %w", err)
	}
	// The index as it is now (with what backups added meanwhile), and the chunks of
	// snapshots they finished.
	if err := r.LoadIndex(ctx); err != nil {
		return st, err
	}
	oldIndex := slices.Clone(r.loadedIndex)
	late, err := since(ctx)
	if err != nil {
		return st, err
	}
	// One index for what stays: every chunk of a pack that is not retired, and the
	// chunks of retired packs that a snapshot written meanwhile uses.
	// The copies are listed whole: the in-memory index keeps one place per chunk, which
	// may be the retired one.
	fresh := indexFile{}
	for p, refs := range copies {
		fresh[p] = refs
	}
	stay := func(id chunk.ID, loc Location) {
		if _, copy := copies[loc.Pack]; copy || (repack[loc.Pack] || drop[loc.Pack]) && !late[id] {
			return
		}
		fresh[loc.Pack] = append(fresh[loc.Pack], loc.Ref(id))
	}
	r.idx.Each(stay)
	r.idx.EachDuplicate(stay)
	if len(fresh) > 0 {
		if _, err := r.SaveIndex(ctx, fresh); err != nil {
			return st, err
		}
	}
	for _, name := range oldIndex {
		if err := r.be.Remove(ctx, transport.Handle{Kind: transport.Index, Name: name}); err != nil && !r.be.IsNotExist(err) {
			return st, fmt.Errorf("remove index %s: %w", name[:8], err)
		}
	}
	// The operations running now may have loaded the old index: the record waits for them.
	if _, err := r.retire(ctx, retired, true); err != nil {
		return st, fmt.Errorf("record packs pending deletion: %w", err)
	}
	if err := r.be.Remove(ctx, transport.Handle{Kind: transport.Locks, Name: draft}); err != nil && !r.be.IsNotExist(err) {
		return st, err
	}
	st.PacksRetired = len(retired)
	if err := r.LoadIndex(ctx); err != nil {
		return st, err
	}
	return st, nil
}

// RewriteStats counts what Rewrite did.
type RewriteStats struct {
	PacksRetired, ChunksCopied int // packs now pending deletion
	BytesWritten               int64
}

// IsDamage reports whether err means damaged or missing repository data, as opposed
// to a transport fault.
func IsDamage(err error) bool {
	return errors.Is(err, ErrDamaged) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrForeign)
}

package repo

import (
	"context"
	"fmt"
	"slices"

	"cairn/transport"
)

// RepairStats says what RebuildIndex found.
type RepairStats struct {
	Packs        int      `json:"packs"`         // packs read
	Chunks       int      `json:"chunks"`        // chunks indexed
	Damaged      []string `json:"damaged_packs"` // packs that did not verify whole
	ChunksLost   int      `json:"chunks_lost"`   // chunks of damaged packs that did not verify
	IndexRemoved int      `json:"index_removed"` // old index files replaced
}

// indexFileEntries bounds one index file written by RebuildIndex.
const indexFileEntries = 1 << 17

// RebuildIndex reads every pack and writes a new index from their own entry tables,
// then removes the index files that existed before. A pack whose bytes do not match its
// name is salvaged chunk by chunk: only chunks that decode and hash to their ids are
// indexed. Packs pending deletion are indexed as well. It holds the prune lock, so no
// prune runs meanwhile; backups may (their index files are kept).
func (r *Repository) RebuildIndex(ctx context.Context, progress func(done, total int)) (RepairStats, error) {
	var st RepairStats
	if err := r.LockPrune(ctx); err != nil {
		return st, err
	}
	defer r.Release(context.WithoutCancel(ctx))
	old, err := r.IndexFiles(ctx)
	if err != nil {
		return st, err
	}
	packs, err := r.Packs(ctx)
	if err != nil {
		return st, err
	}
	// Packs pending deletion are indexed too: whatever a snapshot needs from them is
	// then found, and a prune keeps every pack an index names.
	names := make([]ObjectID, 0, len(packs))
	for p := range packs {
		names = append(names, p)
	}
	slices.SortFunc(names, func(a, b ObjectID) int { return slices.Compare(a[:], b[:]) })
	file, n := indexFile{}, 0
	flush := func() error {
		if len(file) == 0 {
			return nil
		}
		if _, err := r.SaveIndex(ctx, file); err != nil {
			return err
		}
		file, n = indexFile{}, 0
		return nil
	}
	for i, p := range names {
		if progress != nil {
			progress(i, len(names))
		}
		data, refs, err := r.LoadPack(ctx, p)
		if err != nil && !IsDamage(err) {
			return st, err
		}
		st.Packs++
		if err != nil {
			st.Damaged = append(st.Damaged, p.String())
			var lost int
			if refs, lost, err = r.salvage(p, data); err != nil {
				continue // no readable table: nothing to salvage
			}
			st.ChunksLost += lost
		}
		if len(refs) == 0 {
			continue
		}
		file[p] = refs
		n += len(refs)
		st.Chunks += len(refs)
		if n >= indexFileEntries {
			if err := flush(); err != nil {
				return st, err
			}
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	for _, name := range old {
		if err := r.be.Remove(ctx, transport.Handle{Kind: transport.Index, Name: name}); err != nil && !r.be.IsNotExist(err) {
			return st, fmt.Errorf("remove index %s: %w", name[:8], err)
		}
		st.IndexRemoved++
	}
	return st, r.LoadIndex(ctx)
}

// salvage returns the chunks of damaged pack p that read back whole, and how many of
// those its table lists do not. In format 3 a chunk whose frame decodes is named by
// what it holds, so every such chunk is good under the id it gets; before, a chunk is
// good when it hashes to the id its table gives it.
func (r *Repository) salvage(p ObjectID, data []byte) ([]BlobRef, int, error) {
	refs, err := r.packEntries(data)
	if err != nil {
		return nil, 0, err
	}
	if r.TableIDsHashed() {
		named, lost, _ := r.nameChunks(data, refs)
		return named, lost, nil
	}
	frames := map[uint32][]byte{}
	good, lost := refs[:0], 0
	for _, e := range refs {
		loc := Location{Pack: p, Frame: e.Frame, FrameLen: e.FrameLen, Offset: e.Offset, Raw: e.Raw}
		if r.VerifyChunk(data, e.ID, loc, frames) == nil {
			good = append(good, e)
		} else {
			lost++
		}
	}
	return good, lost, nil
}

package engine

import (
	"context"
	"fmt"

	"cairn/chunk"
	"cairn/repo"
)

// PruneOptions tune prune.
type PruneOptions struct {
	// MaxUnused is the share of a pack's bytes that may be garbage before the pack is
	// repacked; packs with no live chunk are always removed. Default 0.5.
	MaxUnused float64
	DryRun    bool
	Progress  Progress
}

// PruneStats says what prune found and did.
type PruneStats struct {
	Pending                            repo.PendingStats // the second phase, for earlier prunes' packs
	Packs, PacksRemoved, PacksRepacked int
	ChunksLive, ChunksUnused           int
	BytesUnused, BytesFreed            int64 // raw bytes of the chunks
	StoredBefore, StoredAfter          int64 // bytes of all packs
	repo.RewriteStats
}

// Prune drops chunks that no snapshot needs, in two phases so that it never blocks a
// backup and never deletes what a running one uses. First it finishes what earlier
// prunes left pending: their packs are deleted once every backup, restore and check
// that was running then has ended (packs a snapshot written meanwhile needs are
// indexed again instead). Then it takes packs with nothing live, and packs that are
// mostly garbage after copying their live chunks out, off the index and leaves them
// pending for the next prune. Only one prune runs at a time.
func Prune(ctx context.Context, r *repo.Repository, opt PruneOptions) (PruneStats, error) {
	var st PruneStats
	if opt.MaxUnused <= 0 {
		opt.MaxUnused = 0.5
	}
	if !opt.DryRun {
		if err := r.ClaimPrune(ctx); err != nil {
			return st, fmt.Errorf("prune: %w", err)
		}
		defer r.Release(context.WithoutCancel(ctx))
		ps, err := r.FinishPending(ctx, func(ctx context.Context) (map[chunk.ID]bool, error) {
			live, _, err := liveChunks(ctx, r, nil)
			return live, err
		})
		st.Pending = ps
		if err != nil {
			return st, fmt.Errorf("prune: %w", err)
		}
	}
	live, seen, err := liveChunks(ctx, r, nil)
	if err != nil {
		return st, err
	}
	// The index as it is now, so that it covers every pack the snapshots just read name.
	if err := r.LoadIndex(ctx); err != nil {
		return st, err
	}
	type usage struct{ live, dead int64 }
	packs := map[repo.ObjectID]*usage{}
	count := func(id chunk.ID, loc repo.Location) {
		u := packs[loc.Pack]
		if u == nil {
			u = &usage{}
			packs[loc.Pack] = u
		}
		// Frames compress chunks together, so shares are counted in raw bytes.
		if live[id] {
			u.live += int64(loc.Raw)
			st.ChunksLive++
		} else {
			u.dead += int64(loc.Raw)
			st.ChunksUnused++
			st.BytesUnused += int64(loc.Raw)
		}
	}
	r.Index().Each(count)
	// A chunk stored twice counts in both packs: live in each, so neither is dropped
	// for a place the in-memory index happened not to pick.
	r.Index().EachDuplicate(count)
	for id := range live {
		if !r.Index().Has(id) {
			return st, fmt.Errorf("prune: chunk %s of a snapshot is not in the index; run cairn check: %w", id.Short(), repo.ErrDamaged)
		}
	}
	st.Packs = len(packs)
	if st.StoredBefore, err = packBytes(ctx, r); err != nil {
		return st, err
	}
	st.StoredAfter = st.StoredBefore
	repack, drop := map[repo.ObjectID]bool{}, map[repo.ObjectID]bool{}
	for p, u := range packs {
		switch {
		case u.live == 0:
			drop[p] = true
			st.BytesFreed += u.dead
		case float64(u.dead) > opt.MaxUnused*float64(u.live+u.dead):
			repack[p] = true
			st.BytesFreed += u.dead
		}
	}
	st.PacksRemoved, st.PacksRepacked = len(drop), len(repack)
	if opt.DryRun || len(drop)+len(repack) == 0 {
		return st, nil
	}
	orNoProgress(opt.Progress).Report(Event{Phase: PhasePrune, ItemsTotal: int64(len(drop) + len(repack))})
	// Snapshots that backups finished while prune decided: their chunks stay.
	since := func(ctx context.Context) (map[chunk.ID]bool, error) {
		late, _, err := liveChunks(ctx, r, seen)
		return late, err
	}
	rs, err := r.Rewrite(ctx, repack, drop, func(id chunk.ID) bool { return live[id] }, since)
	st.RewriteStats = rs
	if err != nil {
		return st, fmt.Errorf("prune: %w", err)
	}
	if st.StoredAfter, err = packBytes(ctx, r); err != nil {
		return st, err
	}
	return st, nil
}

// liveChunks is every chunk, list chunks included, that a snapshot uses, skipping the
// snapshots in skip; it also returns the names of the snapshots it saw.
func liveChunks(ctx context.Context, r *repo.Repository, skip map[repo.ObjectID]bool) (map[chunk.ID]bool, map[repo.ObjectID]bool, error) {
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		return nil, nil, err
	}
	live, seen := map[chunk.ID]bool{}, map[repo.ObjectID]bool{}
	mark := func(id chunk.ID) { live[id] = true }
	for _, sn := range snaps {
		seen[sn.Name] = true
		if skip[sn.Name] {
			continue
		}
		for _, c := range sn.Collections {
			l, err := r.LoadList(ctx, c.List, mark)
			if err != nil {
				return nil, nil, fmt.Errorf("prune: snapshot %s collection %s: %w", sn.ID, c.Name, err)
			}
			for _, id := range l.Chunks {
				live[id] = true
			}
		}
	}
	return live, seen, nil
}

func packBytes(ctx context.Context, r *repo.Repository) (int64, error) {
	packs, err := r.Packs(ctx)
	var n int64
	for _, size := range packs {
		n += size
	}
	return n, err
}

package repo

import (
	"context"
	"fmt"
	"slices"

	"cairn/chunk"
	"cairn/transport"
)

// PruneStats says what a prune found and did.
type PruneStats struct {
	Pending                            PendingStats // the second phase, for earlier prunes' packs
	Packs, PacksRemoved, PacksRepacked int
	ChunksLive, ChunksUnused           int
	BytesUnused, BytesFreed            int64 // raw bytes of the chunks
	StoredBefore, StoredAfter          int64 // bytes of all packs
	RetireStats
}

// PendingStats says what the second phase found and did.
type PendingStats struct {
	Records, Waiting      int // pending-delete records, and those still waiting
	PacksDeleted, Revived int
	StaleLocks            int // locks of crashed operations removed (counted, in a dry run)
}

// RetireStats counts what the first phase did.
type RetireStats struct {
	PacksRetired, ChunksCopied int // packs now pending deletion
	BytesWritten               int64
}

// Prune executes a plan PlanPrune made on this handle under the prune lock it still
// holds, in two phases, so that it never blocks a backup and never deletes what a
// running one uses. The second phase first: the packs of earlier prunes' ready
// records are deleted (or indexed again) and the records removed. Then the first:
// the plan's Drop and Repack packs leave the index and are recorded as pending
// deletion, for a later prune (see retire). A plan is executed once.
func (r *Repository) Prune(ctx context.Context, p *PrunePlan) (PruneStats, error) {
	st := p.Stats()
	switch {
	case p.dryRun:
		return st, fmt.Errorf("prune: %w: it is a dry run", ErrPlanUnusable)
	case p.done:
		return st, fmt.Errorf("prune: %w: it was executed already", ErrPlanUnusable)
	case r.lock == nil || r.lock.token != p.token:
		return st, fmt.Errorf("prune: %w: the handle no longer holds the prune lock it was made under", ErrPlanUnusable)
	}
	p.done = true
	// A prune that lost its lock (taken for crashed while it stalled) may run beside
	// another one: it deletes nothing.
	if err := r.CheckLock(ctx); err != nil {
		return st, fmt.Errorf("prune: %w", err)
	}
	if err := r.finishPending(ctx, p.ready); err != nil {
		return st, fmt.Errorf("prune: %w", err)
	}
	if len(p.Drop)+len(p.Repack) > 0 {
		rs, err := r.retire(ctx, p)
		st.RetireStats = rs
		if err != nil {
			return st, fmt.Errorf("prune: %w", err)
		}
	}
	var err error
	if st.StoredAfter, err = r.packBytes(ctx); err != nil {
		return st, fmt.Errorf("prune: %w", err)
	}
	return st, nil
}

// finishPending is the second phase: record by record, it indexes again what the plan
// revives, deletes the packs nothing needs, and then removes the record. Interrupted,
// it leaves records a later prune finishes.
func (r *Repository) finishPending(ctx context.Context, steps []pendingStep) error {
	for _, s := range steps {
		if len(s.revive) > 0 {
			if _, err := r.SaveIndex(ctx, s.revive); err != nil {
				return err
			}
			for pack, refs := range s.revive {
				r.idx.add(pack, refs)
			}
			r.idx.merge()
		}
		for _, pack := range s.delete {
			if err := r.be.Remove(ctx, transport.Handle{Kind: transport.Data, Name: pack.String()}); err != nil && !r.be.IsNotExist(err) {
				return fmt.Errorf("remove pack %s: %w", pack.Short(), err)
			}
		}
		if err := r.be.Remove(ctx, r.lockHandle(s.rec.name)); err != nil && !r.be.IsNotExist(err) {
			return fmt.Errorf("remove pending-delete record: %w", err)
		}
	}
	return nil
}

// retire is the first phase. It copies the live chunks of the plan's Repack packs into
// new packs, records the Drop and Repack packs as pending deletion, reads the chunks
// of snapshots written since the plan (a backup that finished meanwhile may use
// retired packs: those chunks stay indexed), writes one index for everything that
// stays, removes the index files this handle loaded (never one written since by a
// backup), and then records which operations were running at that point: a later
// prune deletes the retired packs once all of them have ended. A crash at any point
// leaves every snapshot readable: new data is durable before the old index goes, and
// no pack is deleted while anything may still use it. FORMAT.md gives the argument.
func (r *Repository) retire(ctx context.Context, p *PrunePlan) (RetireStats, error) {
	var st RetireStats
	written := r.BytesWritten()
	copies, n, err := r.repack(ctx, p.Repack, p.live)
	st.ChunksCopied = n
	if err != nil {
		return st, err
	}
	st.BytesWritten = r.BytesWritten() - written
	retired := slices.Concat(p.Repack, p.Drop)
	slices.SortFunc(retired, compareIDs)
	isRetired := map[ObjectID]bool{}
	for _, pack := range retired {
		isRetired[pack] = true
	}
	// The record comes before the index changes: from now on a committing backup
	// indexes again what it uses of these packs.
	draft, err := r.recordPending(ctx, retired, false)
	if err != nil {
		return st, err
	}
	// The index as it is now (with what backups added meanwhile), and the chunks of
	// snapshots they finished.
	if err := r.LoadIndex(ctx); err != nil {
		return st, err
	}
	oldIndex := slices.Clone(r.loadedIndex)
	late, _, err := r.liveChunks(ctx, p.seen)
	if err != nil {
		return st, err
	}
	// One index for what stays: every chunk of a pack that is not retired, and the
	// chunks of retired packs that a snapshot written meanwhile uses.
	// The copies are listed whole: the in-memory index keeps one place per chunk, which
	// may be the retired one.
	fresh := indexFile{}
	for pack, refs := range copies {
		fresh[pack] = refs
	}
	stay := func(id chunk.ID, loc Location) {
		if _, copy := copies[loc.Pack]; copy || isRetired[loc.Pack] && !late[id] {
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
	if _, err := r.recordPending(ctx, retired, true); err != nil {
		return st, err
	}
	if err := r.be.Remove(ctx, r.lockHandle(draft)); err != nil && !r.be.IsNotExist(err) {
		return st, fmt.Errorf("remove draft pending-delete record: %w", err)
	}
	st.PacksRetired = len(retired)
	return st, r.LoadIndex(ctx)
}

// repack copies the chunks in live out of packs into new packs, verifying each, and
// makes them durable with their index files. It returns the new packs with all their
// entries and the number of chunks copied.
func (r *Repository) repack(ctx context.Context, packs []ObjectID, live map[chunk.ID]bool) (indexFile, int, error) {
	r.mu.Lock()
	r.copied.start()
	r.mu.Unlock()
	stop := func() indexFile {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.copied.stop()
	}
	copied := map[chunk.ID]bool{}
	for _, pack := range packs {
		data, refs, err := r.LoadPack(ctx, pack)
		if err != nil {
			stop()
			return nil, len(copied), fmt.Errorf("repack: %w", err)
		}
		frames := map[uint32][]byte{}
		for _, e := range refs {
			if copied[e.ID] || !live[e.ID] {
				continue
			}
			loc := Location{Pack: pack, Frame: e.Frame, FrameLen: e.FrameLen, Offset: e.Offset, Raw: e.Raw}
			if err := r.VerifyChunk(data, e.ID, loc, frames); err != nil {
				stop()
				return nil, len(copied), fmt.Errorf("repack: %w", err)
			}
			raw := frames[e.Frame]
			if _, err := r.saveChunk(ctx, e.ID, raw[e.Offset:e.Offset+e.Raw], true, &r.frame, r.sealFrame); err != nil {
				stop()
				return nil, len(copied), err
			}
			copied[e.ID] = true
		}
	}
	// New packs and their index files first.
	err := r.Flush(ctx)
	return stop(), len(copied), err
}

// indexLog gathers the packs of the index files a handle writes while it records: a
// prune's repacking learns so which new packs hold its copies. It is guarded by the
// Repository's mu.
type indexLog struct {
	recording bool
	packs     indexFile
}

func (l *indexLog) start() { l.recording, l.packs = true, indexFile{} }

// stop ends the recording and returns what it gathered.
func (l *indexLog) stop() indexFile {
	packs := l.packs
	l.recording, l.packs = false, nil
	return packs
}

// note records the packs of an index file just written, while recording.
func (l *indexLog) note(f indexFile) {
	if !l.recording {
		return
	}
	for pack, refs := range f {
		l.packs[pack] = refs
	}
}

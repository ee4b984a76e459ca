package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cairn/chunk"
)

// DefaultMaxUnused is the share of a pack's raw bytes that may be garbage before
// prune repacks it.
const DefaultMaxUnused = 0.5

// PruneOptions tune a prune plan.
type PruneOptions struct {
	// MaxUnused is the share of a pack's raw bytes that may be garbage before the pack
	// is repacked, in (0, 1]; zero takes DefaultMaxUnused. Packs with no live chunk are
	// always retired.
	MaxUnused float64
	// DryRun plans without the prune lock and changes nothing: the locks of crashed
	// operations are counted as ended but left in place. Its plan cannot be executed.
	DryRun bool
}

// A PrunePlan is what a prune does, decided from the repository as PlanPrune found it:
// the second phase (earlier prunes' retired packs that can go now) and the first
// (packs to take off the index). Execute it with Repository.Prune; print it with
// String.
type PrunePlan struct {
	// Second phase: pending-delete records whose operations have all ended.
	Delete  []ObjectID // retired packs nothing needs: deleted
	Revive  []ObjectID // retired packs holding live chunks no index has: indexed again, kept
	Pending PendingStats

	// First phase: packs taken off the index and recorded as pending deletion.
	Drop   []ObjectID // packs with no live chunk
	Repack []ObjectID // packs mostly garbage: their live chunks are copied out first
	Packs  int        // packs the index names
	// Chunks and raw bytes counted over the index (revived chunks included).
	ChunksLive, ChunksUnused int
	BytesUnused, BytesFreed  int64 // BytesFreed: the garbage in Drop and Repack
	StoredBefore             int64 // bytes of all packs when planned

	dryRun bool
	token  string            // the prune lock the plan was made under
	ready  []pendingStep     // the second phase, record by record
	live   map[chunk.ID]bool // chunks the snapshots seen use
	seen   map[ObjectID]bool // names of the snapshots seen
	done   bool              // executed (or tried)
}

// pendingStep settles one pending-delete record: its packs nothing needs go, those
// holding live chunks no index has are indexed again, then the record goes.
type pendingStep struct {
	rec    lockRecord
	delete []ObjectID
	revive indexFile
}

// ErrPlanUnusable means a prune plan cannot be executed: it was a dry run, was made
// under another prune lock than the one the handle holds, or was executed already.
var ErrPlanUnusable = errors.New("prune plan cannot be executed")

// PlanPrune decides what a prune does now. Without DryRun the handle must hold the
// prune lock (LockPrune), and planning removes the locks of operations that ended
// without removing them: the one change it makes, and what makes its count of running
// operations one to trust (FORMAT.md, "Which operations run"). It reads the locks,
// the manifests and their chunk lists, the index, and the retired packs of
// pending-delete records that are ready.
//
// Order matters: the running operations are settled first, then the manifests are
// listed, then the index loaded, so that the index covers every pack a listed
// manifest names, and every snapshot an ended operation wrote is listed.
func (r *Repository) PlanPrune(ctx context.Context, opt PruneOptions) (*PrunePlan, error) {
	maxUnused := opt.MaxUnused
	switch {
	case maxUnused == 0:
		maxUnused = DefaultMaxUnused
	case !(maxUnused > 0 && maxUnused <= 1):
		return nil, fmt.Errorf("plan prune: max unused share %v is not in (0, 1]", opt.MaxUnused)
	}
	p := &PrunePlan{dryRun: opt.DryRun}
	if !opt.DryRun {
		if r.lock == nil || r.lock.op != opPrune {
			return nil, fmt.Errorf("plan prune: %w: the handle does not hold the prune lock", ErrPlanUnusable)
		}
		p.token = r.lock.token
	}
	alive, recs, stale, err := r.runningOps(ctx, !opt.DryRun)
	p.Pending.StaleLocks = stale
	if err != nil {
		return nil, fmt.Errorf("plan prune: %w", err)
	}
	ready := readyRecords(recs, alive, &p.Pending)
	if p.live, p.seen, err = r.liveChunks(ctx, nil); err != nil {
		return nil, fmt.Errorf("plan prune: %w", err)
	}
	if err := r.LoadIndex(ctx); err != nil {
		return nil, fmt.Errorf("plan prune: %w", err)
	}
	revived, err := r.planPending(ctx, p, ready)
	if err != nil {
		return nil, fmt.Errorf("plan prune: %w", err)
	}
	if err := r.planRetire(ctx, p, revived, maxUnused); err != nil {
		return nil, fmt.Errorf("plan prune: %w", err)
	}
	return p, nil
}

// readyRecords returns the pending-delete records none of whose operations runs (and
// the drafts of crashed prunes once no operation runs at all), counting them in st.
func readyRecords(recs []lockRecord, alive map[string]bool, st *PendingStats) []lockRecord {
	var ready []lockRecord
	for _, rec := range recs {
		if rec.Op != opPending {
			continue
		}
		st.Records++
		if !rec.Final && len(alive) > 0 || slices.ContainsFunc(rec.WaitFor, func(m string) bool { return alive[m] }) {
			st.Waiting++
			continue
		}
		ready = append(ready, rec)
	}
	return ready
}

// planPending decides, pack by pack, what the second phase does with the ready
// records: a pack an index names again is kept as it is; one holding a chunk that a
// snapshot needs and no index has (nor an earlier revival of this plan) is indexed
// again; any other is deleted. It returns the revived chunks, which the first phase
// counts as indexed.
func (r *Repository) planPending(ctx context.Context, p *PrunePlan, ready []lockRecord) (map[chunk.ID]Location, error) {
	revived := map[chunk.ID]Location{}
	for _, rec := range ready {
		step := pendingStep{rec: rec, revive: indexFile{}}
		for _, pack := range rec.Packs {
			if r.idx.HasPack(pack) {
				continue // indexed again by an operation that used it
			}
			_, refs, err := r.LoadPack(ctx, pack)
			if errors.Is(err, ErrNotFound) {
				continue // deleted by an earlier, interrupted prune
			}
			if err != nil {
				return nil, err
			}
			var need []BlobRef
			for _, e := range refs {
				if _, dup := revived[e.ID]; p.live[e.ID] && !dup && !r.idx.Has(e.ID) {
					need = append(need, e)
				}
			}
			if len(need) == 0 {
				step.delete = append(step.delete, pack)
				p.Delete = append(p.Delete, pack)
				continue
			}
			for _, e := range need {
				revived[e.ID] = Location{Pack: pack, Frame: e.Frame, FrameLen: e.FrameLen, Offset: e.Offset, Raw: e.Raw}
			}
			step.revive[pack] = need
			p.Revive = append(p.Revive, pack)
		}
		p.ready = append(p.ready, step)
	}
	p.Pending.PacksDeleted, p.Pending.Revived = len(p.Delete), len(p.Revive)
	return revived, nil
}

// planRetire counts every pack's live and unused raw bytes over the index and the
// chunks the second phase revives, and picks the packs to retire: those with nothing
// live, and those whose unused share passes maxUnused.
func (r *Repository) planRetire(ctx context.Context, p *PrunePlan, revived map[chunk.ID]Location, maxUnused float64) error {
	type usage struct{ live, dead int64 }
	packs := map[ObjectID]*usage{}
	count := func(id chunk.ID, loc Location) {
		u := packs[loc.Pack]
		if u == nil {
			u = &usage{}
			packs[loc.Pack] = u
		}
		// Frames compress chunks together, so shares are counted in raw bytes.
		if p.live[id] {
			u.live += int64(loc.Raw)
			p.ChunksLive++
		} else {
			u.dead += int64(loc.Raw)
			p.ChunksUnused++
			p.BytesUnused += int64(loc.Raw)
		}
	}
	r.idx.Each(count)
	// A chunk stored twice counts in both packs: live in each, so neither is dropped
	// for a place the in-memory index happened not to pick.
	r.idx.EachDuplicate(count)
	for id, loc := range revived {
		count(id, loc)
	}
	for id := range p.live {
		if _, ok := revived[id]; !ok && !r.idx.Has(id) {
			return fmt.Errorf("chunk %s of a snapshot is not in the index; run cairn check: %w", id.Short(), ErrDamaged)
		}
	}
	p.Packs = len(packs)
	var err error
	if p.StoredBefore, err = r.packBytes(ctx); err != nil {
		return err
	}
	for pack, u := range packs {
		switch {
		case u.live == 0:
			p.Drop = append(p.Drop, pack)
			p.BytesFreed += u.dead
		case float64(u.dead) > maxUnused*float64(u.live+u.dead):
			p.Repack = append(p.Repack, pack)
			p.BytesFreed += u.dead
		}
	}
	for _, l := range [][]ObjectID{p.Drop, p.Repack, p.Delete, p.Revive} {
		slices.SortFunc(l, compareIDs)
	}
	return nil
}

func compareIDs(a, b ObjectID) int { return bytes.Compare(a[:], b[:]) }

// liveChunks is every chunk, list chunks included, that a snapshot uses, skipping the
// snapshots in skip; it also returns the names of the snapshots it saw.
func (r *Repository) liveChunks(ctx context.Context, skip map[ObjectID]bool) (map[chunk.ID]bool, map[ObjectID]bool, error) {
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		return nil, nil, err
	}
	live, seen := map[chunk.ID]bool{}, map[ObjectID]bool{}
	mark := func(id chunk.ID) { live[id] = true }
	reloaded := false
	for _, sn := range snaps {
		seen[sn.Name] = true
		if skip[sn.Name] {
			continue
		}
		for _, c := range sn.Collections {
			l, err := r.LoadList(ctx, c.List, mark)
			if errors.Is(err, ErrNotFound) && !reloaded {
				// A manifest is written after the index files naming its chunks: one
				// written since this handle loaded its index is covered by loading it
				// again, once.
				reloaded = true
				if err = r.LoadIndex(ctx); err == nil {
					l, err = r.LoadList(ctx, c.List, mark)
				}
			}
			if err != nil {
				return nil, nil, fmt.Errorf("snapshot %s collection %s: %w", sn.ID, c.Name, err)
			}
			for _, id := range l.Chunks {
				live[id] = true
			}
		}
	}
	return live, seen, nil
}

// packBytes is the size of all packs stored.
func (r *Repository) packBytes(ctx context.Context) (int64, error) {
	packs, err := r.Packs(ctx)
	var n int64
	for _, size := range packs {
		n += size
	}
	return n, err
}

// Work is how many packs executing the plan deletes, revives or retires.
func (p *PrunePlan) Work() int {
	return len(p.Delete) + len(p.Revive) + len(p.Drop) + len(p.Repack)
}

// Stats is the plan's counts as a prune reports them before it runs.
func (p *PrunePlan) Stats() PruneStats {
	return PruneStats{Pending: p.Pending, Packs: p.Packs, PacksRemoved: len(p.Drop), PacksRepacked: len(p.Repack),
		ChunksLive: p.ChunksLive, ChunksUnused: p.ChunksUnused, BytesUnused: p.BytesUnused, BytesFreed: p.BytesFreed,
		StoredBefore: p.StoredBefore, StoredAfter: p.StoredBefore}
}

// String lists what the plan does, a line per pack.
func (p *PrunePlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "earlier prunes: %d pending-delete records, %d waiting for running operations, %d locks of crashed operations\n",
		p.Pending.Records, p.Pending.Waiting, p.Pending.StaleLocks)
	for _, l := range []struct {
		what  string
		packs []ObjectID
	}{{"delete", p.Delete}, {"revive", p.Revive}, {"retire", p.Drop}, {"repack", p.Repack}} {
		for _, pack := range l.packs {
			fmt.Fprintf(&b, "%s %s\n", l.what, pack)
		}
	}
	fmt.Fprintf(&b, "%d packs indexed: %d live chunks, %d unused (%d raw bytes); frees %d raw bytes of %d stored\n",
		p.Packs, p.ChunksLive, p.ChunksUnused, p.BytesUnused, p.BytesFreed, p.StoredBefore)
	return b.String()
}

package repo

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/transport"
	"cairn/transport/mem"
)

// pruneFixture is a repository (64 KiB packs) holding snapshot A of eight 16 KiB
// chunks and snapshot K of a0 and seven chunks of its own. Chunks of 16 KiB fill a
// frame by four and a frame fills a pack, so a0..a3, a4..a7 and A's list chunk each
// lie in packs of their own.
type pruneFixture struct {
	r     *Repository
	be    *mem.Backend
	a, k  []chunk.ID
	snapA *Snapshot
	snapK *Snapshot
}

func newPruneFixture(tb testing.TB) *pruneFixture {
	tb.Helper()
	r, be := testRepo(tb)
	f := &pruneFixture{r: r, be: be}
	f.a, f.snapA = saveTestSnapshot(tb, r, "1_1", 1, nil)
	f.k, f.snapK = saveTestSnapshot(tb, r, "1_2", 2, f.a[:1])
	if f.packOf(tb, f.a[0]) != f.packOf(tb, f.a[3]) || f.packOf(tb, f.a[3]) == f.packOf(tb, f.a[4]) ||
		f.packOf(tb, f.a[4]) != f.packOf(tb, f.a[7]) || f.packOf(tb, f.snapA.Collections[0].List) == f.packOf(tb, f.a[7]) {
		tb.Fatal("the fixture's chunks are not packed four to a pack")
	}
	return f
}

// saveTestSnapshot saves the chunks reuse and then seven (or eight, without reuse)
// new 16 KiB chunks of seed, their list and a manifest named id.
func saveTestSnapshot(tb testing.TB, r *Repository, id string, seed uint64, reuse []chunk.ID) ([]chunk.ID, *Snapshot) {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 7))
	ids := slices.Clone(reuse)
	for len(ids) < 8 {
		data := make([]byte, 16<<10)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		cid := r.ChunkID(data)
		if _, err := r.SaveChunk(ctx, cid, data); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, cid)
	}
	l, err := r.SaveList(ctx, ids, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	sn := &Snapshot{ID: id, Time: time.Unix(int64(seed), 0), Collections: []Collection{{Name: "assets", List: l.ID, Count: len(ids)}}}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		tb.Fatal(err)
	}
	return ids, sn
}

func (f *pruneFixture) packOf(tb testing.TB, id chunk.ID) ObjectID {
	tb.Helper()
	loc, ok := f.r.Index().Lookup(id)
	if !ok {
		tb.Fatalf("chunk %s is not indexed", id.Short())
	}
	return loc.Pack
}

// objects lists every object name on storage, by kind.
func objects(tb testing.TB, be transport.Backend) map[transport.Kind][]string {
	tb.Helper()
	out := map[transport.Kind][]string{}
	for _, k := range []transport.Kind{transport.Data, transport.Index, transport.Snapshots, transport.Locks} {
		if err := be.List(context.Background(), k, func(fi transport.FileInfo) error {
			out[k] = append(out[k], fi.Name)
			return nil
		}); err != nil {
			tb.Fatal(err)
		}
		slices.Sort(out[k])
	}
	return out
}

func sortedIDs(ids ...ObjectID) []ObjectID {
	slices.SortFunc(ids, compareIDs)
	return slices.Compact(ids)
}

// TestPrunePlan: which packs a plan retires. A pack with no live chunk is dropped;
// one whose unused share of raw bytes passes MaxUnused is repacked; the rest stay.
func TestPrunePlan(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		forget    func(f *pruneFixture) []*Snapshot
		maxUnused float64
		// want returns the packs dropped and repacked, and the live and unused chunks
		want func(tb testing.TB, f *pruneFixture) (drop, repack []ObjectID, live, unused int)
	}{
		{"every snapshot kept", func(*pruneFixture) []*Snapshot { return nil }, 0,
			func(testing.TB, *pruneFixture) ([]ObjectID, []ObjectID, int, int) { return nil, nil, 17, 0 }},
		{"A forgotten: a4..a7 and A's list dropped, a0..a3 (three quarters unused) repacked",
			func(f *pruneFixture) []*Snapshot { return []*Snapshot{f.snapA} }, 0,
			func(tb testing.TB, f *pruneFixture) ([]ObjectID, []ObjectID, int, int) {
				return sortedIDs(f.packOf(tb, f.a[4]), f.packOf(tb, f.snapA.Collections[0].List)), []ObjectID{f.packOf(tb, f.a[0])}, 9, 8
			}},
		{"A forgotten, up to 80% unused allowed: a0..a3 stay",
			func(f *pruneFixture) []*Snapshot { return []*Snapshot{f.snapA} }, 0.8,
			func(tb testing.TB, f *pruneFixture) ([]ObjectID, []ObjectID, int, int) {
				return sortedIDs(f.packOf(tb, f.a[4]), f.packOf(tb, f.snapA.Collections[0].List)), nil, 9, 8
			}},
		{"both forgotten: every pack dropped",
			func(f *pruneFixture) []*Snapshot { return []*Snapshot{f.snapA, f.snapK} }, 0,
			func(tb testing.TB, f *pruneFixture) ([]ObjectID, []ObjectID, int, int) {
				var all []ObjectID
				for _, id := range append(append(slices.Clone(f.a), f.k...), f.snapA.Collections[0].List, f.snapK.Collections[0].List) {
					all = append(all, f.packOf(tb, id))
				}
				return sortedIDs(all...), nil, 0, 17
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newPruneFixture(t)
			for _, sn := range c.forget(f) {
				if err := f.r.RemoveSnapshot(ctx, sn); err != nil {
					t.Fatal(err)
				}
			}
			before := objects(t, f.be)
			plan, err := f.r.PlanPrune(ctx, PruneOptions{MaxUnused: c.maxUnused, DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			drop, repack, live, unused := c.want(t, f)
			if !slices.Equal(plan.Drop, drop) || !slices.Equal(plan.Repack, repack) {
				t.Fatalf("plan drops %v and repacks %v, want %v and %v\n%s", plan.Drop, plan.Repack, drop, repack, plan)
			}
			if plan.ChunksLive != live || plan.ChunksUnused != unused {
				t.Fatalf("plan counts %d live and %d unused chunks, want %d and %d", plan.ChunksLive, plan.ChunksUnused, live, unused)
			}
			if after := objects(t, f.be); !equalObjects(before, after) {
				t.Fatal("a dry-run plan changed the storage")
			}
		})
	}
}

func equalObjects(a, b map[transport.Kind][]string) bool {
	for k := range a {
		if !slices.Equal(a[k], b[k]) {
			return false
		}
	}
	return len(a) == len(b)
}

// TestPruneDryRunChangesNothing: a dry run plans the second phase too (an earlier
// prune's packs, and a crashed operation's lock it counts as ended) without touching
// storage, and its plan cannot be executed.
func TestPruneDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	f := newPruneFixture(t)
	if err := f.r.RemoveSnapshot(ctx, f.snapA); err != nil {
		t.Fatal(err)
	}
	first := openWith(t, f.be)
	if err := first.LockPrune(ctx); err != nil {
		t.Fatal(err)
	}
	plan, err := first.PlanPrune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Prune(ctx, plan); err != nil {
		t.Fatal(err)
	}
	first.Release(ctx)
	// A crashed operation's lock: not refreshed for a day.
	if _, err := f.r.saveLock(ctx, lockRecord{Op: "backup", Host: "elsewhere", PID: 1, Token: newToken(),
		Created: time.Now().Add(-24 * time.Hour), Refreshed: time.Now().Add(-24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	before := objects(t, f.be)
	dry := openWith(t, f.be)
	plan, err = dry.PlanPrune(ctx, PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	retired := sortedIDs(f.packOf(t, f.a[0]), f.packOf(t, f.a[4]), f.packOf(t, f.snapA.Collections[0].List))
	if !slices.Equal(plan.Delete, retired) || plan.Pending.StaleLocks != 1 || plan.Pending.Records != 1 || plan.Pending.Waiting != 0 {
		t.Fatalf("the dry run plans to delete %v (want %v), %+v\n%s", plan.Delete, retired, plan.Pending, plan)
	}
	if after := objects(t, f.be); !equalObjects(before, after) {
		t.Fatal("a dry-run plan changed the storage")
	}
	if err := dry.LockPrune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := dry.Prune(ctx, plan); !errors.Is(err, ErrPlanUnusable) {
		t.Fatalf("executing a dry-run plan: %v, want ErrPlanUnusable", err)
	}
	if _, err := f.r.PlanPrune(ctx, PruneOptions{}); !errors.Is(err, ErrPlanUnusable) {
		t.Fatalf("planning a prune without the prune lock: %v, want ErrPlanUnusable", err)
	}
}

// TestPruneRevivesRetiredChunks: a snapshot written by a handle that loaded the
// index before a prune retired a pack uses a chunk of it that no index names any
// more. The next prune's plan indexes that pack again (counting it live in the first
// phase) and deletes the others; afterwards every chunk of the snapshot loads.
func TestPruneRevivesRetiredChunks(t *testing.T) {
	ctx := context.Background()
	f := newPruneFixture(t)
	for _, sn := range []*Snapshot{f.snapA, f.snapK} {
		if err := f.r.RemoveSnapshot(ctx, sn); err != nil {
			t.Fatal(err)
		}
	}
	stale := openWith(t, f.be) // no lock: nothing tells the prune it runs
	prune := func() (*PrunePlan, PruneStats) {
		t.Helper()
		p := openWith(t, f.be)
		if err := p.LockPrune(ctx); err != nil {
			t.Fatal(err)
		}
		defer p.Release(ctx)
		plan, err := p.PlanPrune(ctx, PruneOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.Prune(ctx, plan)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Prune(ctx, plan); !errors.Is(err, ErrPlanUnusable) {
			t.Fatalf("a plan executed twice: %v, want ErrPlanUnusable", err)
		}
		return plan, st
	}
	if _, st := prune(); st.PacksRetired == 0 {
		t.Fatalf("the first prune retired nothing: %+v", st)
	}
	_, sn := saveTestSnapshot(t, stale, "1_3", 3, f.a[:1])
	plan, st := prune()
	if want := []ObjectID{f.packOf(t, f.a[0])}; !slices.Equal(plan.Revive, want) || st.Pending.Revived != 1 {
		t.Fatalf("revived %v, want %v\n%s", plan.Revive, want, plan)
	}
	// The first phase counts the revived chunk live, in the pack that now keeps it.
	if plan.ChunksLive != 9 || slices.Contains(plan.Drop, f.packOf(t, f.a[0])) {
		t.Fatalf("the first phase counted %d live chunks, want 9 (the revived one too)\n%s", plan.ChunksLive, plan)
	}
	if slices.Contains(plan.Delete, f.packOf(t, f.a[0])) || len(plan.Delete) == 0 {
		t.Fatalf("deleted %v\n%s", plan.Delete, plan)
	}
	fresh := openWith(t, f.be)
	l, err := fresh.LoadList(ctx, sn.Collections[0].List, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range l.Chunks {
		if _, err := fresh.LoadChunk(ctx, id, nil); err != nil {
			t.Fatalf("chunk %s of the snapshot: %v", id.Short(), err)
		}
	}
}

// TestPruneRefusesAfterLosingItsLock: a prune whose lock another prune removed (it
// took the first for crashed while it stalled between plan and execution) deletes and
// retires nothing: the two could otherwise run together.
func TestPruneRefusesAfterLosingItsLock(t *testing.T) {
	ctx := context.Background()
	f := newPruneFixture(t)
	if err := f.r.RemoveSnapshot(ctx, f.snapA); err != nil {
		t.Fatal(err)
	}
	p := openWith(t, f.be)
	if err := p.LockPrune(ctx); err != nil {
		t.Fatal(err)
	}
	plan, err := p.PlanPrune(ctx, PruneOptions{})
	if err != nil || len(plan.Drop) == 0 {
		t.Fatalf("plan: %v\n%s", err, plan)
	}
	for _, name := range objects(t, f.be)[transport.Locks] {
		if err := f.be.Remove(ctx, transport.Handle{Kind: transport.Locks, Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	before := objects(t, f.be)
	if _, err := p.Prune(ctx, plan); !errors.Is(err, ErrLockLost) {
		t.Fatalf("a prune that lost its lock: %v, want ErrLockLost", err)
	}
	if after := objects(t, f.be); !equalObjects(before, after) {
		t.Fatal("a prune that lost its lock changed the storage")
	}
}

// TestPrunePlanSeesSnapshotsWrittenSince: a prune's handle whose index was loaded
// before another handle wrote a snapshot plans with that snapshot's chunks live. A
// manifest is written after the index files naming its chunks, so loading the index
// again covers it; before, planning failed with the snapshot's chunk list not found.
func TestPrunePlanSeesSnapshotsWrittenSince(t *testing.T) {
	ctx := context.Background()
	r, be := testRepo(t)
	saveTestSnapshot(t, r, "1_1", 1, nil)
	pruner, err := Open(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	if err := pruner.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	ids, _ := saveTestSnapshot(t, r, "1_2", 2, nil) // by the other handle, after the load
	p, err := pruner.PlanPrune(ctx, PruneOptions{DryRun: true})
	if err != nil {
		t.Fatalf("plan beside a snapshot written since the index was loaded: %v", err)
	}
	for _, id := range ids {
		if !p.live[id] {
			t.Fatalf("chunk %s of the new snapshot is not live", id.Short())
		}
	}
	if len(p.Drop)+len(p.Repack) != 0 {
		t.Fatalf("plan drops %d and repacks %d packs, want none", len(p.Drop), len(p.Repack))
	}
}

package repo

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"cairn/chunk"
)

// TestPrefetchListsBudget: prefetching holds the smallest lists up to its budget and
// leaves larger ones to be loaded when used; every list still resolves.
func TestPrefetchListsBudget(t *testing.T) {
	ctx := context.Background()
	r, be := testRepo(t)
	var lists []chunk.ID
	for _, n := range []int{10, 2000, 20, 30000, 40} {
		ids := make([]chunk.ID, n)
		for i := range ids {
			ids[i] = r.ChunkID([]byte(fmt.Sprint(n, " ", i)))
		}
		l, err := r.SaveList(ctx, ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		lists = append(lists, l.ID)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	defer func(n int) { prefetchBytes = n }(prefetchBytes)
	prefetchBytes = 100 << 10 // the four small lists (64 KiB for 2000 ids), not 30000 ids
	r2, err := Open(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.PrefetchLists(ctx, lists); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, true, false, true} {
		if got := r2.lists.has(lists[i]); got != want {
			t.Errorf("list %d prefetched: %v, want %v", i, got, want)
		}
	}
	for i, id := range lists {
		l, err := r2.LoadList(ctx, id, nil)
		if err != nil || len(l.Chunks) != []int{10, 2000, 20, 30000, 40}[i] {
			t.Fatalf("list %d: %d chunks, %v", i, len(l.Chunks), err)
		}
	}
}

// TestPrefetchSnapshotListsReadsFramesOnce: after an incremental backup, a handle that
// has listed the snapshots reads each frame of lists once to resolve the latest one:
// the parent's lists its deltas are written against go with the first pass, beside the
// unchanged collections' lists in the same frame. Without the parent, the second pass
// reads that frame again.
func TestPrefetchSnapshotListsReadsFramesOnce(t *testing.T) {
	ctx := context.Background()
	r, be := testRepo(t)
	ids := func(c, n, gen int) []chunk.ID {
		out := make([]chunk.ID, n)
		for i := range out {
			out[i] = r.ChunkID(fmt.Appendf(nil, "%d %d %d", c, i, gen*btoi(i == n/2)))
		}
		return out
	}
	var first []List
	sn1 := &Snapshot{ID: "1.0.0_1700000000000", Time: time.Unix(1700000000, 0), Kind: "folder"}
	for c := range 6 {
		l, err := r.SaveList(ctx, ids(c, 300, 0), nil)
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, l)
		sn1.Collections = append(sn1.Collections, Collection{Name: fmt.Sprint("c", c), List: l.ID, Count: 300})
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(ctx, sn1); err != nil {
		t.Fatal(err)
	}
	sn2 := &Snapshot{ID: "1.0.0_1700000001000", Time: time.Unix(1700000001, 0), Kind: "folder", Parent: sn1.ID}
	sn2.Collections = slices.Clone(sn1.Collections)
	for _, c := range []int{1, 4} { // two collections change one chunk each
		l, err := r.SaveList(ctx, ids(c, 300, 1), &first[c])
		if err != nil {
			t.Fatal(err)
		}
		sn2.Collections[c].List = l.ID
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveSnapshot(ctx, sn2); err != nil {
		t.Fatal(err)
	}

	read := func(listFirst bool) int64 {
		r2, err := Open(ctx, be)
		if err != nil {
			t.Fatal(err)
		}
		if listFirst {
			if _, err := r2.Snapshots(ctx); err != nil {
				t.Fatal(err)
			}
		}
		before := r2.BytesRead()
		if err := r2.PrefetchSnapshotLists(ctx, sn2); err != nil {
			t.Fatal(err)
		}
		n := r2.BytesRead() - before
		for c, col := range sn2.Collections {
			rc, err := r2.ResolveCollection(ctx, sn2, col)
			if err != nil || !slices.Equal(rc.Chunks, ids(c, 300, btoi(c == 1 || c == 4))) {
				t.Fatalf("collection %d: %v", c, err)
			}
		}
		if r2.BytesRead()-before != n {
			t.Fatalf("resolving read %d bytes more after the prefetch", r2.BytesRead()-before-n)
		}
		return n
	}
	type frame struct {
		pack ObjectID
		at   uint32
	}
	frames := map[frame]int64{}
	for _, l := range append(first, List{ID: sn2.Collections[1].List}, List{ID: sn2.Collections[4].List}) {
		loc, ok := r.Index().Lookup(l.ID)
		if !ok {
			t.Fatalf("list %s not indexed", l.ID.Short())
		}
		frames[frame{loc.Pack, loc.Frame}] = int64(loc.FrameLen)
	}
	var once int64
	for _, n := range frames {
		once += n
	}
	if got := read(true); got != once {
		t.Errorf("listed first: read %d bytes of frames, want %d (%d frames once each)", got, once, len(frames))
	}
	if got := read(false); got <= once {
		t.Errorf("without the parent: read %d bytes, want more than %d (the shared frame twice)", got, once)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

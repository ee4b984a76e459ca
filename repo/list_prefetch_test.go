package repo

import (
	"context"
	"fmt"
	"testing"

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

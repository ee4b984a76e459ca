package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport/mem"
)

// TestDiffCollectionInOneSnapshot: a collection that only one of two snapshots has is
// diffed against nothing: all its records added, or all removed.
func TestDiffCollectionInOneSnapshot(t *testing.T) {
	db := generate(t, 1<<20, 3)
	r := newRepo(t, mem.New())
	now := clock()
	a := backup(t, r, engine.FolderSource{Dir: db}, now)
	added := `{"id":"n1","v":1}` + "\n" + `{"id":"n2","v":2}` + "\n" + `{"id":"n3","v":3}` + "\n"
	if err := os.WriteFile(filepath.Join(db, "notes.jsonl"), []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	b := backup(t, r, engine.FolderSource{Dir: db}, now)
	for _, tc := range []struct {
		name                   string
		from, to               int // 0: a, 1: b
		wantAdded, wantRemoved int
	}{
		{"added", 0, 1, 3, 0},
		{"removed", 1, 0, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snaps := []*repo.Snapshot{a, b}
			diffs, err := engine.Diff(context.Background(), r, snaps[tc.from], snaps[tc.to])
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) != 1 || diffs[0].Name != "notes" || diffs[0].Added != tc.wantAdded || diffs[0].Removed != tc.wantRemoved || diffs[0].Changed != 0 {
				t.Fatalf("diff: %+v", diffs)
			}
		})
	}
}

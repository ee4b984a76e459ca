package engine_test

import (
	"context"
	"testing"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport/mem"
)

// TestPruneSparesARunningBackup: a backup that deduplicates against chunks prune has
// just found unused loses nothing. The backup opens (writing its lock) before the
// prune; the prune takes the packs off the index and leaves them pending; a second
// prune, while the backup still runs, deletes nothing; the backup commits (indexing the
// packs it used again); a third prune, after the backup ended, keeps them. Every
// snapshot restores byte for byte at the end, and check --read-data passes.
func TestPruneSparesARunningBackup(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r := newRepo(t, be)
	now := clock()
	db := generate(t, 1<<20, 21)
	first := backup(t, r, engine.FolderSource{Dir: db}, now)
	if err := engine.Forget(ctx, r, []*repo.Snapshot{first}); err != nil {
		t.Fatal(err)
	}
	// Every chunk of db is garbage now.
	running, err := repo.Open(ctx, be, repo.WithLock("backup"))
	if err != nil {
		t.Fatal(err)
	}
	prune := func() engine.PruneStats {
		t.Helper()
		st, err := engine.Prune(ctx, reopen(t, r, be), engine.PruneOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := prune(); st.PacksRemoved == 0 {
		t.Fatalf("first prune found nothing unused: %+v", st)
	}
	if st := prune(); st.Pending.Waiting != 1 || st.Pending.PacksDeleted != 0 {
		t.Fatalf("second prune did not wait for the running backup: %+v", st.Pending)
	}
	// The running backup finds every chunk already stored (in the retired packs).
	sn, err := engine.Backup(ctx, running, engine.FolderSource{Dir: db}, engine.BackupOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if sn.Totals.NewRawBytes != 0 {
		t.Fatalf("the running backup stored %d new bytes; it should deduplicate against the retired packs", sn.Totals.NewRawBytes)
	}
	if err := running.Release(ctx); err != nil {
		t.Fatal(err)
	}
	st := prune()
	if st.Pending.Waiting != 0 || st.Pending.Records == 0 {
		t.Fatalf("third prune: %+v", st.Pending)
	}
	fresh := reopen(t, r, be)
	if res, err := engine.Check(ctx, fresh, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
		t.Fatalf("check after the prunes: %v %+v", err, res)
	}
	sameCollections(t, readFolder(t, db), restoreFolder(t, fresh, sn))
}

// TestPruneDeletesAfterBackupsEnd: packs nothing uses are deleted by the prune after
// the one that retired them, once no operation that saw them runs; a crashed
// operation's lock (its process is gone) does not hold them forever.
func TestPruneDeletesAfterBackupsEnd(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r := newRepo(t, be)
	now := clock()
	first := backup(t, r, engine.FolderSource{Dir: generate(t, 1<<20, 22)}, now)
	keep := generate(t, 1<<20, 23)
	second := backup(t, r, engine.FolderSource{Dir: keep}, now)
	if err := engine.Forget(ctx, r, []*repo.Snapshot{first}); err != nil {
		t.Fatal(err)
	}
	packsBefore, _ := r.Packs(ctx)
	st, err := engine.Prune(ctx, reopen(t, r, be), engine.PruneOptions{})
	if err != nil || st.PacksRemoved+st.PacksRepacked == 0 {
		t.Fatalf("first prune: %+v %v", st, err)
	}
	packsAfter, _ := r.Packs(ctx)
	if len(packsAfter) < len(packsBefore) {
		t.Fatal("the first prune deleted packs itself")
	}
	st, err = engine.Prune(ctx, reopen(t, r, be), engine.PruneOptions{})
	if err != nil || st.Pending.PacksDeleted == 0 || st.Pending.Revived != 0 {
		t.Fatalf("second prune: %+v %v", st.Pending, err)
	}
	if packs, _ := r.Packs(ctx); len(packs) != len(packsAfter)-st.Pending.PacksDeleted {
		t.Fatal("the second prune deleted nothing")
	}
	fresh := reopen(t, r, be)
	if res, err := engine.Check(ctx, fresh, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() || res.PendingPacks != 0 {
		t.Fatalf("check: %v %+v", err, res)
	}
	sameCollections(t, readFolder(t, keep), restoreFolder(t, fresh, second))
	// Only one prune at a time.
	holder := reopen(t, r, be)
	if err := holder.LockPrune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Prune(ctx, reopen(t, r, be), engine.PruneOptions{}); err == nil {
		t.Fatal("a second prune ran beside the first")
	}
	holder.Release(ctx)
}

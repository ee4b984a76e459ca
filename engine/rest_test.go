package engine_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"cairn/engine"
	"cairn/engine/gendb"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/rest"
	"cairn/transport/rest/resttest"
)

// onSave calls fn before the n-th save of a pack.
type onSave struct {
	transport.Backend
	n    atomic.Int64
	at   int64
	fire func()
}

func (o *onSave) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if h.Kind == transport.Data && o.n.Add(1) == o.at && o.fire != nil {
		o.fire()
	}
	return o.Backend.Save(ctx, h, data)
}

// TestRestServerKilledMidBackup: the REST server dies in the middle of a backup and
// comes back. The backup fails with the connection error; every earlier snapshot still
// restores byte for byte, check finds nothing wrong, and the next backup succeeds.
func TestRestServerKilledMidBackup(t *testing.T) {
	srv := resttest.Start(t, "--no-auth")
	opt := rest.Options{RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond}
	be, err := rest.Open(srv.URL+"repo", opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := be.Create(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.PackSize = 256 << 10
	r, err := repo.Init(ctx, be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := clock()
	db := generate(t, 4<<20, 21)
	first := backup(t, r, engine.FolderSource{Dir: db}, now)
	want := readFolder(t, db)
	if _, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.5, Seed: 22}); err != nil {
		t.Fatal(err)
	}
	killer := &onSave{Backend: be, at: 3, fire: srv.Stop}
	r2, err := repo.Open(ctx, killer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Backup(ctx, r2, engine.FolderSource{Dir: db}, engine.BackupOptions{Now: now}); err == nil {
		t.Fatal("a backup whose server died succeeded")
	}
	srv.Restart()
	r3, err := repo.Open(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	list, err := r3.Snapshots(ctx)
	if err != nil || len(list) != 1 || list[0].ID != first.ID {
		t.Fatalf("snapshots after the failed backup: %v %v", list, err)
	}
	if res, err := engine.Check(ctx, r3, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
		t.Fatalf("check: %v %+v", err, res)
	}
	sameCollections(t, want, restoreFolder(t, r3, list[0]))
	next := backup(t, r3, engine.FolderSource{Dir: db}, now)
	sameCollections(t, readFolder(t, db), restoreFolder(t, r3, next))
	if next.Totals.BytesSent == 0 || next.Totals.BytesSent > next.Totals.StoredBytes {
		t.Fatalf("bytes sent %d, stored %d", next.Totals.BytesSent, next.Totals.StoredBytes)
	}
}

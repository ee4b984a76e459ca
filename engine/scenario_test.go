package engine_test

import (
	"context"
	"strings"
	"testing"

	"cairn/engine"
	"cairn/engine/gendb"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/location"
	"cairn/transport/mem"
	"cairn/transport/rest/resttest"
	"cairn/transport/s3/miniotest"
)

// scenarioStore is where one run of the scenario keeps its repository: create makes
// the storage and returns a backend on it; open connects to it again as a later
// command would (nil: create's backend is used again).
type scenarioStore struct {
	name   string
	server bool // runs a server process: skipped with -short
	create func(t *testing.T) transport.Backend
	open   func(t *testing.T) transport.Backend
}

// atLocation creates and opens a repository at loc, as the CLI and the daemon do; the
// later opens go without the cache and with bandwidth limits.
func atLocation(loc func(t *testing.T) string) (create, open func(t *testing.T) transport.Backend) {
	var where string
	connect := func(t *testing.T, create bool, opt location.Options) transport.Backend {
		t.Helper()
		connect := location.Open
		if create {
			where = loc(t)
			connect = location.Create
			if remote := !strings.HasPrefix(where, "local:"); location.Remote(where) != remote {
				t.Fatalf("location.Remote(%s) = %v", where, !remote)
			}
		}
		be, err := connect(t.Context(), where, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { be.Close() })
		return be
	}
	create = func(t *testing.T) transport.Backend {
		return connect(t, true, location.Options{Connections: 4, CacheDir: t.TempDir()})
	}
	open = func(t *testing.T) transport.Backend {
		return connect(t, false, location.Options{LimitUpload: 64 << 20, LimitDownload: 64 << 20})
	}
	return create, open
}

func scenarioStores() []scenarioStore {
	localCreate, localOpen := atLocation(func(t *testing.T) string { return "local:" + t.TempDir() + "/repo" })
	restCreate, restOpen := atLocation(func(t *testing.T) string {
		return "rest:" + resttest.Start(t, "--no-auth").URL + "repo"
	})
	s3Create, s3Open := atLocation(func(t *testing.T) string {
		srv := miniotest.Start(t)
		t.Setenv("AWS_ACCESS_KEY_ID", miniotest.User)
		t.Setenv("AWS_SECRET_ACCESS_KEY", miniotest.Password)
		t.Setenv("AWS_SESSION_TOKEN", "")
		t.Setenv("AWS_REGION", "")
		t.Setenv("AWS_DEFAULT_REGION", "")
		return "s3:" + srv.URL + "/backups/pieces/laptop"
	})
	return []scenarioStore{
		{name: "mem", create: func(*testing.T) transport.Backend { return mem.New() }},
		{name: "local", create: localCreate, open: localOpen},
		{name: "rest-server", server: true, create: restCreate, open: restOpen},
		{name: "minio", server: true, create: s3Create, open: s3Open},
	}
}

// TestScenario runs what a user does, on every transport: init, a backup, an
// incremental backup, a byte-for-byte restore of both from a fresh open, check
// --read-data, forget of the first snapshot and two prunes; after them the second
// snapshot still restores byte for byte and check finds nothing wrong.
func TestScenario(t *testing.T) {
	for _, st := range scenarioStores() {
		t.Run(st.name, func(t *testing.T) {
			if st.server && testing.Short() {
				t.Skip("starts a server process")
			}
			be := st.create(t)
			reopen := func() *repo.Repository {
				t.Helper()
				b := be
				if st.open != nil {
					b = st.open(t)
				}
				r, err := repo.Open(t.Context(), b)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			scenario(t, be, reopen)
		})
	}
}

func scenario(t *testing.T, be transport.Backend, reopen func() *repo.Repository) {
	ctx := t.Context()
	cfg := testConfig(t)
	cfg.PackSize = 256 << 10
	r, err := repo.Init(ctx, be, cfg)
	if err != nil {
		t.Fatal("init:", err)
	}
	now := clock()
	db := generate(t, 2<<20, 41)
	first := backup(t, r, engine.FolderSource{Dir: db}, now)
	want1 := readFolder(t, db)
	if first.Totals.ChunksNew == 0 || first.Totals.StoredBytes == 0 {
		t.Fatalf("first backup stored nothing: %+v", first.Totals)
	}

	// Incremental: 1% of the records change; most chunks are reused.
	if _, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.01, Seed: 42}); err != nil {
		t.Fatal(err)
	}
	second := backup(t, r, engine.FolderSource{Dir: db}, now)
	want2 := readFolder(t, db)
	if second.Parent != first.ID || second.Totals.ChunksReused == 0 || second.Totals.StoredBytes >= first.Totals.StoredBytes/2 {
		t.Fatalf("incremental backup: parent %q (want %s), stored %d bytes (the first %d), reused %d chunks",
			second.Parent, first.ID, second.Totals.StoredBytes, first.Totals.StoredBytes, second.Totals.ChunksReused)
	}

	// Restore both, byte for byte, from a fresh open.
	r = reopen()
	list, err := r.Snapshots(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("snapshots: %v %v", list, err)
	}
	for _, sn := range list {
		switch sn.ID {
		case first.ID:
			sameCollections(t, want1, restoreFolder(t, r, sn))
		case second.ID:
			sameCollections(t, want2, restoreFolder(t, r, sn))
		default:
			t.Fatalf("unknown snapshot %s", sn.ID)
		}
	}
	checkClean(t, r)

	// Forget the first snapshot and prune: the chunks only it needed are garbage.
	if err := engine.Forget(ctx, r, []*repo.Snapshot{first}); err != nil {
		t.Fatal("forget:", err)
	}
	r = reopen()
	// Any garbage is reason enough to repack: the prune has work on every transport.
	pst, err := engine.Prune(ctx, r, engine.PruneOptions{MaxUnused: 0.001})
	if err != nil {
		t.Fatal("prune:", err)
	}
	taken := pst.PacksRemoved + pst.PacksRepacked
	if pst.ChunksUnused == 0 || pst.ChunksLive == 0 || taken == 0 {
		t.Fatalf("prune after forget found no garbage: %+v", pst)
	}
	// The second prune deletes the packs the first left pending.
	r = reopen()
	pst, err = engine.Prune(ctx, r, engine.PruneOptions{MaxUnused: 0.001})
	if err != nil {
		t.Fatal("second prune:", err)
	}
	if pst.Pending.PacksDeleted != taken {
		t.Fatalf("the second prune deleted %d pending packs, the first took %d off the index", pst.Pending.PacksDeleted, taken)
	}
	r = reopen()
	list, err = r.Snapshots(ctx)
	if err != nil || len(list) != 1 || list[0].ID != second.ID {
		t.Fatalf("snapshots after forget and prune: %v %v", list, err)
	}
	sameCollections(t, want2, restoreFolder(t, r, list[0]))
	checkClean(t, r)
}

// checkClean runs check --read-data and fails the test unless it read every pack and
// found nothing wrong.
func checkClean(t *testing.T, r *repo.Repository) {
	t.Helper()
	res, err := engine.Check(context.Background(), r, engine.CheckOptions{ReadData: true})
	if err != nil || !res.OK() || res.UnusedPacks != 0 {
		t.Fatalf("check --read-data: %v %+v", err, res)
	}
	if res.Packs == 0 || res.BytesRead == 0 {
		t.Fatalf("check --read-data read nothing: %+v", res)
	}
}

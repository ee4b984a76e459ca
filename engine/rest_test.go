package engine_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"cairn/engine"
	"cairn/engine/gendb"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/rest"
	"cairn/transport/rest/resttest"
	"cairn/transport/retry"
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
// restRepo makes a repository on a REST server.
func restRepo(t *testing.T, u string, opt retry.Options) (*retry.Backend, *repo.Repository) {
	t.Helper()
	raw, err := rest.Open(u, rest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	be := retry.New(raw, opt)
	if err := be.Do(context.Background(), raw.Create); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.PackSize = 256 << 10
	r, err := repo.Init(context.Background(), be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return be, r
}

func TestRestServerKilledMidBackup(t *testing.T) {
	srv := resttest.Start(t, "--no-auth")
	be, r := restRepo(t, srv.URL+"repo", retry.Options{Max: 2, WaitMin: time.Millisecond, WaitMax: 10 * time.Millisecond})
	ctx := context.Background()
	now := clock()
	db := generate(t, 4<<20, 21)
	first := backup(t, r, engine.FolderSource{Dir: db}, now)
	want := readFolder(t, db)
	if _, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.5, Seed: 22}); err != nil {
		t.Fatal(err)
	}
	killer := &onSave{Backend: be, at: 2, fire: srv.Stop} // at the second of the backup's packs
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

// countingProxy forwards to a server and counts the bytes clients send: request
// lines, headers and bodies.
type countingProxy struct {
	next http.Handler
	sent atomic.Int64
}

func (c *countingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	head, _ := httputil.DumpRequest(r, false)
	c.sent.Add(int64(len(head)))
	r.Body = &countingBody{ReadCloser: r.Body, n: &c.sent}
	c.next.ServeHTTP(w, r)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// TestIncrementalSendsLittleMoreThanItStores: after a 1% change, the bytes an
// incremental backup puts on the wire (every request, headers included) are at most
// 1.2 times the new bytes it stores.
func TestIncrementalSendsLittleMoreThanItStores(t *testing.T) {
	srv := resttest.Start(t, "--no-auth")
	target, _ := url.Parse(srv.URL)
	proxy := &countingProxy{next: httputil.NewSingleHostReverseProxy(target)}
	hs := httptest.NewServer(proxy)
	defer hs.Close()
	be, err := rest.Open(hs.URL+"/repo", rest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := be.Create(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Init(ctx, be, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	now := clock()
	db := generate(t, 16<<20, 24)
	backup(t, r, engine.FolderSource{Dir: db}, now)
	if _, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.01, Seed: 25}); err != nil {
		t.Fatal(err)
	}
	before, written := proxy.sent.Load(), r.BytesWritten()
	sn := backup(t, r, engine.FolderSource{Dir: db}, now)
	sent, stored := proxy.sent.Load()-before, r.BytesWritten()-written
	t.Logf("incremental backup: stored %d bytes, sent %d (%.3fx)", stored, sent, float64(sent)/float64(stored))
	if float64(sent) > 1.2*float64(stored) {
		t.Fatalf("sent %d bytes for %d stored", sent, stored)
	}
	if sn.Totals.BytesSent != sn.Totals.StoredBytes || sn.Totals.BytesReceived == 0 {
		t.Fatalf("totals %+v", sn.Totals)
	}
}

package engine_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cairn/engine"
	"cairn/engine/enginetest"
	"cairn/engine/gendb"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/local"
	"cairn/transport/rest"
	"cairn/transport/rest/resttest"
	"cairn/transport/retry"
	"cairn/transport/s3"
	"cairn/transport/s3/miniotest"
)

// copyKDF keeps key derivation quick in tests.
var copyKDF = repo.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// encryptedRepo makes an encrypted repository with its own random chunking secrets
// (not testConfig's fixed ones: source and target must differ as in real use).
func encryptedRepo(tb testing.TB, be transport.Backend, password string, packSize int) {
	tb.Helper()
	cfg, err := repo.NewConfig(time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Encryption, cfg.PackSize = repo.EncryptionXChaCha, packSize
	if _, err := repo.Init(context.Background(), be, cfg, repo.WithPassword(password, copyKDF)); err != nil {
		tb.Fatal(err)
	}
}

// copySource is a local encrypted repository holding two snapshots of a database, the
// second after a 2% change, and the collections of each.
type copySource struct {
	be    transport.Backend
	snaps []*repo.Snapshot
	want  []map[string][]byte
}

func newCopySource(tb testing.TB, size int64) *copySource {
	tb.Helper()
	be, err := local.Create(filepath.Join(tb.TempDir(), "source"))
	if err != nil {
		tb.Fatal(err)
	}
	encryptedRepo(tb, be, "source password", 256<<10)
	r := openRepo(tb, be, repo.WithPassword("source password", repo.KDFParams{}), repo.WithLock("backup"))
	s := &copySource{be: be}
	now := clock()
	db := generate(tb, size, 41)
	for i := range 2 {
		if i > 0 {
			if _, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.02, Seed: 42}); err != nil {
				tb.Fatal(err)
			}
		}
		s.snaps = append(s.snaps, backup(tb, r, engine.FolderSource{Dir: db}, now))
		s.want = append(s.want, readFolder(tb, db))
	}
	return s
}

// runCopy opens the source under a lock and the target under a backup lock, copies,
// and releases both. It may run on any goroutine.
func runCopy(src *copySource, dst transport.Backend, ids ...string) (engine.CopyStats, error) {
	ctx := context.Background()
	s, err := repo.Open(ctx, src.be, repo.WithPassword("source password", repo.KDFParams{}), repo.WithLock("copy"))
	if err != nil {
		return engine.CopyStats{}, err
	}
	defer s.Release(ctx)
	d, err := repo.Open(ctx, dst, repo.WithPassword("target password", repo.KDFParams{}), repo.WithLock("backup"))
	if err != nil {
		return engine.CopyStats{}, err
	}
	defer d.Release(ctx)
	var events atomic.Int64
	st, err := engine.Copy(ctx, s, d, engine.CopyOptions{Snapshots: ids, Progress: engine.ProgressFunc(func(engine.Event) { events.Add(1) })})
	if err == nil && len(st.Copied) > 0 && events.Load() == 0 {
		err = errors.New("a copy reported no progress")
	}
	return st, err
}

// stored lists the objects of a repository other than locks, with their sizes.
func stored(tb testing.TB, be transport.Backend) map[string]int64 {
	tb.Helper()
	out := map[string]int64{}
	for _, k := range []transport.Kind{transport.Data, transport.Index, transport.Snapshots, transport.Keys} {
		if err := be.List(context.Background(), k, func(fi transport.FileInfo) error {
			out[string(k)+"/"+fi.Name] = fi.Size
			return nil
		}); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// grown is the bytes of objects in after that are not in before; it fails if an
// object of before changed or went.
func grown(tb testing.TB, before, after map[string]int64) (n int64, names []string) {
	tb.Helper()
	for name, size := range before {
		if after[name] != size {
			tb.Fatalf("object %s changed from %d to %d bytes", name, size, after[name])
		}
	}
	for name, size := range after {
		if _, ok := before[name]; !ok {
			n += size
			names = append(names, name)
		}
	}
	return n, names
}

// restoresFromTarget restores every snapshot of the source from the target and
// compares the bytes.
func restoresFromTarget(tb testing.TB, src *copySource, dst transport.Backend) {
	tb.Helper()
	d := openRepo(tb, dst, repo.WithPassword("target password", repo.KDFParams{}), repo.WithLock("restore"))
	list, err := d.Snapshots(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if len(list) != len(src.snaps) {
		tb.Fatalf("target holds %d snapshots, source %d", len(list), len(src.snaps))
	}
	for i, sn := range list {
		if sn.ID != src.snaps[i].ID || sn.Time != src.snaps[i].Time || sn.DeviceName != src.snaps[i].DeviceName {
			tb.Fatalf("target snapshot %d is %s (%s, %s), source %s", i, sn.ID, sn.Time, sn.DeviceName, src.snaps[i].ID)
		}
		sameCollections(tb, src.want[i], restoreFolder(tb, d, sn))
	}
	if res, err := engine.Check(context.Background(), d, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
		tb.Fatalf("check of the target: %v %+v", err, res)
	}
}

// checkCopyTwice copies the first snapshot, then all, then all again, to a fresh
// target on be: the copies restore byte for byte; the second copy sends only what the
// second snapshot changed; the third sends no chunk and writes nothing; the reported
// bytes sent are what the target's storage grew by.
func checkCopyTwice(t *testing.T, be transport.Backend, list func() map[string]int64) {
	src := newCopySource(t, 4<<20)
	encryptedRepo(t, be, "target password", 256<<10)

	before := list()
	first, err := runCopy(src, be, src.snaps[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Copied) != 1 || first.Copied[0] != src.snaps[0].ID || first.ChunksSent == 0 || first.ChunksPresent != 0 {
		t.Fatalf("first copy: %+v", first)
	}
	if n, _ := grown(t, before, list()); n != first.BytesSent {
		t.Fatalf("first copy reported %d bytes sent, the target grew by %d", first.BytesSent, n)
	}

	before = list()
	second, err := runCopy(src, be)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Copied) != 1 || len(second.Skipped) != 1 || second.Copied[0] != src.snaps[1].ID {
		t.Fatalf("second copy: %+v", second)
	}
	if n, _ := grown(t, before, list()); n != second.BytesSent {
		t.Fatalf("second copy reported %d bytes sent, the target grew by %d", second.BytesSent, n)
	}
	// The copies deduplicate against each other as the originals do.
	if want := src.snaps[1].Totals.ChunksNew; second.ChunksSent != want {
		t.Fatalf("second copy sent %d chunks; the backup it copies stored %d new ones", second.ChunksSent, want)
	}
	t.Logf("first copy: %d chunks, %d bytes sent; second: %d chunks, %d bytes", first.ChunksSent, first.BytesSent, second.ChunksSent, second.BytesSent)

	before = list()
	third, err := runCopy(src, be)
	if err != nil {
		t.Fatal(err)
	}
	if len(third.Copied) != 0 || len(third.Skipped) != 2 || third.ChunksSent != 0 || third.BytesSent != 0 || third.BytesRead != 0 {
		t.Fatalf("third copy: %+v", third)
	}
	if n, names := grown(t, before, list()); n != 0 || len(names) != 0 {
		t.Fatalf("a copy of what the target has stored %d bytes: %v", n, names)
	}
	restoresFromTarget(t, src, be)
}

func TestCopyToRestServer(t *testing.T) {
	srv := resttest.Start(t, "--no-auth")
	be, err := rest.Open(srv.URL+"repo", rest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkCopyTwice(t, be, func() map[string]int64 { return enginetest.StoredFiles(t, filepath.Join(srv.Dir, "repo")) })
}

func TestCopyToMinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a MinIO server")
	}
	srv := miniotest.Start(t)
	be, err := s3.Open(srv.URL+"/cairn-copy/replica", s3.Options{AccessKeyID: miniotest.User, SecretAccessKey: miniotest.Password})
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkCopyTwice(t, be, func() map[string]int64 { return stored(t, be) })
}

// packSaves counts the saves of packs that reached the server.
type packSaves struct {
	transport.Backend
	fireAt int64
	fire   func()
	n      atomic.Int64
	ok     atomic.Int64
	names  chan string
}

func (p *packSaves) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if h.Kind == transport.Data && p.n.Add(1) == p.fireAt && p.fire != nil {
		p.fire()
	}
	err := p.Backend.Save(ctx, h, data)
	if err == nil && h.Kind == transport.Data {
		p.ok.Add(1)
		p.names <- h.Name
	}
	return err
}

// TestCopyResumesAfterServerKill: the target's server dies in the middle of a copy and
// comes back; the copy run again sends none of the packs that arrived before the cut
// (each chunk is in one pack only, no pack is sent twice), and the copy restores.
func TestCopyResumesAfterServerKill(t *testing.T) {
	ctx := context.Background()
	src := newCopySource(t, 8<<20)
	srv := resttest.Start(t, "--no-auth")
	raw, err := rest.Open(srv.URL+"repo", rest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	be := retry.New(raw, retry.Options{Max: 1, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond})
	if err := be.Do(ctx, raw.Create); err != nil {
		t.Fatal(err)
	}
	encryptedRepo(t, be, "target password", 128<<10)
	names := make(chan string, 10000)
	killer := &packSaves{Backend: be, fireAt: 6, fire: srv.Stop, names: names}
	if _, err := runCopy(src, killer); err == nil {
		t.Fatal("a copy whose server died succeeded")
	}
	srv.Restart()
	arrived := enginetest.StoredFiles(t, filepath.Join(srv.Dir, "repo"))
	packs := 0
	for name := range arrived {
		if _, err := repo.ParseObjectID(filepath.Base(name)); err == nil && strings.HasPrefix(name, "data") {
			packs++
		}
	}
	if idx := countPrefix(arrived, "index"); idx != 0 {
		t.Fatalf("the cut came after %d index files: too late to test adoption", idx)
	}
	if packs < 3 {
		t.Fatalf("only %d packs arrived before the cut", packs)
	}
	if snaps := countPrefix(arrived, "snapshots"); snaps != 0 {
		t.Fatalf("a cut copy left %d manifests", snaps)
	}

	resumed := &packSaves{Backend: be, names: names}
	st, err := runCopy(src, resumed)
	if err != nil {
		t.Fatal(err)
	}
	close(names)
	seen := map[string]bool{}
	for n := range names {
		if seen[n] {
			t.Fatalf("pack %s was sent twice", n[:8])
		}
		seen[n] = true
	}
	// No chunk was sent twice: each sits in exactly one pack of the target.
	d := openRepo(t, be, repo.WithPassword("target password", repo.KDFParams{}))
	enginetest.NoChunkTwice(t, d)
	if st.Adopted != packs || len(st.Copied) != 2 {
		t.Fatalf("resumed copy adopted %d of the %d packs that arrived: %+v", st.Adopted, packs, st)
	}
	restoresFromTarget(t, src, be)
}

func countPrefix(m map[string]int64, prefix string) int {
	n := 0
	for name := range m {
		if strings.HasPrefix(name, prefix) {
			n++
		}
	}
	return n
}

// TestCopyRefuses: an unknown snapshot and a target holding another snapshot under
// a copied snapshot's id are refused before anything is sent.
func TestCopyRefuses(t *testing.T) {
	ctx := context.Background()
	src := newCopySource(t, 1<<20)
	dst, err := local.Create(filepath.Join(t.TempDir(), "target"))
	if err != nil {
		t.Fatal(err)
	}
	encryptedRepo(t, dst, "target password", 256<<10)
	before := stored(t, dst)
	if _, err := runCopy(src, dst, "no-such-snapshot_1"); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("copy of an unknown snapshot: %v", err)
	}
	if n, names := grown(t, before, stored(t, dst)); n != 0 {
		t.Fatalf("a refused copy stored %v", names)
	}
	// A backup straight into the target under the id of the source's second snapshot.
	d := openRepo(t, dst, repo.WithPassword("target password", repo.KDFParams{}), repo.WithLock("backup"))
	db := generate(t, 256<<10, 43)
	if _, err := engine.Backup(ctx, d, engine.FolderSource{Dir: db}, engine.BackupOptions{ID: src.snaps[1].ID}); err != nil {
		t.Fatal(err)
	}
	d.Release(ctx)
	before = stored(t, dst)
	_, err = runCopy(src, dst)
	if !errors.Is(err, engine.ErrSnapshotConflict) || !strings.Contains(err.Error(), src.snaps[1].ID) {
		t.Fatalf("copy onto a conflicting snapshot: %v", err)
	}
	if n, names := grown(t, before, stored(t, dst)); n != 0 {
		t.Fatalf("a refused copy stored %v", names)
	}
	// Asked for the first snapshot only, the copy goes ahead.
	st, err := runCopy(src, dst, src.snaps[0].ID)
	if err != nil || fmt.Sprint(st.Copied) != fmt.Sprint([]string{src.snaps[0].ID}) {
		t.Fatalf("copy of the snapshot without conflict: %v %+v", err, st)
	}
}

// manifestBarrier holds a handle's first manifest save until the other copy reaches
// its own, so two copies of the same snapshots surely both write one.
type manifestBarrier struct {
	transport.Backend
	once    sync.Once
	barrier *sync.WaitGroup
}

func (m *manifestBarrier) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if h.Kind == transport.Snapshots {
		m.once.Do(func() { m.barrier.Done(); m.barrier.Wait() })
	}
	return m.Backend.Save(ctx, h, data)
}

// TestConcurrentCopiesLeaveOneManifest: two copies of the same snapshots into one
// target at once both write manifests; afterwards the target holds one per snapshot,
// and each restores.
func TestConcurrentCopiesLeaveOneManifest(t *testing.T) {
	src := newCopySource(t, 1<<20)
	dst, err := local.Create(filepath.Join(t.TempDir(), "target"))
	if err != nil {
		t.Fatal(err)
	}
	encryptedRepo(t, dst, "target password", 256<<10)
	var barrier sync.WaitGroup
	barrier.Add(2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			st, err := runCopy(src, &manifestBarrier{Backend: dst, barrier: &barrier})
			if err == nil && len(st.Copied) != 2 {
				err = fmt.Errorf("a racing copy copied %v", st.Copied)
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	restoresFromTarget(t, src, dst)
}

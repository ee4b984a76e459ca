package engine_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restic/chunker"

	"cairn/chunk"
	"cairn/engine"
	"cairn/engine/enginetest"
	"cairn/engine/exported"
	"cairn/engine/gendb"
	"cairn/engine/localdb"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/local"
	"cairn/transport/mem"
)

// testConfig is a repository config with a fixed polynomial and seed.
func testConfig(tb testing.TB) repo.Config {
	tb.Helper()
	cfg, err := repo.NewConfig(time.Unix(1_700_000_000, 0))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Chunking.Polynomial = chunker.Pol(0x3DA3358B4DC173)
	cfg.Chunking.Seed = 7
	cfg.PackSize = 1 << 20
	return cfg
}

func newRepo(tb testing.TB, be transport.Backend) *repo.Repository {
	tb.Helper()
	r, err := repo.Init(context.Background(), be, testConfig(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func reopen(tb testing.TB, r *repo.Repository, be transport.Backend) *repo.Repository {
	tb.Helper()
	r2, err := repo.Open(context.Background(), be)
	if err != nil {
		tb.Fatal(err)
	}
	return r2
}

// The helpers the engine's tests share with the transports' tests.
var (
	generate        = enginetest.Generate
	clock           = enginetest.Clock
	backup          = enginetest.Backup
	readFolder      = enginetest.ReadFolder
	sameCollections = enginetest.SameCollections
	restoreFolder   = enginetest.RestoreFolder
)

func TestFolderRoundTrip(t *testing.T) {
	db := generate(t, 4<<20, 1)
	r := newRepo(t, mem.New())
	sn := backup(t, r, engine.FolderSource{Dir: db}, clock())
	if sn.Totals.ChunksNew == 0 || sn.Totals.RawBytes < 3<<20 {
		t.Fatalf("backup totals look wrong: %+v", sn.Totals)
	}
	sameCollections(t, readFolder(t, db), restoreFolder(t, r, sn))
}

// TestEdgeCases covers empty collections, a record larger than the largest chunk,
// binary bytes and a last record without a newline.
func TestEdgeCases(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	binary := make([]byte, 1<<20)
	rng.Read(binary)
	huge := append([]byte(`{"id":"big","code":"`), bytes.Repeat([]byte("func main() { println(42) }\\n"), 40000)...)
	huge = append(huge, "\"}\n"...)
	files := map[string][]byte{
		"assets":    nil,
		"tags":      []byte(`{"id":"t1","text":"go"}` + "\n"),
		"formats":   append(append([]byte(`{"id":"a"}`+"\n"), huge...), `{"id":"z"}`+"\n"...),
		"files":     binary,
		"websites":  []byte(`{"id":"w1"}` + "\n" + `{"id":"w2","url":"https://example.org"}`),
		"relations": []byte("\n\n\n"),
	}
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".jsonl"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := newRepo(t, mem.New())
	sn := backup(t, r, engine.FolderSource{Dir: dir}, clock())
	if len(huge) <= r.Config().Chunking.Max {
		t.Fatalf("the big record (%d bytes) must exceed the largest chunk (%d)", len(huge), r.Config().Chunking.Max)
	}
	sameCollections(t, readFolder(t, dir), restoreFolder(t, r, sn))
	col, err := engine.Collection(sn, "formats")
	if err != nil {
		t.Fatal(err)
	}
	if col.Records != 3 {
		t.Errorf("formats has %d records, want 3", col.Records)
	}
}

// exportedDocument encodes a folder as an ExportedDatabase JSON file.
func exportedDocument(tb testing.TB, folder map[string][]byte, path string) {
	tb.Helper()
	var buf bytes.Buffer
	enc := exported.NewEncoder(&buf)
	for _, name := range exported.Collections {
		b, ok := folder[name]
		if !ok || exported.IsValueSet(name) {
			continue
		}
		if err := enc.WriteCollection(name, bytes.NewReader(b)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := enc.Close(exported.Meta{Version: "11.2.0"}); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func decodeDocument(tb testing.TB, path string) (map[string][]byte, exported.Meta) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	meta, err := exported.Decode(f, func(name string, body io.Reader) error {
		b, err := io.ReadAll(body)
		out[name] = b
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out, meta
}

func TestExportedRoundTrip(t *testing.T) {
	db := generate(t, 1<<20, 2)
	folder := readFolder(t, db)
	folder["files"] = []byte{0, 1, 2, 255, '\n', 254, '"', '\\'}
	doc := filepath.Join(t.TempDir(), "export.json")
	exportedDocument(t, folder, doc)
	want, wantMeta := decodeDocument(t, doc)

	r := newRepo(t, mem.New())
	sn := backup(t, r, engine.ExportedFile(doc), clock())
	if !strings.HasPrefix(sn.ID, "11.2.0_") {
		t.Fatalf("snapshot id %q does not carry the database version", sn.ID)
	}
	out := filepath.Join(t.TempDir(), "restored.json")
	sink, err := engine.NewExportedSink(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Restore(context.Background(), r, sn, sink, engine.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	got, gotMeta := decodeDocument(t, out)
	sameCollections(t, want, got)
	if gotMeta.Version != wantMeta.Version {
		t.Errorf("version %q, want %q", gotMeta.Version, wantMeta.Version)
	}
}

func TestSecondBackupStoresNoChunks(t *testing.T) {
	db := generate(t, 2<<20, 3)
	r := newRepo(t, mem.New())
	now := clock()
	first := backup(t, r, engine.FolderSource{Dir: db}, now)
	second := backup(t, r, engine.FolderSource{Dir: db}, now)
	if second.Totals.ChunksNew != 0 || second.Totals.NewRawBytes != 0 {
		t.Fatalf("unchanged data stored %d new chunks (%d bytes)", second.Totals.ChunksNew, second.Totals.NewRawBytes)
	}
	if second.Totals.ChunksReused != first.Totals.ChunksNew {
		t.Fatalf("reused %d chunks, first backup made %d", second.Totals.ChunksReused, first.Totals.ChunksNew)
	}
	if second.Parent != first.ID {
		t.Fatalf("parent %q, want %q", second.Parent, first.ID)
	}
}

// TestIncrementalTarget: after the generator changes 1% of the records, the bytes the
// incremental backup adds to the repository (packs, index and manifest) are at most 3
// times the bytes of the edited and inserted records.
func TestIncrementalTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 32 MiB")
	}
	db := generate(t, 32<<20, 4)
	r := newRepo(t, mem.New())
	now := clock()
	first := backup(t, r, engine.FolderSource{Dir: db}, now)
	ms, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.01, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	before := r.BytesWritten()
	second := backup(t, r, engine.FolderSource{Dir: db}, now)
	added := r.BytesWritten() - before
	t.Logf("changed records %d bytes; incremental backup wrote %d bytes (%.2fx), new raw chunk bytes %d (%.2fx)",
		ms.ChangedBytes, added, float64(added)/float64(ms.ChangedBytes), second.Totals.NewRawBytes, float64(second.Totals.NewRawBytes)/float64(ms.ChangedBytes))
	if added > 3*ms.ChangedBytes {
		t.Fatalf("incremental backup wrote %d bytes, more than 3 × %d changed bytes", added, ms.ChangedBytes)
	}
	sameCollections(t, readFolder(t, db), restoreFolder(t, r, second))
	_ = first
}

func TestDiffMatchesMutation(t *testing.T) {
	db := generate(t, 4<<20, 6)
	r := newRepo(t, mem.New())
	now := clock()
	a := backup(t, r, engine.FolderSource{Dir: db}, now)
	ms, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.02, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b := backup(t, r, engine.FolderSource{Dir: db}, now)
	diffs, err := engine.Diff(context.Background(), r, a, b)
	if err != nil {
		t.Fatal(err)
	}
	var added, removed, changed int
	for _, d := range diffs {
		added += d.Added
		removed += d.Removed
		changed += d.Changed
	}
	if added != ms.Inserted || removed != ms.Deleted || changed != ms.Edited {
		t.Fatalf("diff +%d -%d ~%d, mutation inserted %d deleted %d edited %d", added, removed, changed, ms.Inserted, ms.Deleted, ms.Edited)
	}
}

// damagedPack backs up a small database, checks it, and then changes the pack holding
// the first chunk of the "formats" collection with damage (given the pack's bytes and
// the chunk's place), returning the reopened repository and the snapshot.
func damagedPack(t *testing.T, damage func(pack []byte, loc repo.Location)) (*repo.Repository, *repo.Snapshot) {
	t.Helper()
	root := t.TempDir()
	be, err := local.Create(root)
	if err != nil {
		t.Fatal(err)
	}
	r := newRepo(t, be)
	db := generate(t, 2<<20, 8)
	sn := backup(t, r, engine.FolderSource{Dir: db}, clock())
	ctx := context.Background()
	if res, err := engine.Check(ctx, r, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
		t.Fatalf("fresh repository: %v %+v", err, res)
	}
	cols, err := r.Resolve(context.Background(), sn)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(cols, func(c repo.ResolvedCollection) bool { return c.Name == "formats" })
	if i < 0 {
		t.Fatal("no formats collection")
	}
	loc, ok := r.Index().Lookup(cols[i].Chunks[0])
	if !ok {
		t.Fatal("chunk not indexed")
	}
	var packPath string
	filepath.WalkDir(filepath.Join(root, "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == loc.Pack.String() {
			packPath = p
		}
		return nil
	})
	if packPath == "" {
		t.Fatal("pack file not found")
	}
	data, err := os.ReadFile(packPath)
	if err != nil {
		t.Fatal(err)
	}
	damage(data, loc)
	os.Chmod(packPath, 0o644)
	if err := os.WriteFile(packPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return reopen(t, r, be), sn
}

func TestCheckFindsFlippedByte(t *testing.T) {
	// Flip one byte inside the first chunk of the "formats" collection.
	r, sn := damagedPack(t, func(data []byte, loc repo.Location) { data[loc.Frame+loc.FrameLen/2] ^= 0x40 })
	ctx := context.Background()
	res, err := engine.Check(ctx, r, engine.CheckOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() {
		t.Fatal("check --read-data missed a flipped byte")
	}
	if !slices.ContainsFunc(res.Damaged, func(d engine.Damage) bool { return d.Snapshot == sn.ID && d.Collection == "formats" }) {
		t.Fatalf("damage report %+v does not name snapshot %s collection formats", res.Damaged, sn.ID)
	}
	// Restoring the damaged collection fails loudly; the others still restore.
	sink, _ := engine.NewFolderSink(filepath.Join(t.TempDir(), "x"))
	if err := engine.Restore(ctx, r, sn, sink, engine.RestoreOptions{Collections: []string{"formats"}}); err == nil {
		t.Fatal("restore of a damaged collection succeeded")
	}
	sink, _ = engine.NewFolderSink(filepath.Join(t.TempDir(), "y"))
	if err := engine.Restore(ctx, r, sn, sink, engine.RestoreOptions{Collections: []string{"tags"}}); err != nil {
		t.Fatalf("an undamaged collection does not restore: %v", err)
	}
}

// TestCheckReadsChunksPastAnUnreadableTable: check --read-data verifies the chunks
// the index places in a pack even when the pack's own table cannot be read (it takes
// the chunks of a pack from its table, and the others from the index): a flipped byte
// in a frame of that pack is still found, and the table is reported.
func TestCheckReadsChunksPastAnUnreadableTable(t *testing.T) {
	r, sn := damagedPack(t, func(data []byte, loc repo.Location) {
		data[loc.Frame+loc.FrameLen/2] ^= 0x40
		data[len(data)-8] ^= 0x40 // inside the sealed table, before its length
	})
	res, err := engine.Check(context.Background(), r, engine.CheckOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Errors, func(p engine.Problem) bool { return p.Kind == engine.ProblemPack }) {
		t.Fatalf("the damaged table is not reported: %+v", res.Errors)
	}
	if !slices.ContainsFunc(res.Damaged, func(d engine.Damage) bool { return d.Snapshot == sn.ID && d.Collection == "formats" }) {
		t.Fatalf("damage report %+v does not name snapshot %s collection formats", res.Damaged, sn.ID)
	}
}

func TestForgetAndPrune(t *testing.T) {
	be := mem.New()
	r := newRepo(t, be)
	now := clock()
	ctx := context.Background()
	db := generate(t, 2<<20, 10)
	first := backup(t, r, engine.FolderSource{Dir: db}, now)
	other := generate(t, 2<<20, 11)
	second := backup(t, r, engine.FolderSource{Dir: other}, now)
	if err := engine.Forget(ctx, r, []*repo.Snapshot{first}); err != nil {
		t.Fatal(err)
	}
	r = reopen(t, r, be)
	st, err := engine.Prune(ctx, r, engine.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.PacksRemoved+st.PacksRepacked == 0 || st.BytesFreed == 0 {
		t.Fatalf("prune freed nothing: %+v", st)
	}
	r = reopen(t, r, be)
	if res, err := engine.Check(ctx, r, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
		t.Fatalf("check after prune: %v %+v", err, res)
	}
	sameCollections(t, readFolder(t, other), restoreFolder(t, r, second))
	st, err = engine.Prune(ctx, r, engine.PruneOptions{})
	if err != nil || st.PacksRemoved+st.PacksRepacked != 0 {
		t.Fatalf("second prune still found work: %+v %v", st, err)
	}
}

func TestPolicy(t *testing.T) {
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.Local)
	var list []*repo.Snapshot
	for i := range 40 { // one a day, two on the last day
		list = append(list, &repo.Snapshot{ID: "1_" + base.AddDate(0, 0, i).Format("0102"), Time: base.AddDate(0, 0, i)})
	}
	list = append(list, &repo.Snapshot{ID: "1_late", Time: base.AddDate(0, 0, 39).Add(time.Hour)})
	kept := func(p engine.Policy) []string {
		var ids []string
		for _, d := range p.Apply(list) {
			if d.Keep {
				ids = append(ids, d.Snapshot.ID)
			}
		}
		return ids
	}
	cases := []struct {
		name string
		p    engine.Policy
		want int
	}{
		{"last 3", engine.Policy{Last: 3}, 3},
		{"daily 5", engine.Policy{Daily: 5}, 5},
		{"weekly 2", engine.Policy{Weekly: 2}, 2},
		{"monthly 12", engine.Policy{Monthly: 12}, 2},
		{"yearly 1", engine.Policy{Yearly: 1}, 1},
		{"within 72h", engine.Policy{Within: 72 * time.Hour}, 4},
		{"last 1 and daily 2", engine.Policy{Last: 1, Daily: 2}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := kept(tc.p)
			if len(got) != tc.want {
				t.Fatalf("kept %d %v, want %d", len(got), got, tc.want)
			}
			if got[0] != "1_late" {
				t.Fatalf("the newest snapshot is not kept first: %v", got)
			}
		})
	}
}

func TestFindSnapshot(t *testing.T) {
	list := []*repo.Snapshot{{ID: "11.2.0_1700000000000"}, {ID: "11.2.0_1700000001000"}, {ID: "12.0.0_1700000002000"}}
	for _, tc := range []struct {
		ref, want string
		err       bool
	}{
		{"latest", "12.0.0_1700000002000", false},
		{"12", "12.0.0_1700000002000", false},
		{"11.2.0_1700000000000", "11.2.0_1700000000000", false},
		{"11.2.0", "", true},
		{"nope", "", true},
		{"", "", true},
	} {
		sn, err := engine.FindSnapshot(list, tc.ref)
		if (err != nil) != tc.err || err == nil && sn.ID != tc.want {
			t.Errorf("FindSnapshot(%q) = %v, %v", tc.ref, sn, err)
		}
	}
}

// TestInterruptedBackup: storage fails in the middle of a backup. The backup reports
// the error and leaves no snapshot; every earlier snapshot still restores byte for
// byte; check finds nothing wrong; the next backup succeeds.
func TestInterruptedBackup(t *testing.T) {
	ctx := context.Background()
	be := faulty.New(mem.New())
	r := newRepo(t, be)
	now := clock()
	db := generate(t, 4<<20, 12)
	first := backup(t, r, engine.FolderSource{Dir: db}, now)
	want := readFolder(t, db)
	if _, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.5, Seed: 13}); err != nil {
		t.Fatal(err)
	}
	for _, failAt := range []int{1, 2} {
		saves := be.Calls("save")
		be.Fail(faulty.FailNth("save", saves+failAt))
		_, err := engine.Backup(ctx, r, engine.FolderSource{Dir: db}, engine.BackupOptions{Now: now})
		if !errors.Is(err, faulty.ErrInjected) {
			t.Fatalf("backup with a failing save #%d: %v", failAt, err)
		}
		be.Clear()
		r = reopen(t, r, be)
		list, err := r.Snapshots(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("after a failed backup: %d snapshots, %v", len(list), err)
		}
		if res, err := engine.Check(ctx, r, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
			t.Fatalf("check after a failed backup: %v %+v", err, res)
		}
		sameCollections(t, want, restoreFolder(t, r, list[0]))
	}
	second := backup(t, r, engine.FolderSource{Dir: db}, now)
	if second.Parent != first.ID {
		t.Fatalf("parent %q, want %q", second.Parent, first.ID)
	}
	sameCollections(t, readFolder(t, db), restoreFolder(t, r, second))
}

// TestCorruptReadIsCaught: bytes that change on the way back never reach a restore.
func TestCorruptReadIsCaught(t *testing.T) {
	be := faulty.New(mem.New())
	r := newRepo(t, be)
	sn := backup(t, r, engine.FolderSource{Dir: generate(t, 1<<20, 14)}, clock())
	for _, f := range []func(*faulty.Backend){
		func(b *faulty.Backend) { b.Corrupt(func(h transport.Handle) bool { return h.Kind == transport.Data }) },
		func(b *faulty.Backend) { b.Truncate(func(h transport.Handle) bool { return h.Kind == transport.Data }) },
	} {
		be.Clear()
		f(be)
		r = reopen(t, r, be)
		sink, _ := engine.NewFolderSink(filepath.Join(t.TempDir(), "out"))
		err := engine.Restore(context.Background(), r, sn, sink, engine.RestoreOptions{})
		if !errors.Is(err, repo.ErrDamaged) {
			t.Fatalf("restore through a corrupting transport: %v", err)
		}
	}
}

// TestDatabaseRoundTrip: back up the local database, change it, restore the snapshot
// into it (replacing), and get the snapshot's state exactly; an assets snapshot merges.
func TestDatabaseRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, err := localdb.Open(filepath.Join(t.TempDir(), "pieces.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	folder := generate(t, 1<<20, 15)
	err = db.Merge(ctx, func(w *localdb.Writer) error {
		for name, b := range readFolder(t, folder) {
			if err := w.Collection(name, bytes.NewReader(b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dump := func() map[string][]byte {
		out := map[string][]byte{}
		if _, err := db.Read(ctx, func(name string, r io.Reader) error {
			b, err := io.ReadAll(r)
			out[name] = b
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := dump()
	r := newRepo(t, mem.New())
	sn := backup(t, r, engine.DatabaseSource{DB: db}, clock())
	db.Merge(ctx, func(w *localdb.Writer) error {
		return w.Collection("tags", strings.NewReader(`{"id":"added-later"}`+"\n"))
	})
	if err := engine.Restore(ctx, r, sn, engine.NewDatabaseSink(ctx, db, false), engine.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	sameCollections(t, before, dump())
	// A restore that fails midway leaves the database as it was.
	bad := *sn
	bad.Collections = append([]repo.Collection(nil), sn.Collections...)
	// Its last collection's list names a chunk the repository does not have.
	list, err := r.SaveList(ctx, []chunk.ID{r.ChunkID([]byte("missing"))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	last := &bad.Collections[len(bad.Collections)-1]
	last.List, last.Count = list.ID, 1
	db.Merge(ctx, func(w *localdb.Writer) error {
		return w.Collection("tags", strings.NewReader(`{"id":"kept"}`+"\n"))
	})
	current := dump()
	if err := engine.Restore(ctx, r, &bad, engine.NewDatabaseSink(ctx, db, false), engine.RestoreOptions{}); err == nil {
		t.Fatal("restore of a damaged snapshot succeeded")
	}
	sameCollections(t, current, dump())
}

// saveCounter counts the successful saves of each object.
type saveCounter struct {
	transport.Backend
	mu    sync.Mutex
	saved map[transport.Handle]int
}

func (s *saveCounter) Save(ctx context.Context, h transport.Handle, data []byte) error {
	err := s.Backend.Save(ctx, h, data)
	if err == nil {
		s.mu.Lock()
		s.saved[h]++
		s.mu.Unlock()
	}
	return err
}

// TestResumeSendsNoPackTwice: a backup cut off after some packs arrived is run again;
// the second run sends none of the chunks that arrived, and the result restores.
func TestResumeSendsNoPackTwice(t *testing.T) {
	ctx := context.Background()
	counter := &saveCounter{Backend: mem.New(), saved: map[transport.Handle]int{}}
	be := faulty.New(counter)
	cfg := testConfig(t)
	cfg.PackSize = 128 << 10
	r, err := repo.Init(ctx, be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := generate(t, 4<<20, 23)
	be.Fail(faulty.FailNth("save", 8)) // config was save 1; packs follow
	now := clock()
	if _, err := engine.Backup(ctx, r, engine.FolderSource{Dir: db}, engine.BackupOptions{Now: now}); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("backup with a failing upload: %v", err)
	}
	be.Clear()
	arrived := 0
	for h := range counter.saved {
		if h.Kind == transport.Data {
			arrived++
		}
	}
	if arrived < 3 {
		t.Fatalf("only %d packs arrived before the cut", arrived)
	}
	r = reopen(t, r, be)
	sn := backup(t, r, engine.FolderSource{Dir: db}, now)
	// No chunk was sent twice: each sits in exactly one pack.
	enginetest.NoChunkTwice(t, r)
	for h, n := range counter.saved {
		if h.Kind == transport.Data && n > 1 {
			t.Fatalf("pack %s was sent %d times", h.Name[:8], n)
		}
	}
	if res, err := engine.Check(ctx, r, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() || res.UnusedPacks != 0 {
		t.Fatalf("check after the resumed backup: %v %+v", err, res)
	}
	sameCollections(t, readFolder(t, db), restoreFolder(t, r, sn))
}

// TestSameMillisecondBackups: backups of different databases started in the same
// millisecond by separate handles (separate processes in real use) end with one
// snapshot per id, and each backup's returned id restores what that backup read, over
// many rounds of racing commits.
func TestSameMillisecondBackups(t *testing.T) {
	ctx := context.Background()
	const n = 3
	var dbs []string
	var want []map[string][]byte
	for i := range n {
		dbs = append(dbs, generate(t, 96<<10, int64(40+i)))
		want = append(want, readFolder(t, dbs[i]))
	}
	at := time.UnixMilli(1795420115123)
	for round := range 15 {
		be := mem.New()
		newRepo(t, be)
		handles := make([]*repo.Repository, n)
		for i := range handles {
			handles[i] = reopen(t, nil, be)
		}
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sn, err := engine.Backup(ctx, handles[i], engine.FolderSource{Dir: dbs[i]}, engine.BackupOptions{Now: func() time.Time { return at }})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = sn.ID
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		r := reopen(t, nil, be)
		list, err := r.Snapshots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, sn := range list {
			if seen[sn.ID] {
				t.Fatalf("round %d: two snapshots with id %s", round, sn.ID)
			}
			seen[sn.ID] = true
		}
		if len(list) != n {
			t.Fatalf("round %d: %d snapshots, want %d", round, len(list), n)
		}
		for i, id := range ids {
			sn, err := engine.FindSnapshot(list, id)
			if err != nil {
				t.Fatalf("round %d: backup %d's id %s: %v", round, i, id, err)
			}
			sameCollections(t, want[i], restoreFolder(t, r, sn))
		}
	}
}

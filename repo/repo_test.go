package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/mem"
)

func testRepo(tb testing.TB) (*Repository, *mem.Backend) {
	tb.Helper()
	return testRepoOf(tb, FormatVersion)
}

// testRepoOf makes an unencrypted repository of the given format.
func testRepoOf(tb testing.TB, format int) (*Repository, *mem.Backend) {
	tb.Helper()
	be := mem.New()
	cfg, err := NewConfig(time.Unix(0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.PackSize, cfg.Format = 64<<10, format
	r, err := Init(context.Background(), be, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r, be
}

func TestEnvelope(t *testing.T) {
	payload := []byte(`{"hello":"world"}`)
	for _, codec := range []byte{codecNone, codecZstd} {
		obj := sealObject(nil, TypeSnapshot, codec, payload)
		got, err := openObject(nil, obj, TypeSnapshot)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("codec %d: %q %v", codec, got, err)
		}
		if _, err := openObject(nil, obj, TypeIndex); !errors.Is(err, ErrDamaged) {
			t.Fatalf("wrong type accepted: %v", err)
		}
	}
	newer := sealObject(nil, TypeConfig, codecNone, payload)
	newer[len(magic)] = envelopeVersion + 1
	if _, err := openObject(nil, newer, TypeConfig); !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("newer envelope: %v", err)
	}
	unknownCodec := sealObject(nil, TypeConfig, codecNone, payload)
	unknownCodec[len(magic)+2] = 7
	if _, err := openObject(nil, unknownCodec, TypeConfig); !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("unknown codec: %v", err)
	}
	for _, foreign := range [][]byte{nil, []byte("CAIR"), []byte("PK\x03\x04 not ours at all")} {
		if _, err := openObject(nil, foreign, TypeConfig); !errors.Is(err, ErrForeign) {
			t.Fatalf("foreign %q: %v", foreign, err)
		}
	}
}

func TestSaveLoadChunksAndReopen(t *testing.T) {
	ctx := context.Background()
	r, be := testRepo(t)
	var ids []chunk.ID
	var want [][]byte
	for i := range 200 {
		data := bytes.Repeat([]byte(fmt.Sprintf("record %d;", i)), 100+i)
		id := r.ChunkID(data)
		res, err := r.SaveChunk(ctx, id, data)
		if err != nil || !res.New {
			t.Fatalf("save %d: %+v %v", i, res, err)
		}
		if res, _ := r.SaveChunk(ctx, id, data); res.New {
			t.Fatal("a chunk saved twice was new twice")
		}
		ids = append(ids, id)
		want = append(want, data)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Index().Len() != 200 {
		t.Fatalf("reopened index has %d chunks", r2.Index().Len())
	}
	err = r2.LoadChunks(ctx, ids, func(i int, data []byte) error {
		if !bytes.Equal(data, want[i]) {
			return fmt.Errorf("chunk %d differs", i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r2.LoadChunk(ctx, ids[7], nil); err != nil || !bytes.Equal(got, want[7]) {
		t.Fatalf("LoadChunk: %v", err)
	}
	if _, err := r2.LoadChunk(ctx, r2.ChunkID([]byte("absent")), nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent chunk: %v", err)
	}
	// Every object but config is named by the SHA-256 of its bytes.
	for _, k := range []transport.Kind{transport.Data, transport.Index} {
		be.List(ctx, k, func(fi transport.FileInfo) error {
			data, _ := transport.LoadAll(ctx, be, transport.Handle{Kind: k, Name: fi.Name})
			if objectID(data).String() != fi.Name {
				t.Errorf("%s/%s is not named by its hash", k, fi.Name)
			}
			return nil
		})
	}
}

func TestIndexFileRoundTrip(t *testing.T) {
	f := indexFile{}
	for p := range 3 {
		var refs []BlobRef
		for i := range 5 {
			refs = append(refs, BlobRef{ID: chunk.Hash([]byte{byte(p), byte(i)}), Frame: uint32(8 + 100*i), FrameLen: 100, Offset: 7, Raw: 300})
		}
		f[objectID([]byte{byte(p)})] = refs
	}
	for _, format := range []int{1, 2} {
		if format == 2 {
			for p, refs := range f {
				for i := range refs {
					refs[i].ID = refs[i].ID.Narrow()
				}
				f[p] = refs
			}
		}
		enc, err := encodeIndex(nil, format, f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeIndex(nil, format, enc)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(f) {
			t.Fatalf("format %d: index file does not round-trip", format)
		}
		payload, _ := openObject(nil, enc, TypeIndex)
		if _, err := decodeIndex(nil, format, sealObject(nil, TypeIndex, codecZstd, payload[:len(payload)-3])); !errors.Is(err, ErrDamaged) {
			t.Fatalf("format %d: truncated index: %v", format, err)
		}
	}
}

// TestIndexMemoryPerChunk: the index costs 32 bytes per chunk with 128-bit ids and
// 48 with 256-bit ones, plus a quarter byte of directory, loaded from index files;
// grown by a backup it has at most an eighth (or 16384 entries) of room to grow into.
// Both stay sorted and find every id.
func TestIndexMemoryPerChunk(t *testing.T) {
	const n = 100000
	for _, tc := range []struct {
		narrow bool
		per    float64
	}{{true, 32.25}, {false, 48.25}} {
		refs := make([]BlobRef, n)
		for i := range refs {
			id := chunk.Hash([]byte(fmt.Sprint(i)))
			if tc.narrow {
				id = id.Narrow()
			}
			refs[i] = BlobRef{ID: id, Frame: uint32(i), FrameLen: 9000, Offset: 100, Raw: 600}
		}
		x := newIndex(tc.narrow)
		load := &bulk{x: x}
		for i := 0; i < n; i += 1000 {
			if tc.narrow {
				load.addRefs(objectID([]byte(fmt.Sprint("pack", i))), refs[i:i+1000])
			} else {
				load.addStored(objectID([]byte(fmt.Sprint("pack", i))), storedRefs(refs[i:i+1000]))
			}
		}
		load.finish()
		if per := float64(x.MemoryBytes()-int64(len(x.packs))*40) / n; per > tc.per {
			t.Fatalf("narrow %v: loaded index costs %.1f bytes per chunk, want at most %v", tc.narrow, per, tc.per)
		}
		y := newIndex(tc.narrow)
		for i := 0; i < n; i += 1000 {
			y.add(objectID([]byte(fmt.Sprint("pack", i))), refs[i:i+1000])
		}
		y.merge()
		if per := float64(y.MemoryBytes()-int64(len(y.packs))*40) / n; per > tc.per*1.125+1 {
			t.Fatalf("narrow %v: grown index costs %.1f bytes per chunk, want at most %v", tc.narrow, per, tc.per*1.125+1)
		}
		for _, idx := range []*Index{x, y} {
			for i, r := range refs {
				l, ok := idx.Lookup(r.ID)
				if !ok || l.Frame != uint32(i) || l.Raw != 600 {
					t.Fatalf("narrow %v: chunk %d: lookup %v %v", tc.narrow, i, l, ok)
				}
			}
			var ids []chunk.ID
			idx.Each(func(id chunk.ID, _ Location) { ids = append(ids, id) })
			if len(ids) != n || !slices.IsSortedFunc(ids, func(a, b chunk.ID) int { return bytes.Compare(a[:], b[:]) }) {
				t.Fatalf("narrow %v: %d ids, sorted %v", tc.narrow, len(ids), slices.IsSortedFunc(ids, func(a, b chunk.ID) int { return bytes.Compare(a[:], b[:]) }))
			}
		}
	}
}

// TestNarrowIndexRefusesWideIDs: a format 2 index holds 128-bit ids only; a 256-bit
// id is not found in it, even when its first 128 bits are an indexed id's.
func TestNarrowIndexRefusesWideIDs(t *testing.T) {
	wide := chunk.Hash([]byte("x"))
	x := newIndex(true)
	x.add(objectID([]byte("p")), []BlobRef{{ID: wide.Narrow(), Raw: 1}})
	if !x.Has(wide.Narrow()) || x.Has(wide) {
		t.Fatalf("narrow id found %v, wide id found %v; want true, false", x.Has(wide.Narrow()), x.Has(wide))
	}
}

// TestIndexSearch: the interpolation search agrees with a plain binary search on
// evenly spread ids, on ids crowded into a corner of the id space and on ids that
// share their first 8 bytes, for ids present and absent, with keys of both widths;
// and so does the search through the table's directory.
func TestIndexSearch(t *testing.T) {
	testSearch[wideKey](t, false)
	testSearch[narrowKey](t, true)
}

func testSearch[K key](t *testing.T, narrow bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	width := 32
	if narrow {
		width = chunk.NarrowSize
	}
	gen := map[string]func() chunk.ID{
		"even": func() chunk.ID {
			var id chunk.ID
			for i := range width {
				id[i] = byte(rng.Uint32())
			}
			return id
		},
		"crowded": func() chunk.ID {
			var id chunk.ID
			id[7] = byte(rng.Uint32() % 4)
			for i := 8; i < width; i++ {
				id[i] = byte(rng.Uint32())
			}
			return id
		},
		"same prefix": func() chunk.ID {
			id := chunk.ID{1, 2, 3, 4, 5, 6, 7, 8}
			for i := 8; i < width; i++ {
				id[i] = byte(rng.Uint32())
			}
			return id
		},
	}
	for name, g := range gen {
		for _, n := range []int{0, 1, 17, 1000, 50000} {
			s := make([]entry[K], n)
			for i := range s {
				id := g()
				s[i].k, _ = keyOf[K](&id)
			}
			byID := func(a, b entry[K]) int { x, y := a.k.id(), b.k.id(); return bytes.Compare(x[:], y[:]) }
			slices.SortFunc(s, byID)
			var dir directory
			buildDirectory(&dir, s)
			for k := 0; k < 2000; k++ {
				id := g()
				if n > 0 && k%2 == 0 {
					id = s[rng.IntN(n)].k.id()
				}
				want, wantOK := slices.BinarySearchFunc(s, id, func(e entry[K], id chunk.ID) int { x := e.k.id(); return bytes.Compare(x[:], id[:]) })
				key, _ := keyOf[K](&id)
				got, ok := searchSorted(s, &key)
				if ok != wantOK || (ok && s[got].k != s[want].k) || (!ok && got != want) {
					t.Fatalf("width %d, %s, %d entries: search = %d %v, want %d %v", width, name, n, got, ok, want, wantOK)
				}
				if got, ok := searchDirectory(&dir, s, &key); ok != wantOK || (ok && s[got].k != s[want].k) {
					t.Fatalf("width %d, %s, %d entries: directory search = %d %v, want %d %v", width, name, n, got, ok, want, wantOK)
				}
			}
		}
	}
}

// TestIndexBulkDuplicates: a chunk listed for two packs keeps one place and has the
// other as a further place; the same pack listed twice adds nothing.
func TestIndexBulkDuplicates(t *testing.T) {
	a, b := objectID([]byte("a")), objectID([]byte("b"))
	id := chunk.Hash([]byte("x"))
	x := newIndex(false)
	load := &bulk{x: x}
	load.addStored(a, storedRefs([]BlobRef{{ID: id, Raw: 1}}))
	load.addStored(b, storedRefs([]BlobRef{{ID: id, Raw: 1}}))
	load.addStored(a, storedRefs([]BlobRef{{ID: id, Raw: 1}}))
	load.finish()
	var places, further int
	x.Each(func(chunk.ID, Location) { places++ })
	x.EachDuplicate(func(chunk.ID, Location) { further++ })
	if places != 1 || further != 1 || x.Len() != 1 {
		t.Fatalf("places %d, further %d, len %d; want 1, 1, 1", places, further, x.Len())
	}
}

func TestSnapshotIDs(t *testing.T) {
	at := time.UnixMilli(1795420115123)
	if got := SnapshotID("11.2.0", at); got != "11.2.0_1795420115123" {
		t.Fatalf("SnapshotID = %q", got)
	}
	if got := SnapshotID("a/b c", at); got != "a-b-c_1795420115123" {
		t.Fatalf("SnapshotID with odd version = %q", got)
	}
	for _, bad := range []string{"", "_", "1.0_", "_123", "../x_1", "1.0_abc", "1.0"} {
		if ValidSnapshotID(bad) == nil {
			t.Errorf("ValidSnapshotID(%q) accepted", bad)
		}
	}
}

func TestNewerSnapshotFormatRejected(t *testing.T) {
	ctx := context.Background()
	r, be := testRepo(t)
	js := []byte(`{"format":2,"id":"1.0_1"}`)
	data := sealObject(nil, TypeSnapshot, codecZstd, js)
	be.Save(ctx, transport.Handle{Kind: transport.Snapshots, Name: objectID(data).String()}, data)
	if _, err := r.Snapshots(ctx); !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("newer manifest: %v", err)
	}
}

// TestListStore: lists written or read once come from the local store afterwards, and
// a damaged copy is not used.
func TestListStore(t *testing.T) {
	ctx := context.Background()
	under := faulty.New(mem.New())
	cfg, _ := NewConfig(time.Unix(0, 0))
	r, err := Init(ctx, under, cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := DirListStore{Dir: t.TempDir()}
	r.SetListStore(store)
	ids := []chunk.ID{r.ChunkID([]byte("a")), r.ChunkID([]byte("b"))}
	l, err := r.SaveList(ctx, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(ctx, under)
	if err != nil {
		t.Fatal(err)
	}
	r2.SetListStore(store)
	loads := under.Calls("load")
	got, err := r2.LoadList(ctx, l.ID, nil)
	if err != nil || len(got.Chunks) != 2 || got.Chunks[1] != ids[1] {
		t.Fatalf("%+v %v", got, err)
	}
	if under.Calls("load") != loads {
		t.Fatal("a stored list was downloaded")
	}
	os.WriteFile(filepath.Join(store.Dir, l.ID.String()), []byte("damaged"), 0o600)
	r3, _ := Open(ctx, under)
	r3.SetListStore(store)
	if got, err := r3.LoadList(ctx, l.ID, nil); err != nil || len(got.Chunks) != 2 {
		t.Fatalf("with a damaged copy: %+v %v", got, err)
	}
	if under.Calls("load") == loads {
		t.Fatal("a damaged copy was used")
	}
}

// TestIndexWrittenAsItGoes: a long run of saves writes index files before Flush
// (each naming only uploaded packs), and a fresh handle finds every chunk through
// them; a prune-style copy (Rewrite) still sees all the packs it wrote.
func TestIndexWrittenAsItGoes(t *testing.T) {
	defer func(n int) { indexFileChunks = n }(indexFileChunks)
	indexFileChunks = 200
	ctx := context.Background()
	r, be := testRepo(t)
	var ids []chunk.ID
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 3000 {
		data := make([]byte, 200+rng.IntN(400))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		data[0], data[1] = byte(i), byte(i>>8)
		id := r.ChunkID(data)
		if _, err := r.SaveChunk(ctx, id, data); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	before := 0
	be.List(ctx, transport.Index, func(transport.FileInfo) error { before++; return nil })
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	after := 0
	be.List(ctx, transport.Index, func(transport.FileInfo) error { after++; return nil })
	if before < 3 || after <= before {
		t.Fatalf("index files: %d before Flush, %d after; want several, then more", before, after)
	}
	r2, err := Open(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !r2.Index().Has(id) {
			t.Fatalf("chunk %s not found through the index files", id.Short())
		}
	}
	if r2.Index().Len() != len(ids) {
		t.Fatalf("index has %d chunks, saved %d", r2.Index().Len(), len(ids))
	}
}

// storedRefs encodes refs as an index file stores them.
func storedRefs(refs []BlobRef) []byte {
	var b []byte
	for _, r := range refs {
		b = appendRef(b, r)
	}
	return b
}

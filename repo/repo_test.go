package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/mem"
)

func testRepo(tb testing.TB) (*Repository, *mem.Backend) {
	tb.Helper()
	be := mem.New()
	cfg, err := NewConfig(time.Unix(0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.PackSize = 64 << 10
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
		id := chunk.Hash(data)
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
	if _, err := r2.LoadChunk(ctx, chunk.Hash([]byte("absent")), nil); !errors.Is(err, ErrNotFound) {
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
	got, err := decodeIndex(nil, encodeIndex(nil, f))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(f) {
		t.Fatal("index file does not round-trip")
	}
	enc := encodeIndex(nil, f)
	payload, _ := openObject(nil, enc, TypeIndex)
	if _, err := decodeIndex(nil, sealObject(nil, TypeIndex, codecZstd, payload[:len(payload)-3])); !errors.Is(err, ErrDamaged) {
		t.Fatalf("truncated index: %v", err)
	}
}

func TestIndexMemoryPerChunk(t *testing.T) {
	x := newIndex()
	const n = 100000
	refs := make([]BlobRef, n)
	for i := range refs {
		refs[i] = BlobRef{ID: chunk.Hash([]byte(fmt.Sprint(i))), Frame: uint32(i), FrameLen: 9000, Offset: 100, Raw: 600}
	}
	x.add(objectID([]byte("pack")), refs)
	x.mergeLocked()
	per := float64(x.MemoryBytes()) / n
	if per > 48.5 {
		t.Fatalf("index costs %.1f bytes per chunk, want at most 48", per)
	}
	for _, r := range refs[:100] {
		if !x.Has(r.ID) {
			t.Fatal("merged index lost an entry")
		}
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
	ids := []chunk.ID{chunk.Hash([]byte("a")), chunk.Hash([]byte("b"))}
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

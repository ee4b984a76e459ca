package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"cairn/chunk"
	"cairn/transport"
	"cairn/transport/mem"
)

// fastKDF keeps tests quick; real slots use DefaultKDF.
var fastKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func encryptedRepo(t *testing.T, password string) (*Repository, transport.Backend) {
	t.Helper()
	return encryptedRepoOf(t, password, FormatVersion)
}

// encryptedRepoOf makes an encrypted repository of the given format.
func encryptedRepoOf(t *testing.T, password string, format int) (*Repository, transport.Backend) {
	t.Helper()
	be := mem.New()
	cfg, err := NewConfig(time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Encryption, cfg.Format = EncryptionXChaCha, format
	r, err := Init(context.Background(), be, cfg, WithPassword(password, fastKDF))
	if err != nil {
		t.Fatal(err)
	}
	return r, be
}

func TestEncryptedRoundTripAndPasswords(t *testing.T) {
	ctx := context.Background()
	r, be := encryptedRepo(t, "correct horse")
	var ids []chunk.ID
	var want [][]byte
	for i := range 300 {
		data := bytes.Repeat([]byte(fmt.Sprintf("secret snippet %d;", i)), 20+i)
		id := r.ChunkID(data)
		if id == chunk.Hash(data) {
			t.Fatal("chunk ids of an encrypted repository are the plain hash")
		}
		if _, err := r.SaveChunk(ctx, id, data); err != nil {
			t.Fatal(err)
		}
		ids, want = append(ids, id), append(want, data)
	}
	l, err := r.SaveList(ctx, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sn := &Snapshot{ID: "1.0.0_1700000000000", Time: time.Unix(1700000000, 0), Kind: "folder",
		Collections: []Collection{{Name: "assets", List: l.ID}}}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}

	if _, err := Open(ctx, be); !errors.Is(err, ErrPasswordNeeded) {
		t.Fatalf("open without password: %v", err)
	}
	if _, err := Open(ctx, be, WithPassword("wrong horse", KDFParams{})); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("open with a wrong password: %v", err)
	}
	r2, err := Open(ctx, be, WithPassword("correct horse", KDFParams{}))
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Encrypted() || r2.Config().ID != r.Config().ID || r2.Index().Len() != r.Index().Len() {
		t.Fatalf("reopened: encrypted=%v config %s, index %d", r2.Encrypted(), r2.Config().ID, r2.Index().Len())
	}
	snaps, err := r2.Snapshots(ctx)
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots: %v %v", snaps, err)
	}
	got, err := r2.LoadList(ctx, snaps[0].Collections[0].List, nil)
	if err != nil || len(got.Chunks) != len(ids) {
		t.Fatalf("list: %v", err)
	}
	err = r2.LoadChunks(ctx, got.Chunks, func(i int, data []byte) error {
		if !bytes.Equal(data, want[i]) {
			return fmt.Errorf("chunk %d differs", i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Packs rebuild their tables with the key, as repair and resume need.
	packs, _ := r2.Packs(ctx)
	for p := range packs {
		if _, refs, err := r2.LoadPack(ctx, p); err != nil || len(refs) == 0 {
			t.Fatalf("pack %s: %d refs, %v", p.Short(), len(refs), err)
		}
	}

	// No object but the key slots holds readable text, chunk ids or the plain hash of a chunk.
	plainID := chunk.Hash(want[5])
	for _, k := range transport.Kinds {
		be.List(ctx, k, func(fi transport.FileInfo) error {
			data, _ := transport.LoadAll(ctx, be, transport.Handle{Kind: k, Name: fi.Name})
			for _, needle := range [][]byte{[]byte("secret snippet"), ids[5][:], plainID[:], []byte("assets")} {
				if bytes.Contains(data, needle) {
					t.Errorf("%s/%s contains %q", k, fi.Name, needle[:8])
				}
			}
			return nil
		})
	}
}

func TestEncryptedTamperingIsCaught(t *testing.T) {
	ctx := context.Background()
	r, be := encryptedRepo(t, "pw")
	data := bytes.Repeat([]byte("tamper me "), 500)
	id := r.ChunkID(data)
	if _, err := r.SaveChunk(ctx, id, data); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var pack string
	be.List(ctx, transport.Data, func(fi transport.FileInfo) error { pack = fi.Name; return nil })
	h := transport.Handle{Kind: transport.Data, Name: pack}
	orig, _ := transport.LoadAll(ctx, be, h)
	bad := bytes.Clone(orig)
	bad[headerSize+30] ^= 1 // inside the first sealed frame
	be.Remove(ctx, h)
	be.Save(ctx, h, bad)
	if _, err := r.LoadChunk(ctx, id, nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("flipped byte in a sealed frame: %v", err)
	}

	// A plain object planted in an encrypted repository is refused, even a valid one.
	plain := sealObject(nil, TypeSnapshot, codecZstd, []byte(`{"format":1,"id":"1.0.0_1"}`))
	be.Save(ctx, transport.Handle{Kind: transport.Snapshots, Name: objectID(plain).String()}, plain)
	if _, err := r.Snapshots(ctx); !errors.Is(err, ErrDamaged) {
		t.Fatalf("plain manifest in an encrypted repository: %v", err)
	}
	// And the other way round: a sealed object is not read as plain.
	if _, err := openObject(nil, sealObject(r.box, TypeIndex, codecZstd, []byte("x")), TypeIndex); !errors.Is(err, ErrDamaged) {
		t.Fatalf("sealed object opened without a key: %v", err)
	}
	// The header is authenticated: changing the type byte of a sealed object fails.
	obj := sealObject(r.box, TypeIndex, codecZstd, []byte("x"))
	obj[len(magic)+1] = byte(TypeSnapshot)
	if _, err := openObject(r.box, obj, TypeSnapshot); !errors.Is(err, ErrDamaged) {
		t.Fatalf("retyped sealed object: %v", err)
	}
}

func TestKeySlots(t *testing.T) {
	ctx := context.Background()
	r, be := encryptedRepo(t, "first")
	second, err := r.AddKey(ctx, "second", fastKDF)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := r.Keys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	open := func(pw string) (*Repository, error) { return Open(ctx, be, WithPassword(pw, KDFParams{})) }
	r2, err := open("second")
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.RemoveKey(ctx, second); err == nil {
		t.Fatal("removed the slot in use")
	}
	first := ""
	for _, k := range keys {
		if k.Name != second {
			first = k.Name
		}
	}
	if err := r2.RemoveKey(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := open("first"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("removed slot still opens: %v", err)
	}
	if _, err := r2.ChangePassword(ctx, "third", fastKDF); err != nil {
		t.Fatal(err)
	}
	if _, err := open("second"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("old password still opens after passwd: %v", err)
	}
	if r3, err := open("third"); err != nil || r3.Config().ID != r.Config().ID {
		t.Fatalf("new password: %v", err)
	}
	// Absurd argon2id parameters in a planted slot are refused, not obeyed.
	if _, err := newKeySlot(r.master, "x", KDFParams{Time: 1, MemoryKiB: MaxKDFMemoryKiB + 1, Threads: 1}); err == nil {
		t.Fatal("slot with too much memory accepted")
	}
}

// TestKeyedHasherReset: a pooled keyed hasher gives the same id as a fresh one.
func TestKeyedHasherReset(t *testing.T) {
	r, _ := encryptedRepo(t, "pw")
	a := r.ChunkID([]byte("one"))
	_ = r.ChunkID([]byte("two"))
	if r.ChunkID([]byte("one")) != a {
		t.Fatal("keyed id changed after reuse")
	}
	h, _ := blake3.NewKeyed(r.master.ChunkID)
	h.Write([]byte("one"))
	if !bytes.Equal(h.Sum(nil)[:16], a[:16]) || a != a.Narrow() {
		t.Fatal("keyed id is not keyed BLAKE3 cut to 128 bits")
	}
}

package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"cairn/transport"
)

// newPacks returns the packs written since seen, and adds them to it.
func newPacks(t *testing.T, be transport.Backend, seen map[string]bool) []string {
	t.Helper()
	var out []string
	for _, n := range objectNames(t, be, transport.Data) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// TestPackTableHidesEntryCount: the length stored in the clear after an encrypted
// pack's table no longer gives its entry count: packs of 1 to 85 chunks show the same
// length, and so do packs of 5000 and 5003 (a format 3 table of 1000 chunks of 100
// bytes fits the smallest padded table, 4 KiB).
func TestPackTableHidesEntryCount(t *testing.T) {
	ctx := context.Background()
	r, be := encryptedRepo(t, "pw")
	seen := map[string]bool{}
	newPacks(t, be, seen)
	lengths := map[int]uint32{}
	for _, n := range []int{1, 2, 40, 85, 5000, 5003} {
		for range n {
			data := make([]byte, 100)
			rand.Read(data)
			if _, err := r.SaveChunk(ctx, r.ChunkID(data), data); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		packs := newPacks(t, be, seen)
		if len(packs) != 1 {
			t.Fatalf("%d chunks made %d packs, want 1", n, len(packs))
		}
		id, _ := ParseObjectID(packs[0])
		pack, refs, err := r.LoadPack(ctx, id)
		if err != nil || len(refs) != n {
			t.Fatalf("pack of %d chunks reads back %d entries: %v", n, len(refs), err)
		}
		if pack[len(magic)] != envelopePadded {
			t.Fatalf("a sealed pack in envelope version %d", pack[len(magic)])
		}
		lengths[n] = binary.LittleEndian.Uint32(pack[len(pack)-4:])
	}
	for _, same := range [][]int{{1, 2, 40, 85}, {5000, 5003}} {
		for _, n := range same[1:] {
			if lengths[n] != lengths[same[0]] {
				t.Errorf("the table of %d entries is %d bytes, of %d entries %d: the count shows", same[0], lengths[same[0]], n, lengths[n])
			}
		}
	}
	if lengths[5000] == lengths[1] {
		t.Error("tables of 1 and 5000 entries are the same length")
	}
}

// TestTableBucket: a padded table holds its entries, adds at most an eighth past
// minTable, and its length tells at most 8 bits of a count of up to 16.
func TestTableBucket(t *testing.T) {
	buckets := map[int]bool{}
	for n := 1; n < 1<<16; n++ {
		l := n*packEntrySize + 4
		b := tableBucket(l)
		if b < l || b > max(minTable, l+l/8) {
			t.Fatalf("%d entries (%d bytes) padded to %d", n, l, b)
		}
		buckets[b] = true
	}
	if len(buckets) > 256 {
		t.Fatalf("65535 entry counts fall in %d table lengths", len(buckets))
	}
}

// legacyPack is a pack as builds before envelope version 3 wrote it: header version 2,
// the sealed table unpadded.
func legacyPack(r *Repository, chunks [][]byte) ([]byte, []BlobRef) {
	pack := []byte("CAIRN\x02\x02\x00")
	var fw frameWriter
	for _, c := range chunks {
		fw.add(r.ChunkID(c), c)
	}
	off := len(pack)
	pack = r.encodeFrame(&fw, pack)
	refs := slices.Clone(fw.entries)
	var table []byte
	for i := range refs {
		refs[i].Frame, refs[i].FrameLen = uint32(off), uint32(len(pack)-off)
		table = appendRef(table, refs[i])
	}
	table = binary.LittleEndian.AppendUint32(table, uint32(len(refs)))
	n := len(pack)
	pack = r.box.seal(pack, table, nil)
	return binary.LittleEndian.AppendUint32(pack, uint32(len(pack)-n)), refs
}

// TestUnpaddedPacksStillRead: a repository holding packs written before tables were
// padded reads them (chunks, and tables for check and prune), takes new packs beside
// them, and refuses an old pack whose table is padded.
func TestUnpaddedPacksStillRead(t *testing.T) {
	ctx := context.Background()
	r, be := encryptedRepoOf(t, "pw", 1) // packs of envelope version 2 predate format 2
	old := [][]byte{[]byte("written"), []byte("by an older"), []byte("build")}
	pack, refs := legacyPack(r, old)
	name := objectID(pack)
	if err := be.Save(ctx, transport.Handle{Kind: transport.Data, Name: name.String()}, pack); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SaveIndex(ctx, indexFile{name: refs}); err != nil {
		t.Fatal(err)
	}
	fresh := []byte("written by this build")
	if _, err := r.SaveChunk(ctx, r.ChunkID(fresh), fresh); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(ctx, be, WithPassword("pw", KDFParams{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(old, fresh) {
		got, err := r2.LoadChunk(ctx, r2.ChunkID(c), nil)
		if err != nil || !bytes.Equal(got, c) {
			t.Fatalf("chunk %q: %q %v", c, got, err)
		}
	}
	if _, got, err := r2.LoadPack(ctx, name); err != nil || !slices.Equal(got, refs) {
		t.Fatalf("the old pack's table: %v %v", got, err)
	}
	// A version 2 pack is not padded: one that is was not written by cairn.
	p := &packWriter{buf: slices.Clone(pack[:refs[0].Frame+refs[0].FrameLen]), entries: refs}
	padded, _, _ := p.finish(r.box, 1)
	padded[len(magic)] = envelopeSealed
	if _, err := parsePackEntries(r.box, 1, padded, DefaultPackSize); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a version 2 pack with a padded table: %v", err)
	}
}

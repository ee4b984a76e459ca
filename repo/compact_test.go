package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	mrand "math/rand"
	"runtime"
	"slices"
	"testing"

	"cairn/chunk"
	"cairn/transport"
)

// compactPack is a format 2 pack of a few chunks in three frames, as the writer makes
// it, unencrypted; its refs as written.
func compactPack(t *testing.T) ([]byte, []BlobRef) { return writtenPack(t, 2, false) }

// writtenPack writes a plain pack of the given format, three frames of four chunks
// each (with rawLast, the last frame of random bytes, stored raw), and returns it with
// the refs written.
func writtenPack(t *testing.T, format int, rawLast bool) ([]byte, []BlobRef) {
	t.Helper()
	r := &Repository{cfg: Config{Format: format}}
	p := newPackWriter(64<<10, nil)
	for f := range 3 {
		var fw frameWriter
		for c := range 4 {
			data := bytes.Repeat([]byte(fmt.Sprintf("frame %d chunk %d;", f, c)), 10+c)
			if rawLast && f == 2 {
				data = make([]byte, 50+c)
				mrand.New(mrand.NewSource(int64(c))).Read(data)
			}
			fw.add(r.ChunkID(data), data)
		}
		addFrame(p, &fw, nil)
	}
	written := slices.Clone(p.entries)
	pack, _, err := p.finish(nil, format)
	if err != nil {
		t.Fatal(err)
	}
	pack = slices.Clone(pack)
	runtime.KeepAlive(p)
	return pack, written
}

// addFrame seals the frame fw as a writer does (and with k, when given) and adds it
// to p.
func addFrame(p *packWriter, fw *frameWriter, k *box) {
	enc, _ := codecs()
	stored := fw.seal(nil, enc)
	if k != nil {
		stored = k.seal(nil, stored, nil)
	}
	for i := range fw.entries {
		fw.entries[i].FrameLen = uint32(len(stored))
	}
	p.addSection(stored, fw.entries)
}

// tableOf splits a plain format 2 pack into its frames and its table (the refs).
func tableOf(pack []byte) (frames, table []byte) {
	n := int(binary.LittleEndian.Uint32(pack[len(pack)-4:]))
	return pack[:len(pack)-4-n], pack[len(pack)-4-n : len(pack)-4]
}

// withTable puts a table behind frames, as a plain format 2 pack has it.
func withTable(frames, table []byte) []byte {
	b := append(slices.Clone(frames), table...)
	return binary.LittleEndian.AppendUint32(b, uint32(len(table)))
}

// TestCompactTableHostile: a format 2 pack table that is truncated, overlong, or names
// counts, lengths or offsets its bytes cannot hold is refused as damaged, never
// decoded into refs outside the pack, and never a panic or a large allocation.
func TestCompactTableHostile(t *testing.T) {
	pack, refs := compactPack(t)
	got, err := parsePackEntries(nil, 2, pack, DefaultPackSize)
	if err != nil || !slices.Equal(got, refs) {
		t.Fatalf("the writer's pack reads back as %v (%v), want %v", got, err, refs)
	}
	frames, table := tableOf(pack)
	uv := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendUvarint(b, v)
		}
		return b
	}
	id := bytes.Repeat([]byte{0xab}, 16)
	entry := append(slices.Clone(id), uv(5)...)
	cases := map[string][]byte{
		"truncated":               table[:len(table)-1],
		"trailing bytes":          append(slices.Clone(table), 0),
		"truncated uvarint":       {0x80},
		"overlong uvarint":        bytes.Repeat([]byte{0xff}, 11),
		"frame count past bytes":  uv(1 << 40),
		"entry count past bytes":  append(uv(1, 0, 1, 1000<<1), entry...),
		"frame past the frames":   append(uv(1, 0, uint64(len(frames)), 1<<1), entry...),
		"gap past the frames":     append(uv(1, uint64(len(frames)), 1, 1<<1), entry...),
		"gap of 2^32":             append(uv(1, 1<<32, 1, 1<<1), entry...),
		"empty frame":             append(uv(1, 0, 0, 1<<1), entry...),
		"id cut short":            append(uv(1, 0, 1, 1<<1), id[:15]...),
		"chunk length missing":    append(uv(1, 0, 1, 1<<1), id...),
		"chunk past 2^24":         append(append(uv(1, 0, 1, 1<<1), id...), uv(1<<24)...),
		"offset past 2^20":        append(append(uv(1, 0, 1, 1<<1|1), id...), uv(1<<20, 1)...),
		"skip past 2^32":          append(append(uv(1, 0, 1, 1<<1|1), id...), uv(math.MaxUint32+1, 1)...),
		"table longer than pack":  nil,
		"second frame overlaps":   nil,
		"frame length of 2^32+1":  append(uv(1, 0, 1<<32+1, 1<<1), entry...),
		"no frames, trailing one": append(uv(0), 1),
	}
	for name, tab := range cases {
		t.Run(name, func(t *testing.T) {
			p := withTable(frames, tab)
			switch name {
			case "table longer than pack":
				p = binary.LittleEndian.AppendUint32(slices.Clone(pack[:len(pack)-4]), uint32(len(pack)))
			case "second frame overlaps":
				// Two frames of the whole pack's frames each: the second starts where
				// the first ends, past the frames.
				n := uint64(len(frames) - headerSize)
				p = withTable(frames, append(append(append(uv(2, 0, n, 1<<1), entry...), uv(0, n, 1<<1)...), entry...))
			}
			var err error
			bounded(t, len(p), func() int {
				_, err = parsePackEntries(nil, 2, p, DefaultPackSize)
				return 0
			})
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("parsed: %v", err)
			}
		})
	}
}

// TestCompactIndexHostile: format 2 index files that are truncated, name a pack twice
// or out of order, or carry tables that do not hold are refused as damaged.
func TestCompactIndexHostile(t *testing.T) {
	_, refs := compactPack(t)
	p1, p2 := ObjectID{1}, ObjectID{2}
	good, err := encodeCompactIndex(indexFile{p1: refs, p2: refs[:3]}, []ObjectID{p1, p2})
	if err != nil {
		t.Fatal(err)
	}
	if x, err := decodeIndex(nil, 2, sealObject(nil, TypeIndex, codecZstd, good)); err != nil || !slices.Equal(x[p1], refs) || !slices.Equal(x[p2], refs[:3]) {
		t.Fatalf("index round trip: %v", err)
	}
	twice, _ := encodeCompactIndex(indexFile{p1: refs}, []ObjectID{p1, p1})
	twice[0] = 2
	backwards, _ := encodeCompactIndex(indexFile{p1: refs, p2: refs}, []ObjectID{p2, p1})
	for name, payload := range map[string][]byte{
		"truncated":           good[:len(good)-1],
		"trailing":            append(slices.Clone(good), 0),
		"pack count past end": binary.AppendUvarint(nil, 1<<40),
		"pack name cut short": append(binary.AppendUvarint(nil, 1), p1[:20]...),
		"a pack twice":        twice,
		"packs out of order":  backwards,
		"empty":               nil,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeIndex(nil, 2, sealObject(nil, TypeIndex, codecZstd, payload)); !errors.Is(err, ErrDamaged) {
				t.Fatalf("decoded: %v", err)
			}
		})
	}
}

// TestCompactIndexSubsets: an index file naming only some chunks of a pack (as prune
// and a backup's commit write them) keeps their places exactly: frames skipped, and
// chunks skipped inside a frame.
func TestCompactIndexSubsets(t *testing.T) {
	_, refs := compactPack(t)
	for name, sub := range map[string][]BlobRef{
		"last frame only":      refs[8:],
		"every other chunk":    {refs[0], refs[2], refs[5], refs[7], refs[11]},
		"first and last chunk": {refs[0], refs[11]},
		"repeated, unordered":  {refs[11], refs[3], refs[3], refs[0]},
	} {
		enc, err := encodeIndex(nil, 2, indexFile{{9}: sub})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		x, err := decodeIndex(nil, 2, enc)
		want := sortedRefs(sub)
		if err != nil || !slices.Equal(x[ObjectID{9}], want) {
			t.Fatalf("%s: %v\n got %+v\nwant %+v", name, err, x[ObjectID{9}], want)
		}
	}
	// Refs no pack could hold are refused, not written wrong.
	bad := []BlobRef{refs[1], refs[1]}
	bad[1].ID[0] ^= 1 // another chunk at the same place
	if _, err := encodeIndex(nil, 2, indexFile{{9}: bad}); err == nil {
		t.Fatal("two chunks at one place encoded")
	}
	wide := []BlobRef{refs[0]}
	wide[0].ID[20] = 1
	if _, err := encodeIndex(nil, 2, indexFile{{9}: wide}); err == nil {
		t.Fatal("a 256-bit id encoded in a format 2 index")
	}
}

// TestCompactListHostile: format 2 chunk lists of the wrong length, with a delta base
// or inserts cut short, are refused as damaged; a 256-bit list id named by a manifest
// is refused before anything is loaded.
func TestCompactListHostile(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	ids := []chunk.ID{r.ChunkID([]byte("a")), r.ChunkID([]byte("b")), r.ChunkID([]byte("c"))}
	full := encodeFullList(ids, 16)
	if len(full) != 6+16*len(ids) {
		t.Fatalf("full list of %d ids is %d bytes", len(ids), len(full))
	}
	base := r.ChunkID(full)
	r.lists.putRaw(base, full)
	delta := encodeDeltaList(base, 1, diffLists(ids, append(ids, r.ChunkID([]byte("d")))), 16)
	for name, data := range map[string][]byte{
		"full, one byte short":    full[:len(full)-1],
		"full, a 32-byte id more": append(slices.Clone(full), make([]byte, 32)...),
		"full, count too large":   append([]byte{'F', 0, 4, 0, 0, 0}, full[6:]...),
		"delta, insert cut short": delta[:len(delta)-1],
		"delta, base cut short":   delta[:2+15],
	} {
		t.Run(name, func(t *testing.T) {
			id := r.ChunkID(data)
			r.lists.putRaw(base, full)
			r.lists.putRaw(id, data)
			if _, err := r.LoadList(ctx, id, nil); !errors.Is(err, ErrDamaged) {
				t.Fatalf("loaded: %v", err)
			}
		})
	}
	wide := base
	wide[31] = 1
	if _, err := r.LoadList(ctx, wide, nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a 256-bit list id in a format 2 repository: %v", err)
	}
}

// TestNarrowIDsVerified: from format 2 on a chunk is verified against the first 128
// bits of its hash, all of them: it reads back under that id, and an entry that names
// its bytes under an id differing in any one of those bits (the first, the ninth
// byte, the last) is refused as damaged, by LoadChunk, LoadChunks and VerifyChunks.
// In format 2 the pack's table carries the lying ids; in format 3 only the index
// does, and LoadPack names every copy by its bytes.
func TestNarrowIDsVerified(t *testing.T) {
	for _, format := range []int{2, 3} {
		t.Run(fmt.Sprint("format ", format), func(t *testing.T) { testNarrowIDsVerified(t, format) })
	}
}

func testNarrowIDsVerified(t *testing.T, format int) {
	ctx := context.Background()
	r, be := testRepoOf(t, format)
	data := bytes.Repeat([]byte("a snippet;"), 50)
	id := r.ChunkID(data)
	if full := chunk.Hash(data); id != full.Narrow() || id == full {
		t.Fatalf("format 2 id %s of hash %s", id, full)
	}
	if len(id.String()) != 32 {
		t.Fatalf("format 2 id prints as %q", id)
	}
	liars := map[string]chunk.ID{}
	for _, bit := range []int{0, 8 * 8, 8*16 - 1} {
		other := id
		other[bit/8] ^= 1 << (bit % 8)
		liars[fmt.Sprint("bit ", bit)] = other
		// The same bytes stored under the wrong id: what a hostile storage can make.
		if _, err := r.SaveChunk(ctx, other, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.SaveChunk(ctx, id, data); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r2.LoadChunk(ctx, id, nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the chunk under its own id: %v", err)
	}
	err = r2.LoadChunks(ctx, []chunk.ID{id}, func(_ int, got []byte) error {
		if !bytes.Equal(got, data) {
			return errors.New("LoadChunks returned other bytes")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the chunk under its own id, LoadChunks: %v", err)
	}
	for name, other := range liars {
		if _, err := r2.LoadChunk(ctx, other, nil); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: LoadChunk: %v", name, err)
		}
		if err := r2.LoadChunks(ctx, []chunk.ID{other}, func(int, []byte) error { return nil }); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: LoadChunks: %v", name, err)
		}
	}
	names := objectNames(t, be, transport.Data)
	if len(names) != 1 {
		t.Fatalf("%d packs", len(names))
	}
	pack, _ := ParseObjectID(names[0])
	stored, refs, err := r2.LoadPack(ctx, pack)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]chunk.ID, len(refs))
	locs := make([]Location, len(refs))
	for i, e := range refs {
		ids[i], locs[i] = e.ID, Location{Pack: pack, Frame: e.Frame, FrameLen: e.FrameLen, Offset: e.Offset, Raw: e.Raw}
	}
	if format >= formatHashedTables {
		for i, e := range refs {
			if e.ID != id {
				t.Fatalf("LoadPack named copy %d %s, its bytes are %s", i, e.ID, id)
			}
		}
		// The lying ids are the index's: check verifies those.
		ids, locs = ids[:0], locs[:0]
		for _, other := range append(slices.Collect(maps.Values(liars)), id) {
			loc, ok := r2.Index().Lookup(other)
			if !ok {
				t.Fatalf("chunk %s not indexed", other)
			}
			ids, locs = append(ids, other), append(locs, loc)
		}
	}
	bad := 0
	for _, e := range r2.VerifyChunks(stored, ids, locs) {
		if e != nil {
			bad++
		}
	}
	if bad != len(liars) || len(refs) != len(liars)+1 {
		t.Fatalf("VerifyChunks found %d of %d chunks bad, want %d", bad, len(refs), len(liars))
	}
}

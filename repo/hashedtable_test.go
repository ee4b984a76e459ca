package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"testing"

	"cairn/transport"
)

// hashedRepo is a format 3 repository, encrypted or not, with 64 KiB packs.
func hashedRepo(t *testing.T, encrypted bool) (*Repository, transport.Backend) {
	t.Helper()
	if encrypted {
		return encryptedRepoOf(t, "pw", 3)
	}
	return testRepoOf(t, 3)
}

// TestHashedTableRoundTrip: a format 3 pack's table holds no ids, yet LoadPack returns
// every chunk of the pack under the id the index has for it, at the index's location,
// and the table alone (parsePackEntries) gives the same locations with no ids.
func TestHashedTableRoundTrip(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(fmt.Sprint("encrypted ", encrypted), func(t *testing.T) {
			ctx := context.Background()
			r, be := hashedRepo(t, encrypted)
			rnd := rand.New(rand.NewSource(3))
			for i := range 300 {
				data := bytes.Repeat([]byte(fmt.Sprintf(`{"id":"%d","v":%d}`+"\n", i, rnd.Int())), 1+rnd.Intn(40))
				if i%50 == 0 {
					data = make([]byte, 70<<10) // a chunk of its own frame
					rnd.Read(data)
				}
				if _, err := r.SaveChunk(ctx, r.ChunkID(data), data); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			var opts []Option
			if encrypted {
				opts = append(opts, WithPassword("pw", KDFParams{}))
			}
			r2, err := Open(ctx, be, opts...)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, name := range objectNames(t, be, transport.Data) {
				p, _ := ParseObjectID(name)
				pack, refs, err := r2.LoadPack(ctx, p)
				if err != nil || len(refs) == 0 {
					t.Fatalf("pack %s: %d refs, %v", name, len(refs), err)
				}
				table, err := parsePackEntries(r2.box, 3, pack, r2.cfg.PackSize)
				if err != nil || len(table) != len(refs) {
					t.Fatalf("table of pack %s: %d refs, %v", name, len(table), err)
				}
				for i, ref := range refs {
					loc, ok := r2.Index().Lookup(ref.ID)
					want := Location{Pack: p, Frame: ref.Frame, FrameLen: ref.FrameLen, Offset: ref.Offset, Raw: ref.Raw}
					if !ok || loc != want {
						t.Fatalf("chunk %d of pack %s: named %s at %+v, the index has %+v (%v)", i, name, ref.ID, want, loc, ok)
					}
					if table[i].ID != (BlobRef{}).ID {
						t.Fatalf("a format 3 table gave chunk %d the id %s", i, table[i].ID)
					}
					table[i].ID = ref.ID
				}
				if !slices.Equal(table, refs) {
					t.Fatalf("table and LoadPack disagree on the locations of pack %s", name)
				}
				total += len(refs)
			}
			if n := r2.Index().Len(); total != n {
				t.Fatalf("packs name %d chunks, the index %d", total, n)
			}
		})
	}
}

// TestHashedTableSmaller: for the same chunks in the same frames, a format 3 pack's
// table is at least 14 bytes a chunk smaller than format 2's, plain and sealed.
func TestHashedTableSmaller(t *testing.T) {
	for _, k := range []*box{nil, fuzzKey()} {
		sizes, n := map[int]int{}, 0
		for _, format := range []int{2, 3} {
			r := &Repository{box: k, cfg: Config{Format: format}}
			p := newPackWriter(4<<20, k)
			rnd := rand.New(rand.NewSource(5))
			for range 4 {
				var fw frameWriter
				for range 500 {
					data := make([]byte, 200+rnd.Intn(2000))
					rnd.Read(data[:20])
					fw.add(r.ChunkID(data), data)
				}
				addFrame(p, &fw, k)
			}
			frames := len(p.buf)
			n = len(p.entries)
			pack, _, err := p.finish(k, format)
			if err != nil {
				t.Fatal(err)
			}
			sizes[format] = len(pack) - frames
			refs, err := parsePackEntries(k, format, pack, DefaultPackSize)
			if err != nil || len(refs) != n {
				t.Fatalf("format %d: %d refs of %d: %v", format, len(refs), n, err)
			}
			runtime.KeepAlive(p)
		}
		if saved := sizes[2] - sizes[3]; saved < 14*n {
			t.Errorf("sealed %v: tables of %d chunks take %d bytes in format 2, %d in format 3: %d a chunk saved, want 14 at least",
				k != nil, n, sizes[2], sizes[3], saved/n)
		}
	}
}

// hashedPack writes a plain format 3 pack of three frames of four chunks each (the
// last frame stored raw) and returns it with the refs written.
func hashedPack(t *testing.T) ([]byte, []BlobRef) { return writtenPack(t, 3, true) }

// TestHashedTableHostile: a format 3 pack table that is truncated, names counts or
// lengths its bytes cannot hold, more chunks than a pack of the repository's size
// holds, or (sealed) non-zero padding is refused as damaged without a large
// allocation; a chunk that lies past the end of its frame, or a frame that does not
// decode, is damage when the chunks are named, and the others are still named.
func TestHashedTableHostile(t *testing.T) {
	pack, written := hashedPack(t)
	frames, table := tableOf(pack)
	r := &Repository{cfg: Config{Format: 3, PackSize: 64 << 10}}
	refs, err := r.packEntries(pack)
	if err != nil || len(refs) != len(written) {
		t.Fatalf("the writer's pack: %d refs, %v", len(refs), err)
	}
	named, lost, err := r.nameChunks(pack, refs)
	if err != nil || lost != 0 || !slices.Equal(named, written) {
		t.Fatalf("the writer's pack named %v (%d lost, %v), want %v", named, lost, err, written)
	}
	uv := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendUvarint(b, v)
		}
		return b
	}
	cases := map[string][]byte{
		"truncated":              table[:len(table)-1],
		"trailing bytes":         append(slices.Clone(table), 0),
		"truncated uvarint":      {0x80},
		"overlong uvarint":       bytes.Repeat([]byte{0xff}, 11),
		"frame count past bytes": uv(1 << 40),
		"entry count past bytes": append(uv(1, 0, 1, 1000<<1), 5),
		"chunk length missing":   uv(1, 0, 1, 2<<1, 5),
		"chunk past 2^24":        uv(1, 0, 1, 1<<1, 1<<24),
		"skip past 2^32":         uv(1, 0, 1, 1<<1|1, 1<<32, 1),
		"frame past the frames":  uv(1, 0, uint64(len(frames)), 1<<1, 5),
		"empty frame":            uv(1, 0, 0, 1<<1, 5),
	}
	for name, tab := range cases {
		t.Run(name, func(t *testing.T) {
			p := withTable(frames, tab)
			var err error
			bounded(t, len(p), func() int {
				_, err = r.packEntries(p)
				return 0
			})
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("parsed: %v", err)
			}
		})
	}
	// More chunks than a pack of the repository's size holds: frames of a byte, each
	// with 1024 chunks of a byte (each offset fits the index), one chunk too many.
	// As many as it holds are read, allocated once (counted first).
	manyChunks := func(many int) []byte {
		nframes := (many + 1023) / 1024
		tab := uv(uint64(nframes))
		for f := range nframes {
			n := min(1024, many-f*1024)
			tab = append(tab, uv(0, 1, uint64(n)<<1)...)
			tab = append(tab, bytes.Repeat([]byte{1}, n)...)
		}
		return withTable(append(appendHeader(nil, nil, TypePack, codecNone), make([]byte, nframes)...), tab)
	}
	t.Run("more chunks than a pack holds", func(t *testing.T) {
		p := manyChunks(maxPackRefs(64<<10) + 1)
		var err error
		bounded(t, len(p), func() int {
			_, err = r.packEntries(p)
			return 0
		})
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "more than") {
			t.Fatalf("a table of one chunk too many: %v", err)
		}
	})
	t.Run("as many chunks as a pack holds", func(t *testing.T) {
		p := manyChunks(maxPackRefs(64 << 10))
		var (
			refs []BlobRef
			err  error
		)
		bounded(t, len(p), func() int {
			refs, err = r.packEntries(p)
			return 0
		})
		if err != nil || len(refs) != maxPackRefs(64<<10) {
			t.Fatalf("a table of as many chunks as a pack holds: %d refs, %v", len(refs), err)
		}
	})
	// Chunks that lie past their frame: the table parses (it cannot know a frame's
	// decoded length), naming them fails, and the others are named.
	t.Run("chunk length past the frame", func(t *testing.T) {
		long := slices.Clone(written)
		long[len(long)-1].Raw += 1000
		b, err := appendCompactRefs(nil, long, 0)
		if err != nil {
			t.Fatal(err)
		}
		refs, err := r.packEntries(withTable(frames, b))
		if err != nil {
			t.Fatal(err)
		}
		named, lost, err := r.nameChunks(withTable(frames, b), refs)
		if !errors.Is(err, ErrDamaged) || lost != 1 || !slices.Equal(named, written[:len(written)-1]) {
			t.Fatalf("named %d (%d lost): %v", len(named), lost, err)
		}
	})
	t.Run("frame that does not decode", func(t *testing.T) {
		p := slices.Clone(pack)
		p[written[0].Frame+1] ^= 0xff // the zstd magic of the first frame
		refs, err := r.packEntries(p)
		if err != nil {
			t.Fatal(err)
		}
		named, lost, err := r.nameChunks(p, refs)
		if !errors.Is(err, ErrDamaged) || lost != 4 || !slices.Equal(named, written[4:]) {
			t.Fatalf("named %d (%d lost): %v", len(named), lost, err)
		}
	})
}

// TestHashedTablePaddingSealed: a sealed format 3 table with a non-zero byte in its
// padding is refused as damaged.
func TestHashedTablePaddingSealed(t *testing.T) {
	ctx := context.Background()
	r, be := hashedRepo(t, true)
	data := []byte(`{"id":"a"}` + "\n")
	if _, err := r.SaveChunk(ctx, r.ChunkID(data), data); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	names := objectNames(t, be, transport.Data)
	if len(names) != 1 {
		t.Fatalf("%d packs", len(names))
	}
	id, _ := ParseObjectID(names[0])
	pack, refs, err := r.LoadPack(ctx, id)
	if err != nil || len(refs) != 1 {
		t.Fatalf("the writer's pack: %d refs, %v", len(refs), err)
	}
	sealed := int(binary.LittleEndian.Uint32(pack[len(pack)-4:]))
	start := len(pack) - 4 - sealed
	table, err := r.box.open(nil, slices.Clone(pack[start:len(pack)-4]), nil)
	if err != nil {
		t.Fatal(err)
	}
	table[len(table)-5] = 1 // the last byte of padding, before the refs' length
	bad := r.box.seal(slices.Clone(pack[:start]), table, nil)
	bad = binary.LittleEndian.AppendUint32(bad, uint32(len(bad)-start))
	if _, err := r.packEntries(bad); !errors.Is(err, ErrDamaged) {
		t.Fatalf("non-zero padding: %v", err)
	}
}

// TestLoadPackNamesWhatDecodes: a format 3 pack whose bytes match its name but one of
// whose frames does not decode (a writer's fault, or a forged pack) loads as damaged:
// LoadPack returns the chunks of the other frames, named, and an error wrapping
// ErrDamaged; repair indexes those chunks and counts the others as lost.
func TestLoadPackNamesWhatDecodes(t *testing.T) {
	ctx := context.Background()
	r, be := hashedRepo(t, false)
	pack, written := hashedPack(t)
	pack[written[0].Frame] = 7 // a codec no reader knows
	name := objectID(pack)
	if err := be.Save(ctx, transport.Handle{Kind: transport.Data, Name: name.String()}, pack); err != nil {
		t.Fatal(err)
	}
	_, got, err := r.LoadPack(ctx, name)
	if !errors.Is(err, ErrDamaged) || !slices.Equal(got, written[4:]) {
		t.Fatalf("LoadPack of a pack with a frame that does not decode: %d refs, %v", len(got), err)
	}
	st, err := r.RebuildIndex(ctx, nil)
	if err != nil || st.Chunks != 8 || st.ChunksLost != 4 || len(st.Damaged) != 1 {
		t.Fatalf("repair: %+v, %v", st, err)
	}
	for i, ref := range written {
		if loc, ok := r.Index().Lookup(ref.ID); ok != (i >= 4) || ok && (loc.Pack != name || loc.Offset != ref.Offset) {
			t.Fatalf("chunk %d indexed %v at %+v after repair", i, ok, loc)
		}
	}
}

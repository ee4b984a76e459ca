package repo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/mem"
)

// compressible makes n bytes of record-like text.
func compressible(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n+64)
	for len(b) < n {
		b = fmt.Appendf(b, `{"id":"%x","title":"`, rng.Uint64())
		for range 5 + rng.IntN(30) {
			w := rng.IntN(400)
			b = fmt.Appendf(b, "%s%d ", studyWords[w%len(studyWords)], w/len(studyWords))
		}
		b = append(b, "\"}\n"...)
	}
	return b[:n]
}

var studyWords = []string{"func", "return", "err", "nil", "context", "string", "byte", "import", "package", "struct", "interface", "select", "chan", "defer", "range"}

// TestCompressionLevels: every level round trips through a reopened repository, the
// totals name what was asked for and the zstd level that compressed the frames, and a
// higher level stores the same chunks in fewer bytes.
func TestCompressionLevels(t *testing.T) {
	stored := map[Level]int64{}
	for _, c := range []struct {
		level  Level
		picked string
	}{
		{CompressionAuto, "default"}, // uploads that keep up
		{CompressionFastest, "fastest"},
		{CompressionDefault, "default"},
		{CompressionMax, "best"},
	} {
		t.Run(c.level.String(), func(t *testing.T) {
			ctx := context.Background()
			r, be := testRepo(t)
			r.SetCompression(CompressionOptions{Level: c.level})
			before := r.CompressionTotals()
			rng := rand.New(rand.NewPCG(3, 4))
			var ids []chunk.ID
			var want [][]byte
			for range 200 {
				data := compressible(rng, 1000+rng.IntN(4000))
				id := r.ChunkID(data)
				if _, err := r.SaveChunk(ctx, id, data); err != nil {
					t.Fatal(err)
				}
				ids, want = append(ids, id), append(want, data)
			}
			if err := r.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			tot := r.CompressionTotals().Since(before)
			if tot.Level != c.level.String() || tot.Picked != c.picked || *tot.Raw.at(zlevelOf(t, c.picked)) == 0 {
				t.Fatalf("totals %+v, want level %s picked %s", tot, c.level, c.picked)
			}
			stored[c.level] = frameBytes(r)
			r2, err := Open(ctx, be)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				got, err := r2.LoadChunk(ctx, id, nil)
				if err != nil || string(got) != string(want[i]) {
					t.Fatalf("chunk %d: %v", i, err)
				}
			}
		})
	}
	if !(stored[CompressionMax] < stored[CompressionDefault] && stored[CompressionDefault] < stored[CompressionFastest]) {
		t.Fatalf("bytes stored: fastest %d, default %d, max %d: want each level smaller", stored[CompressionFastest], stored[CompressionDefault], stored[CompressionMax])
	}
}

// TestParseLevel: the four names parse and print back; anything else is refused.
func TestParseLevel(t *testing.T) {
	for _, s := range []string{"auto", "fastest", "default", "max"} {
		l, err := ParseLevel(s)
		if err != nil || l.String() != s {
			t.Fatalf("%s: %v %v", s, l, err)
		}
	}
	for _, s := range []string{"", "best", "Max", "9"} {
		if _, err := ParseLevel(s); err == nil {
			t.Fatalf("%q accepted", s)
		}
	}
}

// TestAutoObserve: auto starts at zstd's default level, climbs one level per pack that
// waited for the uploaders, up to the best, and falls back when the uploaders wait, to
// the default level at the lowest; fixed levels never move.
func TestAutoObserve(t *testing.T) {
	c := newCompressor(frameTarget)
	level := func() string { return zlevelNames[c.level.Load()] }
	c.set(CompressionOptions{})
	if level() != "default" {
		t.Fatalf("auto starts at %s", level())
	}
	for _, step := range []struct {
		w    uploadWait
		want string
	}{
		{uploadersBusy, "default"}, {uploadersIdle, "default"}, {uploadersFull, "better"}, {uploadersFull, "best"}, {uploadersFull, "best"},
		{uploadersIdle, "better"}, {uploadersIdle, "default"}, {uploadersIdle, "default"},
	} {
		c.observe(step.w)
		if level() != step.want {
			t.Fatalf("after %d: level %s, want %s", step.w, level(), step.want)
		}
	}
	for _, fixed := range []struct {
		l    Level
		want string
	}{{CompressionFastest, "fastest"}, {CompressionDefault, "default"}, {CompressionMax, "best"}} {
		c.set(CompressionOptions{Level: fixed.l})
		c.observe(uploadersFull)
		c.observe(uploadersIdle)
		c.observe(uploadersIdle)
		if level() != fixed.want {
			t.Fatalf("fixed level %s moved to %s", fixed.l, level())
		}
	}
}

// TestAutoClimbsOnSlowUploads: when every upload slot is busy as a pack fills (a slow
// link), the frames after it are compressed at a higher level, and the totals say so.
func TestAutoClimbsOnSlowUploads(t *testing.T) {
	ctx := context.Background()
	gate := make(chan struct{})
	be := faulty.New(mem.New(), faulty.Fault{Method: faulty.Save,
		Match: func(h transport.Handle) bool { return h.Kind == transport.Data },
		Hook:  func(string, transport.Handle) error { <-gate; return nil }})
	cfg, err := NewConfig(time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cfg.PackSize = 64 << 10
	r, err := Init(ctx, be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.SetCompression(CompressionOptions{})
	full := make(chan struct{})
	r.comp.onObserve = func(w uploadWait) {
		if w == uploadersFull {
			close(full)
			r.comp.onObserve = nil
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	done := make(chan error)
	size := r.frameSize() + 100
	go func() { // ends when the four chunks are saved
		for range 4 {
			data := make([]byte, size) // its own frame, stored raw: a full pack
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			if _, err := r.SaveChunk(ctx, r.ChunkID(data), data); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	<-full // the third pack found both uploads in flight
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	tot := r.CompressionTotals()
	if tot.Raw != (LevelBytes{Default: 3 * int64(size), Better: int64(size)}) || tot.Picked != "default" {
		t.Fatalf("totals %+v: want three frames at default, the fourth at better", tot)
	}
}

// frameBytes is the stored bytes of the frames r's index names.
func frameBytes(r *Repository) int64 {
	frames := map[[2]uint32]uint32{}
	r.Index().Each(func(_ chunk.ID, l Location) {
		frames[[2]uint32{r.Index().packOrd[l.Pack], l.Frame}] = l.FrameLen
	})
	var n int64
	for _, l := range frames {
		n += int64(l)
	}
	return n
}

func zlevelOf(tb testing.TB, name string) zlevel {
	tb.Helper()
	for l, n := range zlevelNames {
		if n == name {
			return zlevel(l)
		}
	}
	tb.Fatalf("no zstd level %s", name)
	return 0
}

// TestFramesWithoutChecksum: the frames a handle writes, at every zstd level, carry no
// xxhash of their own (the frame header's checksum flag is clear and no 4 bytes follow
// the last block: each chunk is checked against its BLAKE3 id instead), and they
// decode.
func TestFramesWithoutChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	raw := compressible(rng, 300<<10)
	for l := range zlevels {
		t.Run(zlevelNames[l], func(t *testing.T) {
			r, _ := testRepoOf(t, 2)
			r.comp.level.Store(int32(l))
			stored := r.encodeRaw(raw, nil, false)
			if stored[0] != codecZstd {
				t.Fatalf("codec %d, want zstd", stored[0])
			}
			if descriptor := stored[1+4]; descriptor&0x04 != 0 {
				t.Fatalf("frame header descriptor %#x has the checksum flag", descriptor)
			}
			got, err := decodeFrame(nil, stored, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(raw) {
				t.Fatal("frame decodes to other bytes")
			}
		})
	}
}

package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/engine/gendb"
)

const (
	uuidA = "0006f1a2-2ac5-49e1-9091-754d790df052"
	uuidB = "19ebfbbd-2820-4162-8fb5-5b7619c1ab20"
)

// splitCases are raw frames whose split form must read back exactly.
func splitCases() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	rec := `{"id":"` + uuidA + `","creator":{"id":"` + uuidB + `"},"created":{"value":"2026-02-20T00:51:57.001Z"}}` + "\n"
	const ts = "2026-02-20T00:51:57.001Z"
	return map[string][]byte{
		"records":                 []byte(strings.Repeat(rec, 40)),
		"uuids back to back":      []byte(strings.Repeat(uuidA, 30)),
		"uuid at both ends":       []byte(uuidA + strings.Repeat("text-with-dashes ", 20) + uuidB),
		"upper case stays text":   []byte(strings.Repeat(strings.ToUpper(uuidA)+" "+uuidB+" ", 10)),
		"near misses":             []byte(strings.Repeat("0006f1a2-2ac5-49e1-9091-754d790df05 0006f1a2_2ac5-49e1-9091-754d790df052 0006f1a2-2ac5-49e1-9091-754d790df05g "+uuidB, 8)),
		"bytes 0xfe and 0xff":     append([]byte(strings.Repeat(uuidA+"\xfe\xff\xff\xfe", 12)), 0xfe),
		"bytes 0xff 0xfe first":   []byte("\xff\xfe" + strings.Repeat(uuidB, 4)),
		"dash runs":               []byte(strings.Repeat("--------"+uuidA+"---", 9)),
		"random bytes":            random,
		"random bytes and uuids":  append(append([]byte(nil), random[:600]...), strings.Repeat(uuidA+uuidB, 20)...),
		"no uuid":                 []byte(strings.Repeat("no identifiers here, just words - and dashes\n", 30)),
		"timestamps back to back": []byte(strings.Repeat(ts+"1970-01-01T00:00:00.000Z9999-12-31T23:59:59.999Z", 10)),
		"timestamp and uuid":      []byte(strings.Repeat(ts+uuidA+ts+"-"+uuidB, 8)),
		"invalid dates stay text": []byte(strings.Repeat("2023-02-29T00:00:00.000Z 1969-12-31T23:59:59.999Z 2024-01-01T00:00:60.000Z 2024-13-01T00:00:00.000Z "+ts, 6)),
		"byte 0xfd":               []byte(strings.Repeat("\xfd"+ts+"\xfd\xfd", 12)),
	}
}

// split is splitInPlace on a copy of raw.
func split(raw []byte) ([]byte, bool) {
	var values []byte
	return splitInPlace(bytes.Clone(raw), &values)
}

func TestSplitRoundTrip(t *testing.T) {
	for name, raw := range splitCases() {
		t.Run(name, func(t *testing.T) {
			var values []byte
			buf := bytes.Clone(raw)
			form, ok := splitInPlace(buf, &values)
			declines := map[string]bool{"random bytes": true, "no uuid": true, "bytes 0xfe and 0xff": true, "bytes 0xff 0xfe first": true, "byte 0xfd": true, "random bytes and uuids": true}
			if ok == declines[name] {
				t.Fatalf("split form made: %v", ok)
			}
			if !ok {
				if !bytes.Equal(buf, raw) {
					t.Fatalf("splitInPlace declined but changed the bytes to %q", buf)
				}
				return
			}
			if len(form) >= len(raw) {
				t.Fatalf("split form of %d bytes for %d raw", len(form), len(raw))
			}
			if n, err := splitRawLen(form, maxFrameBytes); err != nil || n != len(raw) {
				t.Fatalf("declared raw length %d (%v), want %d", n, err, len(raw))
			}
			for _, want := range []int{len(raw), 0, 1, 7, 8, 9, 40, 41, 43, 44, len(raw) / 2, len(raw) - 1} {
				if want > len(raw) {
					continue
				}
				out := make([]byte, want)
				if err := unsplitInto(out, form); err != nil || !bytes.Equal(out, raw[:want]) {
					t.Fatalf("first %d raw bytes: %v\n got %q\nwant %q", want, err, out, raw[:want])
				}
			}
		})
	}
}

func TestSplitMovesOnlyLowercaseUUIDs(t *testing.T) {
	raw := []byte(`{"id":"` + uuidA + `","x":"` + strings.ToUpper(uuidB) + `"}` + strings.Repeat(" filler", 20))
	form, ok := split(raw)
	if !ok {
		t.Fatal("no split form")
	}
	if n := binary.LittleEndian.Uint32(form[len(form)-8:]); n != 16 {
		t.Fatalf("%d bytes of values, want 16: one UUID (the upper-case one stays text)", n)
	}
	if !bytes.Contains(form, []byte(strings.ToUpper(uuidB))) || bytes.Contains(form, []byte(uuidA)) {
		t.Fatalf("split form %q", form)
	}
}

// TestSplitRefusesDamage: a split form that does not give exactly what it declares is
// damaged, whether the whole frame or a first part of it is read.
func TestSplitRefusesDamage(t *testing.T) {
	raw := []byte(strings.Repeat(`{"id":"`+uuidA+`"}`+"\n", 10))
	good, ok := split(raw)
	if !ok {
		t.Fatal("no split form")
	}
	trailer := len(good) - splitTrailer
	text := trailer - 10*16 // ten UUIDs
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	setU32 := func(at int, v uint32) []byte {
		return edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[at:], v); return b })
	}
	firstMark := bytes.IndexByte(good, markUUID)
	for name, tc := range map[string]struct {
		form []byte
		want int // raw bytes asked for; -1: as declared
	}{
		"shorter than its trailer": {good[:5], -1},
		"more values than bytes":   {setU32(trailer, 1<<30), -1},
		"values left over": {edit(func(b []byte) []byte {
			b = append(b[:text:text], append(bytes.Repeat([]byte{7}, 16), good[text:]...)...)
			binary.LittleEndian.PutUint32(b[len(b)-8:], 11*16)
			return b
		}), -1},
		"values one UUID short":     {setU32(trailer, 9*16), -1},
		"values cut inside a UUID":  {setU32(trailer, 9*16+3), -1},
		"raw length one more":       {setU32(trailer+4, uint32(len(raw)+1)), -1},
		"raw length one less":       {setU32(trailer+4, uint32(len(raw)-1)), -1},
		"raw length past the limit": {setU32(trailer+4, maxFrameBytes+1), -1},
		"timestamp past year 9999":  {timeForm(maxTime + 1), -1},
		"timestamp mark past the values": {edit(func(b []byte) []byte {
			b[firstMark] = markTime
			binary.LittleEndian.PutUint32(b[trailer:], 5)
			return b
		}), -1},
		"byte 0xff in the text":     {edit(func(b []byte) []byte { b[0] = splitNever; return b }), -1},
		"byte 0xff ends the text":   {edit(func(b []byte) []byte { b[text-1] = splitNever; return b }), -1},
		"mark turned into a letter": {edit(func(b []byte) []byte { b[firstMark] = 'x'; return b }), -1},
		"more asked than declared":  {good, len(raw) + 1},
		"part asked, text too short": {edit(func(b []byte) []byte {
			short := append(bytes.Clone(b[:20]), b[text:]...)
			binary.LittleEndian.PutUint32(short[len(short)-8:], 10*16)
			return short
		}), len(raw) - 1},
	} {
		t.Run(name, func(t *testing.T) {
			want := tc.want
			if want < 0 {
				n, err := splitRawLen(tc.form, maxFrameBytes)
				if err != nil {
					if !errors.Is(err, ErrDamaged) {
						t.Fatalf("error %v is not damage", err)
					}
					return
				}
				want = n
			}
			err := unsplitInto(make([]byte, want), tc.form)
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("unsplitInto = %v, want damage", err)
			}
		})
	}
}

// timeForm is the split form of one timestamp mark whose value is ms.
func timeForm(ms uint64) []byte {
	b := []byte{markTime, byte(ms >> 40), byte(ms >> 32), byte(ms >> 24), byte(ms >> 16), byte(ms >> 8), byte(ms)}
	b = binary.LittleEndian.AppendUint32(b, timeBytes)
	return binary.LittleEndian.AppendUint32(b, timeLen)
}

// TestTimeText: the text of every timestamp is Go's own formatting of it, and parses
// back to it.
func TestTimeText(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []uint64{0, maxTime, 951782400000 /* 2000-02-29 */, 4107542399999 /* 2100-02-28T23:59:59.999 */, 4107542400000, 94694399999}
	for range 20000 {
		cases = append(cases, rng.Uint64N(maxTime+1))
	}
	for _, ms := range cases {
		want := time.UnixMilli(int64(ms)).UTC().Format("2006-01-02T15:04:05.000Z")
		var got [timeLen]byte
		putTimeText(got[:], ms)
		if string(got[:]) != want {
			t.Fatalf("%d ms: text %s, want %s", ms, got[:], want)
		}
		if back, ok := parseTime(got[:]); !ok || back != ms {
			t.Fatalf("%s parsed to %d (%v), want %d", got[:], back, ok, ms)
		}
	}
}

func TestParseTimeRefuses(t *testing.T) {
	for _, s := range []string{
		"1969-12-31T23:59:59.999Z", // before 1970
		"2023-02-29T00:00:00.000Z", // not a leap year
		"2100-02-29T00:00:00.000Z",
		"2024-04-31T00:00:00.000Z",
		"2024-13-01T00:00:00.000Z",
		"2024-00-10T00:00:00.000Z",
		"2024-01-00T00:00:00.000Z",
		"2024-01-01T24:00:00.000Z",
		"2024-01-01T00:60:00.000Z",
		"2024-01-01T00:00:60.000Z", // a leap second does not print back
		"2024-01-01T00:00:00.000z",
		"2024-01-01 00:00:00.000Z",
		"2024-01-01T00:00:00,000Z",
		"2024-01-0aT00:00:00.000Z",
		"2024-01-01T00:00:00.00Z",
		"+024-01-01T00:00:00.000Z",
	} {
		if ms, ok := parseTime([]byte(s)); ok {
			t.Errorf("%s parsed to %d", s, ms)
		}
	}
}

// generated reads the collections of a small generated database.
func generated(t testing.TB, size int64) [][]byte {
	t.Helper()
	dir := t.TempDir()
	if _, err := gendb.Generate(dir, gendb.Options{Size: size, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("generated files: %v %v", files, err)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestSplitFramesStoreLess: on generated records, frames stored split at zstd's fastest
// level are smaller by at least 5% (6.8% on these 4 MiB of small collections; 9.5% on the 512 MiB bench database), and each reads
// back through decodeFrame and decodeFrameKept.
func TestSplitFramesStoreLess(t *testing.T) {
	c := newCompressor(1 << 20)
	c.set(CompressionOptions{Level: CompressionFastest})
	enc, _ := c.encoder()
	var plain, split int
	bufs := new(buffers)
	for _, c := range generated(t, 4<<20) {
		for i := 0; i < len(c); i += 1 << 20 {
			raw := c[i:min(i+1<<20, len(c))]
			var values []byte
			p := sealFrame(nil, raw, enc, nil)
			s := sealFrame(nil, bytes.Clone(raw), enc, &values)
			plain, split = plain+len(p), split+len(s)
			if s[0] != codecZstdSplit && len(raw) > 4096 {
				t.Fatalf("a frame of %d raw bytes of records stored with codec %d", len(raw), s[0])
			}
			got, err := decodeFrame(nil, s, nil)
			if err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("decodeFrame: %v", err)
			}
			kept, err := decodeFrameKept(nil, s, len(raw)/3, bufs)
			if err != nil || !bytes.Equal(kept, raw[:len(raw)/3]) {
				t.Fatalf("decodeFrameKept of a third: %v", err)
			}
			bufs.put(kept)
		}
	}
	if saved := 1 - float64(split)/float64(plain); saved < 0.05 {
		t.Fatalf("split frames %d bytes, plain %d: %.1f%% saved, want 5%% at least", split, plain, 100*saved)
	}
	t.Logf("split frames %d bytes, plain %d: %.1f%% saved", split, plain, 100*(1-float64(split)/float64(plain)))
}

// TestSplitFramesFromFormat3: a format 3 repository stores frames of records split; a
// format 2 one never does (its readers do not know codec 2).
func TestSplitFramesFromFormat3(t *testing.T) {
	raw := []byte(strings.Repeat(`{"id":"`+uuidA+`","creator":{"id":"`+uuidB+`"}}`+"\n", 200))
	for _, format := range []int{2, 3} {
		r := &Repository{cfg: Config{Format: format}, comp: newCompressor(1 << 20)}
		stored := r.encodeRaw(bytes.Clone(raw), nil, true)
		want := codecZstd
		if format >= 3 {
			want = codecZstdSplit
		}
		if stored[0] != want {
			t.Errorf("format %d: frame codec %d, want %d", format, stored[0], want)
		}
		if got, err := decodeFrame(nil, stored, nil); err != nil || !bytes.Equal(got, raw) {
			t.Errorf("format %d: read back: %v", format, err)
		}
	}
}

// FuzzSplit: any raw bytes round-trip through the split form, whole or in part; any
// bytes given as a split form (or as a stored split frame) are read back within bounds
// or refused as damaged.
func FuzzSplit(f *testing.F) {
	for _, raw := range splitCases() {
		f.Add(raw, false)
		if form, ok := split(raw); ok {
			f.Add(form, true)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, asForm bool) {
		if len(data) > fuzzMaxInput {
			t.Skip()
		}
		if !asForm {
			form, ok := split(data)
			if !ok {
				return
			}
			for _, want := range []int{len(data), len(data) / 2} {
				out := make([]byte, want)
				if err := unsplitInto(out, form); err != nil || !bytes.Equal(out, data[:want]) {
					t.Fatalf("first %d of %d raw bytes: %v", want, len(data), err)
				}
			}
			return
		}
		bounded(t, len(data), func() int {
			n, err := splitRawLen(data, maxFrameBytes)
			if err != nil {
				classified(t, err)
				return 0
			}
			if err := unsplitInto(make([]byte, n), data); err != nil {
				classified(t, err)
			}
			return n
		})
		enc, _ := codecs()
		stored := append([]byte{codecZstdSplit}, enc.EncodeAll(data, nil)...)
		bounded(t, len(data), func() int {
			raw, err := decodeFrame(nil, stored, nil)
			if err != nil {
				classified(t, err)
			}
			return len(raw)
		})
	})
}

// BenchmarkSplit: the split form of 1 MiB frames of generated records (with a copy of
// the frame each time), and back.
func BenchmarkSplit(b *testing.B) {
	var frames [][]byte
	for _, c := range generated(b, 8<<20) {
		for i := 0; i+1<<20 <= len(c); i += 1 << 20 {
			frames = append(frames, c[i:i+1<<20])
		}
	}
	if len(frames) == 0 {
		b.Skip("no full frame")
	}
	var values []byte
	buf := make([]byte, 1<<20)
	b.Run("split", func(b *testing.B) {
		b.SetBytes(1 << 20)
		for i := range b.N {
			copy(buf, frames[i%len(frames)])
			splitInPlace(buf, &values)
		}
	})
	out := make([]byte, 1<<20)
	b.Run("unsplit", func(b *testing.B) {
		b.SetBytes(1 << 20)
		b.StopTimer()
		for i := range b.N {
			copy(buf, frames[i%len(frames)])
			form, _ := splitInPlace(buf, &values)
			b.StartTimer()
			if err := unsplitInto(out, form); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
		}
	})
}

// TestSplitFrameStoredRaw: a frame split in place whose zstd output is no smaller
// than its raw bytes (one timestamp alone: zstd's headers outweigh the 9 bytes the
// split form saves) is stored raw: the raw bytes, not the split form.
func TestSplitFrameStoredRaw(t *testing.T) {
	raw := []byte("2026-02-20T00:51:57.001Z")
	c := newCompressor(1 << 20)
	enc, _ := c.encoder()
	var values []byte
	if form, ok := split(raw); !ok || len(form) >= len(raw) {
		t.Fatalf("split form %q (%v)", form, ok)
	}
	stored := sealFrame(nil, bytes.Clone(raw), enc, &values)
	if stored[0] != codecNone || !bytes.Equal(stored[1:], raw) {
		t.Fatalf("stored %q, want the raw bytes", stored)
	}
}

// TestLoadPackNamesSplitFrames: whoever reads a whole format 3 pack (check, prune,
// repair) names the chunks of its split frames as the index does.
func TestLoadPackNamesSplitFrames(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	want := map[chunk.ID]bool{}
	for i := range 400 {
		data := fmt.Appendf(nil, `{"id":"%08x-2ac5-49e1-9091-754d790df052","created":{"value":"2026-02-20T00:51:%02d.001Z"}}`+"\n", i, i%60)
		id := r.ChunkID(data)
		if _, err := r.SaveChunk(ctx, id, data); err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	packs, err := r.Packs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	split := 0
	for p := range packs {
		data, refs, err := r.LoadPack(ctx, p)
		if err != nil {
			t.Fatalf("pack %s: %v", p.Short(), err)
		}
		for _, ref := range refs {
			if !want[ref.ID] {
				t.Fatalf("pack %s names a chunk %s that was not saved", p.Short(), ref.ID.Short())
			}
			delete(want, ref.ID)
			if data[ref.Frame] == codecZstdSplit {
				split++
			}
		}
	}
	if len(want) != 0 || split == 0 {
		t.Fatalf("%d chunks not named, %d in split frames", len(want), split)
	}
}

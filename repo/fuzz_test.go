package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"cairn/chunk"
	"cairn/engine/gendb"
	"cairn/transport"
	"cairn/transport/mem"
)

// The fuzz targets of the repository's decoders. Besides its input, every target takes
// a mode byte:
//
//	bit 0 (fuzzSealed)  the repository is encrypted, with a fixed test key
//	bit 1 (fuzzWrap)    the input is a payload, first wrapped the way the writer wraps
//	                    it (compressed, sealed), so mutations reach the parser behind
//	                    the envelope and the AEAD
//	bit 2 (fuzzBuild)   the input is material for the encoder: the target encodes
//	                    something made from it with the package's writers and checks
//	                    that it decodes to what went in
//	bit 6 (fuzzHashed)  the repository is of format 3 (as format 2, but pack tables
//	                    without ids: the chunks are named by hashing them); in
//	                    fuzzBuild mode bits 3 to 5 ask for a large chunk
//	bit 7 (fuzzNarrow)  the repository is of format 2 (128-bit ids, compact pack
//	                    tables and index files); without it or bit 6, of format 1
//
// Properties: no panic; every error wraps ErrForeign, ErrNewerFormat, ErrDamaged (or
// ErrNotFound, for a list whose base is missing); allocation stays within a bound of
// what the input can hold; and whatever decodes re-encodes to something that decodes
// equal. The committed seeds under testdata/fuzz are real objects written by a real
// repository (regenerate them with: go test ./repo -run TestFuzzCorpus -fuzz-corpus).
const (
	fuzzSealed = 1 << iota
	fuzzWrap
	fuzzBuild
	fuzzHashed = 1 << 6
	fuzzNarrow = 1 << 7
)

// formatOf is the repository format a fuzz mode stands for.
func formatOf(mode byte) int {
	if mode&fuzzHashed != 0 {
		return 3
	}
	if mode&fuzzNarrow != 0 {
		return 2
	}
	return 1
}

// framesEnd is where the frames of a pack whose table parsed stop.
func framesEnd(k *box, format int, pack []byte, refs []BlobRef) int {
	tail := int(binary.LittleEndian.Uint32(pack[len(pack)-4:]))
	if k != nil || format >= formatNarrow {
		return len(pack) - 4 - tail
	}
	return len(pack) - 4 - len(refs)*packEntrySize
}

// fuzzMaxInput bounds the inputs the targets look at.
const fuzzMaxInput = 256 << 10

var writeCorpus = flag.Bool("fuzz-corpus", false, "rewrite the seed corpus under testdata/fuzz from a freshly written repository")

// fuzzKey is the fixed master key of the encrypted seeds.
var fuzzKey = sync.OnceValue(func() *box {
	k, err := newBox(&masterKey{Encrypt: bytes.Repeat([]byte{0x42}, 32), ChunkID: bytes.Repeat([]byte{0x17}, 32)})
	if err != nil {
		panic(err)
	}
	return k
})

func boxOf(mode byte) *box {
	if mode&fuzzSealed != 0 {
		return fuzzKey()
	}
	return nil
}

// classified fails unless err is one of the errors callers branch on.
func classified(t *testing.T, err error, also ...error) {
	t.Helper()
	for _, want := range append([]error{ErrForeign, ErrNewerFormat, ErrDamaged}, also...) {
		if errors.Is(err, want) {
			return
		}
	}
	t.Fatalf("error %q (%T) wraps none of the repository's errors", err, err)
}

var allocSample = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}

func allocated() uint64 {
	metrics.Read(allocSample)
	return allocSample[0].Value.Uint64()
}

// bounded runs fn and fails when it allocated more than 32 MiB plus 64 bytes per input
// byte plus 4 bytes per byte fn says it decoded. A zstd stream can decode to 32768
// times its size at most (a 4-byte RLE block holds 128 KiB), and that is fine when
// the bytes are really there; allocating for bytes a damaged header merely claims is
// not.
func bounded(t *testing.T, input int, fn func() (decoded int)) {
	t.Helper()
	before := allocated()
	decoded := fn()
	got := allocated() - before
	if limit := uint64(32<<20 + 64*input + 4*decoded); got > limit {
		t.Fatalf("allocated %d MiB for %d input bytes (%d decoded), more than %d MiB", got>>20, input, decoded, limit>>20)
	}
}

// FuzzEnvelope: checkHeader and openObject on any bytes, as any object type.
func FuzzEnvelope(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s.config, byte(TypeConfig), s.mode)
		f.Add(s.snapshots[0], byte(TypeSnapshot), s.mode)
		f.Add(s.indexes[0], byte(TypeIndex), s.mode)
		f.Add(s.packs[0][:headerSize], byte(TypePack), s.mode)
		f.Add([]byte(`{"format":1}`), byte(TypeSnapshot), s.mode|fuzzWrap)
	}
	f.Add([]byte("CAIRN\x01\x04\x01(\xb5/\xfd\xc0\x00\x00\x00\x00?\x00\x00\x00\x00\x0b\x00\x00a"), byte(TypeSnapshot), byte(0))
	f.Add([]byte("PK\x03\x04"), byte(TypeConfig), byte(0))
	f.Fuzz(func(t *testing.T, data []byte, want, mode byte) {
		if len(data) > fuzzMaxInput {
			t.Skip()
		}
		k, typ := boxOf(mode), ObjectType(want)
		if mode&(fuzzWrap|fuzzBuild) != 0 {
			for _, codec := range []byte{codecNone, codecZstd} {
				obj := sealObject(k, typ, codec, data)
				got, err := openObject(k, obj, typ)
				if codec == codecZstd && int64(len(data)) > objectMax(typ) {
					// More than a payload of its type decompresses to: refused.
					if !errors.Is(err, ErrDamaged) {
						t.Fatalf("a %s payload of %d bytes, over its bound: %v", typ, len(data), err)
					}
					continue
				}
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("codec %d: sealed %q, opened %q (%v)", codec, data, got, err)
				}
			}
			return
		}
		var (
			codec   byte
			payload []byte
			herr    error
			err     error
		)
		bounded(t, len(data), func() int {
			codec, herr = checkHeader(k, data, typ)
			payload, err = openObject(k, data, typ)
			return len(payload)
		})
		if herr != nil {
			classified(t, herr)
			if err == nil {
				t.Fatalf("openObject accepted a header checkHeader refuses: %v", herr)
			}
			return
		}
		// Plain objects are version 1; sealed ones 2, and packs also 3 (a padded table).
		v := data[len(magic)]
		version := k == nil && v == envelopePlain || k != nil && (v == envelopeSealed || v == envelopePadded && typ == TypePack)
		if len(data) < headerSize || string(data[:len(magic)]) != magic || !version ||
			ObjectType(data[len(magic)+1]) != typ || data[len(magic)+2] != codec || codec > codecZstd {
			t.Fatalf("checkHeader accepted header %q as a %s with codec %d", data[:min(len(data), headerSize)], typ, codec)
		}
		if _, err := checkHeader(k, data, typ+1); !errors.Is(err, ErrDamaged) {
			t.Fatalf("a %s passed as a %s: %v", typ, typ+1, err)
		}
		if err != nil {
			classified(t, err)
			return
		}
		if k == nil && codec == codecNone && !bytes.Equal(payload, data[headerSize:]) {
			t.Fatal("a plain object's payload is not the bytes after its header")
		}
		again := sealObject(k, typ, codec, payload)
		if got, err := openObject(k, again, typ); err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("re-sealed payload opened as %q (%v), want %q", got, err, payload)
		}
	})
}

// FuzzPack: parsePackEntries on a whole pack, then the frames and chunks its table
// names; fuzzBuild writes a pack of chunks and reads it back.
func FuzzPack(f *testing.F) {
	for _, s := range seeds(f) {
		for _, p := range s.packs {
			f.Add(p, s.mode)
		}
		f.Add(bytes.Join(s.chunks, []byte{0}), s.mode|fuzzBuild)
	}
	f.Add([]byte("\x01(\xb5/\xfd\xc0\x00\x00\x00\x00?\x00\x00\x00\x00\x0b\x00\x00a"+strings.Repeat("\x00", 32)+"\x08\x00\x00\x00\x15\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00"), byte(fuzzWrap))
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		if len(data) > fuzzMaxInput {
			t.Skip()
		}
		k, format := boxOf(mode), formatOf(mode)
		if mode&fuzzBuild != 0 {
			packRoundTrip(t, k, data, mode)
			return
		}
		pack := data
		if mode&fuzzWrap != 0 {
			pack = appendHeader(nil, k, TypePack, codecNone)
			if k == nil {
				pack = append(pack, data...)
			} else if len(data) > 0 {
				// frames | the table, sealed as the writer seals it
				cut := 1 + int(data[0])%len(data)
				pack = append(pack, data[1:cut]...)
				n := len(pack)
				pack = k.seal(pack, data[cut:], nil)
				pack = binary.LittleEndian.AppendUint32(pack, uint32(len(pack)-n))
			}
		}
		var (
			refs []BlobRef
			err  error
		)
		bounded(t, len(pack), func() int {
			refs, err = parsePackEntries(k, format, pack, DefaultPackSize)
			return 0
		})
		if err != nil {
			classified(t, err)
			return
		}
		framesEnd := framesEnd(k, format, pack, refs)
		for i, e := range refs {
			if int(e.Frame) < headerSize || e.FrameLen < 1 || int(e.Frame)+int(e.FrameLen) > framesEnd {
				t.Fatalf("entry %d %+v lies outside the frames (%d bytes)", i, e, framesEnd)
			}
		}
		// The table written again over the same frames reads back the same.
		p := &packWriter{buf: slices.Clone(pack[:framesEnd]), entries: refs}
		again, _, err := p.finish(k, format)
		if err != nil {
			t.Fatalf("re-writing the table: %v", err)
		}
		if refs2, err := parsePackEntries(k, format, again, DefaultPackSize); err != nil || !slices.Equal(refs, refs2) {
			t.Fatalf("re-written table: %v\n%+v\n%+v", err, refs, refs2)
		}
		if format >= formatHashedTables {
			// The chunks are named from the frames, or the frames refused cleanly.
			r := &Repository{box: k, cfg: Config{Format: format}}
			var (
				named []BlobRef
				lost  int
				err   error
			)
			bounded(t, len(pack), func() int {
				named, lost, err = r.nameChunks(pack, slices.Clone(refs))
				return 0
			})
			if err != nil {
				classified(t, err)
			}
			if len(named)+lost != len(refs) || (err == nil) != (lost == 0) {
				t.Fatalf("%d refs: %d named, %d lost (%v)", len(refs), len(named), lost, err)
			}
			for _, e := range named[:min(len(named), 64)] {
				raw, err := decodeFrame(k, pack[e.Frame:e.Frame+e.FrameLen], nil)
				if err != nil {
					t.Fatalf("a frame nameChunks decoded: %v", err)
				}
				if _, err := r.chunkOf(raw, e.ID, e.Offset, e.Raw); err != nil {
					t.Fatalf("a chunk nameChunks named: %v", err)
				}
			}
			return
		}
		// Reading the first chunks: the frame decodes or fails cleanly, the chunk is cut
		// out of it or refused.
		r := &Repository{box: k}
		type frame struct {
			raw []byte
			err error
		}
		frames := map[[2]uint32]frame{}
		for _, e := range refs[:min(len(refs), 64)] {
			fr, ok := frames[[2]uint32{e.Frame, e.FrameLen}]
			if !ok {
				if len(frames) >= 8 {
					break
				}
				bounded(t, int(e.FrameLen), func() int {
					fr.raw, fr.err = decodeFrame(k, pack[e.Frame:e.Frame+e.FrameLen], nil)
					return len(fr.raw)
				})
				frames[[2]uint32{e.Frame, e.FrameLen}] = fr
			}
			if fr.err != nil {
				classified(t, fr.err)
				continue
			}
			if data, err := r.chunkOf(fr.raw, e.ID, e.Offset, e.Raw); err != nil {
				classified(t, err)
			} else if len(data) != int(e.Raw) {
				t.Fatalf("chunk of %d bytes, entry says %d", len(data), e.Raw)
			}
		}
	})
}

// packRoundTrip writes chunks cut from data (at zero bytes; mode's high bits add one
// large enough for a frame of its own) into frames and a pack the way the
// repository does, then reads the pack's table, an index file of it and every chunk
// back.
func packRoundTrip(t *testing.T, k *box, data []byte, mode byte) {
	pieces := bytes.Split(data, []byte{0})
	if len(pieces) > 256 {
		pieces = pieces[:256]
	}
	if big := mode >> 3 & 0x7; big > 0 && len(data) > 0 {
		n := frameTarget + int(big)<<10
		pieces = append(pieces, bytes.Repeat(data, n/len(data)+1)[:n])
	}
	format := formatOf(mode)
	r := &Repository{box: k, cfg: Config{Format: format}}
	p := newPackWriter(64<<10, k)
	var fw frameWriter
	flush := func() {
		if len(fw.entries) > 0 {
			addFrame(p, &fw, k)
			fw = frameWriter{}
		}
	}
	seen := map[chunk.ID]bool{}
	var kept [][]byte // the pieces stored: like the writer, each chunk once
	for _, piece := range pieces {
		id := r.ChunkID(piece)
		if seen[id] {
			continue
		}
		seen[id] = true
		kept = append(kept, piece)
		if len(piece) >= frameTarget {
			flush()
		}
		fw.add(id, piece)
		if len(fw.raw) >= frameTarget {
			flush()
		}
	}
	flush()
	written := slices.Clone(p.entries)
	pack, name, err := p.finish(k, format)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := parsePackEntries(k, format, pack, DefaultPackSize)
	if err == nil && format >= formatHashedTables {
		refs, _, err = r.nameChunks(pack, refs)
	}
	if err != nil || !slices.Equal(refs, written) {
		t.Fatalf("a pack the writer made reads back as %d entries (%v), want %d", len(refs), err, len(written))
	}
	idx, err := encodeIndex(k, format, indexFile{name: refs})
	if err != nil {
		t.Fatal(err)
	}
	x, err := decodeIndex(k, format, idx)
	if err != nil || !slices.Equal(x[name], refs) || len(x) != 1 {
		t.Fatalf("index of the pack: %v", err)
	}
	for i, e := range refs {
		raw, err := decodeFrame(k, pack[e.Frame:e.Frame+e.FrameLen], nil)
		if err != nil {
			t.Fatalf("frame of chunk %d: %v", i, err)
		}
		if b, err := r.chunkOf(raw, e.ID, e.Offset, e.Raw); err != nil || !bytes.Equal(b, kept[i]) {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	// The pack's bytes live in the writer's region, emptied once the writer is
	// collected: it must outlive their last read.
	runtime.KeepAlive(p)
}

// FuzzFrame: decodeFrame on one stored frame; fuzzWrap stores the input as a frame.
func FuzzFrame(f *testing.F) {
	for _, s := range seeds(f) {
		for _, p := range s.packs {
			refs, err := parsePackEntries(boxOf(s.mode), formatOf(s.mode), p, DefaultPackSize)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(p[refs[0].Frame:refs[0].Frame+refs[0].FrameLen], s.mode)
		}
		f.Add(s.chunks[0], s.mode|fuzzWrap)
	}
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		if len(data) > fuzzMaxInput {
			t.Skip()
		}
		k := boxOf(mode)
		if mode&(fuzzWrap|fuzzBuild) != 0 {
			var fw frameWriter
			fw.add(chunk.ID{}, data)
			enc, _ := codecs()
			stored := fw.seal(nil, enc)
			if k != nil {
				stored = k.seal(nil, stored, nil)
			}
			raw, err := decodeFrame(k, stored, nil)
			if err != nil || !bytes.Equal(raw, data) {
				t.Fatalf("frame of %d bytes decoded to %d (%v)", len(data), len(raw), err)
			}
			return
		}
		var (
			raw []byte
			err error
		)
		bounded(t, len(data), func() int {
			raw, err = decodeFrame(k, data, nil)
			return len(raw)
		})
		if err != nil {
			classified(t, err)
		}
	})
}

// FuzzIndex: decodeIndex on an index file; fuzzBuild encodes an index made of the
// input.
func FuzzIndex(f *testing.F) {
	for _, s := range seeds(f) {
		for _, x := range s.indexes {
			f.Add(x, s.mode)
			if p, err := openObject(boxOf(s.mode), x, TypeIndex); err == nil {
				f.Add(p, s.mode|fuzzWrap)
			}
		}
		f.Add(s.packs[0][headerSize:], s.mode|fuzzBuild)
	}
	f.Add([]byte("\xff\xff\xff\xff"), byte(fuzzWrap))
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		if len(data) > fuzzMaxInput {
			t.Skip()
		}
		k, format := boxOf(mode), formatOf(mode)
		if mode&fuzzBuild != 0 {
			want := indexFrom(data, format)
			enc, err := encodeIndex(k, format, want)
			if err != nil {
				t.Fatalf("encoding an index: %v", err)
			}
			got, err := decodeIndex(k, format, enc)
			if err != nil || !sameIndex(got, want) {
				t.Fatalf("index round trip: %v\n%v\n%v", err, want, got)
			}
			return
		}
		obj := data
		if mode&fuzzWrap != 0 {
			obj = sealObject(k, TypeIndex, codecZstd, data)
		}
		var (
			x   indexFile
			err error
		)
		bounded(t, len(data), func() int {
			x, err = decodeIndex(k, format, obj)
			return len(x) * 64
		})
		if err != nil {
			classified(t, err)
			return
		}
		for p, refs := range x {
			for _, e := range refs {
				if !refFits(e.FrameLen, e.Offset, e.Raw) {
					t.Fatalf("pack %s: entry %+v out of range", p.Short(), e)
				}
			}
		}
		enc, err := encodeIndex(k, format, x)
		if err != nil {
			t.Fatalf("re-encoding a decoded index: %v", err)
		}
		again, err := decodeIndex(k, format, enc)
		if err != nil || !sameIndex(again, x) {
			t.Fatalf("re-encoded index: %v\n%v\n%v", err, x, again)
		}
	})
}

// indexFrom makes an index file of data: 48-byte entries, spread over a few packs. In
// format 2 the ids are cut to 128 bits, and the entries ordered by place and kept
// only where they do not overlap the ones before them, as in any pack.
func indexFrom(data []byte, format int) indexFile {
	f := indexFile{}
	for len(data) >= packEntrySize+1 {
		e := readRef(data[1:])
		if e.Offset &= 1<<metaOffsetBits - 1; e.Offset == 0 {
			e.FrameLen &= 1<<metaFirstBits - 1
			e.Raw &= 1<<metaFirstBits - 1
		} else {
			e.FrameLen &= 1<<metaFrameBits - 1
			e.Raw &= 1<<metaRawBits - 1
		}
		p := ObjectID{data[0] % 3}
		f[p] = append(f[p], e)
		data = data[packEntrySize+1:]
	}
	if len(data) > 0 {
		f[ObjectID{data[0]}] = nil // a pack without entries
	}
	if format >= formatNarrow {
		for p, refs := range f {
			f[p] = placeable(refs)
		}
	}
	return f
}

// placeable orders refs by place and drops those a pack could not hold beside the
// ones kept (overlapping frames or chunks), with ids cut to 128 bits.
func placeable(refs []BlobRef) []BlobRef {
	refs = sortedRefs(refs)
	var out []BlobRef
	end, at := uint64(0), uint64(0)
	var last *BlobRef
	for _, r := range refs {
		r.ID = r.ID.Narrow()
		if r.FrameLen < 1 || int(r.Frame) < headerSize || uint64(r.Frame)+uint64(r.FrameLen) > math.MaxUint32 {
			continue
		}
		switch {
		case last != nil && r.Frame == last.Frame:
			if r.FrameLen != last.FrameLen || uint64(r.Offset) < at {
				continue
			}
		case uint64(r.Frame) < end:
			continue
		}
		out = append(out, r)
		last = &out[len(out)-1]
		end, at = uint64(r.Frame)+uint64(r.FrameLen), uint64(r.Offset)+uint64(r.Raw)
	}
	return out
}

func sameIndex(a, b indexFile) bool {
	if len(a) != len(b) {
		return false
	}
	for p, refs := range a {
		other, ok := b[p]
		if !ok || !slices.Equal(refs, other) {
			return false
		}
	}
	return true
}

// FuzzSnapshot: decodeSnapshot on a manifest; fuzzBuild encodes a manifest made of
// the input.
func FuzzSnapshot(f *testing.F) {
	for _, s := range seeds(f) {
		for _, x := range s.snapshots {
			f.Add(x, s.mode)
			if p, err := openObject(boxOf(s.mode), x, TypeSnapshot); err == nil {
				f.Add(p, s.mode|fuzzWrap)
			}
		}
		f.Add([]byte("11.2.0\x00nightly\x00assets\x00formats"), s.mode|fuzzBuild)
	}
	f.Add([]byte(`{"format":2,"id":"1_1"}`), byte(fuzzWrap))
	f.Add([]byte(`{"id":"1_1","time":"2024-01-01T00:00:00+23:59","collections":[{"list":"00"}]}`), byte(fuzzWrap))
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		if len(data) > fuzzMaxInput {
			t.Skip()
		}
		k := boxOf(mode)
		if mode&fuzzBuild != 0 {
			want := snapshotFrom(data)
			obj, err := encodeSnapshot(k, want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeSnapshot(k, obj)
			if err != nil {
				t.Fatalf("a snapshot the writer made does not decode: %v", err)
			}
			sameJSON(t, want, got)
			return
		}
		obj := data
		if mode&fuzzWrap != 0 {
			obj = sealObject(k, TypeSnapshot, codecZstd, data)
		}
		var (
			sn  *Snapshot
			err error
		)
		bounded(t, len(data), func() int {
			sn, err = decodeSnapshot(k, obj)
			return 0
		})
		if err != nil {
			classified(t, err)
			return
		}
		if sn.Format > SnapshotFormat || ValidSnapshotID(sn.ID) != nil {
			t.Fatalf("accepted format %d, id %q", sn.Format, sn.ID)
		}
		again, err := encodeSnapshot(k, sn)
		if err != nil {
			t.Fatalf("a snapshot that decodes does not encode again: %v", err)
		}
		sn2, err := decodeSnapshot(k, again)
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		sameJSON(t, sn, sn2)
	})
}

// snapshotFrom makes a manifest of the zero-separated fields of data.
func snapshotFrom(data []byte) *Snapshot {
	fields := strings.Split(strings.ToValidUTF8(string(data), "?"), "\x00")
	at := func(i int) string { return fields[i%len(fields)] }
	var n uint64
	if len(data) >= 8 {
		n = binary.LittleEndian.Uint64(data)
	}
	when := time.UnixMilli(int64(n % (1 << 45))).UTC()
	sn := &Snapshot{
		Format: SnapshotFormat, ID: SnapshotID(at(0), when), Version: at(0), Timestamp: when.UnixMilli(), Time: when,
		DeviceName: at(1), Platform: "LINUX", Parent: at(2), Tags: fields[1:], Kind: KindDatabase, Source: at(3),
		Schema: json.RawMessage(`{"migration":0,"semantic":"UNKNOWN"}`),
		Totals: Totals{RawBytes: int64(n >> 1), Records: int64(len(fields))},
	}
	for i, name := range fields {
		sn.Collections = append(sn.Collections, Collection{Name: name, Records: int64(i), Bytes: int64(n) >> i, List: chunk.Hash([]byte(name)), Count: i})
	}
	return sn
}

// sameJSON fails unless a and b encode to the same JSON.
func sameJSON(t *testing.T, a, b any) {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ja, jb) {
		t.Fatalf("decoded differently:\n%s\n%s", ja, jb)
	}
}

// FuzzConfig: decodeConfig on a config object; fuzzBuild encodes a config made of the
// input.
func FuzzConfig(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s.config, s.mode)
		if p, err := openObject(boxOf(s.mode), s.config, TypeConfig); err == nil {
			f.Add(p, s.mode|fuzzWrap)
		}
		f.Add(s.config[headerSize:], s.mode|fuzzBuild)
	}
	f.Add([]byte(`{"format":2}`), byte(fuzzWrap))
	f.Fuzz(func(t *testing.T, data []byte, mode byte) {
		if len(data) > fuzzMaxInput {
			t.Skip()
		}
		k := boxOf(mode)
		if mode&fuzzBuild != 0 {
			c := configFrom(data)
			if c.validate() != nil {
				return
			}
			obj, err := encodeConfig(k, c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeConfig(k, obj)
			if err != nil {
				t.Fatalf("a config the writer made does not decode: %v", err)
			}
			sameJSON(t, c, got)
			return
		}
		obj := data
		if mode&fuzzWrap != 0 {
			obj = sealObject(k, TypeConfig, codecNone, data)
		}
		var (
			c   Config
			err error
		)
		bounded(t, len(data), func() int {
			c, err = decodeConfig(k, obj)
			return 0
		})
		if err != nil {
			classified(t, err)
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("accepted a config that does not validate: %v", err)
		}
		again, err := encodeConfig(k, c)
		if err != nil {
			t.Fatalf("a config that decodes does not encode again: %v", err)
		}
		c2, err := decodeConfig(k, again)
		if err != nil {
			t.Fatalf("re-encoded config does not decode: %v", err)
		}
		sameJSON(t, c, c2)
	})
}

// configFrom makes a config from data: the JSON of one when it is one, else fields
// taken from its bytes.
func configFrom(data []byte) Config {
	var c Config
	if json.Unmarshal(data, &c) == nil {
		return c
	}
	b := make([]byte, 32)
	copy(b, data)
	return Config{
		Format: FormatVersion, ID: fmt.Sprintf("%x", b[:16]), Created: time.UnixMilli(int64(binary.LittleEndian.Uint32(b[16:]))).UTC(),
		Chunking: chunk.Params{Polynomial: 0x3DA3358B4DC173, Seed: binary.LittleEndian.Uint64(b[20:]),
			Average: 64 << (b[28] % 8), Max: 64 << (10 + b[29]%8)},
		Compression: "zstd", Encryption: EncryptionNone, PackSize: 64<<10 + int(binary.LittleEndian.Uint16(b[30:]))<<8,
	}
}

// FuzzList: LoadList on a list chunk and, for a delta, the base it names; fuzzBuild
// saves two lists made of the inputs and checks a delta between them.
func FuzzList(f *testing.F) {
	for _, s := range seeds(f) {
		for _, l := range s.lists {
			f.Add(l[0], l[1], s.mode)
		}
		f.Add([]byte("abcabd"), []byte("abcxabc"), s.mode|fuzzBuild)
	}
	f.Add([]byte("D\x01"+strings.Repeat("\x00", 32)+"\x01\x00\x00\x00\xff\xff\xff\xff\x01\x00\x00\x00\x00\x00\x00\x00"), []byte("F\x00\x00\x00\x00\x00"), byte(0))
	f.Fuzz(func(t *testing.T, list, base []byte, mode byte) {
		if len(list)+len(base) > fuzzMaxInput {
			t.Skip()
		}
		ctx := context.Background()
		k, format := boxOf(mode), formatOf(mode)
		w := idSize(format)
		if mode&fuzzBuild != 0 {
			listRoundTrip(t, k, format, idsOf(base, w), idsOf(list, w))
			return
		}
		r := newRepository(mem.New(), Config{Format: format, PackSize: 64 << 10})
		r.box = k
		id := r.ChunkID(list)
		r.lists.putRaw(id, list)
		var baseID chunk.ID
		if len(list) >= 2+w && list[0] == listDelta {
			baseID = readID(list[2:], w)
			r.lists.putRaw(baseID, base)
		}
		var (
			l   List
			err error
		)
		bounded(t, len(list)+len(base), func() int {
			l, err = r.LoadList(ctx, id, nil)
			return 32 * len(l.Chunks)
		})
		if err != nil {
			classified(t, err, ErrNotFound)
			return
		}
		if l.ID != id {
			t.Fatalf("list %s came back as %s", id.Short(), l.ID.Short())
		}
		again := encodeFullList(l.Chunks, w)
		if list[0] == listFull {
			if len(list) != 6+w*len(l.Chunks) {
				t.Fatalf("full list of %d bytes has %d chunks", len(list), len(l.Chunks))
			}
		} else {
			b, ok := r.lists.get(baseID)
			if !ok || b.Depth != l.Depth-1 || l.Depth > MaxListDepth {
				t.Fatalf("delta of depth %d resolved over base %+v (%v)", l.Depth, b.Depth, ok)
			}
			again = encodeDeltaList(baseID, l.Depth, diffLists(b.Chunks, l.Chunks), w)
		}
		r2 := newRepository(mem.New(), Config{Format: format, PackSize: 64 << 10})
		r2.box = k
		id2 := r2.ChunkID(again)
		r2.lists.putRaw(id2, again)
		r2.lists.putRaw(baseID, base)
		l2, err := r2.LoadList(ctx, id2, nil)
		if err != nil || !slices.Equal(l.Chunks, l2.Chunks) {
			t.Fatalf("re-encoded list: %v", err)
		}
	})
}

// idsOf makes chunk ids of w bytes of b, one id per byte, so that ids repeat.
func idsOf(b []byte, w int) []chunk.ID {
	ids := make([]chunk.ID, len(b))
	for i, c := range b {
		ids[i][0], ids[i][w-1] = c, c^0x5a
	}
	return ids
}

// listRoundTrip saves base and next through the repository's writer (next as a delta
// when the writer picks one) and reads them back from packs; then checks that a
// delta of next against base, always written, resolves to next.
func listRoundTrip(t *testing.T, k *box, format int, base, next []chunk.ID) {
	ctx := context.Background()
	w := idSize(format)
	r := newRepository(mem.New(), Config{Format: format, PackSize: 64 << 10})
	r.box = k
	bl, err := r.SaveList(ctx, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	nl, err := r.SaveList(ctx, next, &bl)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []List{bl, nl} {
		got, err := r.LoadList(ctx, want.ID, nil)
		if err != nil || !slices.Equal(got.Chunks, want.Chunks) || got.Depth != want.Depth {
			t.Fatalf("list %s: %v, depth %d want %d", want.ID.Short(), err, got.Depth, want.Depth)
		}
	}
	delta := encodeDeltaList(bl.ID, 1, diffLists(base, next), w)
	r2 := newRepository(mem.New(), Config{Format: format, PackSize: 64 << 10})
	r2.box = k
	r2.lists.putRaw(bl.ID, encodeFullList(base, w))
	id := r2.ChunkID(delta)
	r2.lists.putRaw(id, delta)
	got, err := r2.LoadList(ctx, id, nil)
	if err != nil || !slices.Equal(got.Chunks, next) {
		t.Fatalf("delta of %d ids against %d resolved to %d ids (%v)", len(next), len(base), len(got.Chunks), err)
	}
}

// fuzzSeeds are real objects of one repository.
type fuzzSeeds struct {
	mode      byte // fuzzSealed for the encrypted repository, fuzzNarrow for format 2, fuzzHashed for 3
	config    []byte
	packs     [][]byte
	indexes   [][]byte
	snapshots [][]byte
	lists     [][2][]byte // a list chunk and its base (nil for a full list)
	chunks    [][]byte
}

var seedsOnce = sync.OnceValues(func() ([]fuzzSeeds, error) {
	var out []fuzzSeeds
	for _, format := range []int{1, 2, 3} {
		for _, k := range []*box{nil, fuzzKey()} {
			s, err := writeSeeds(k, format)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
})

func seeds(tb testing.TB) []fuzzSeeds {
	s, err := seedsOnce()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// writeSeeds backs a small generated database up twice (the second time after a
// change, so the second snapshot's lists are deltas) into a fresh repository, and
// returns what the repository stored.
func writeSeeds(k *box, format int) (fuzzSeeds, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "cairn-fuzz-seeds-")
	if err != nil {
		return fuzzSeeds{}, err
	}
	defer os.RemoveAll(dir)
	if _, err := gendb.Generate(dir, gendb.Options{Size: 4 << 10, Seed: 1}); err != nil {
		return fuzzSeeds{}, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	slices.Sort(files)
	when := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	cfg, err := NewConfig(when)
	if err != nil {
		return fuzzSeeds{}, err
	}
	cfg.PackSize, cfg.Format = 64<<10, format
	be := mem.New()
	var r *Repository
	if k == nil {
		if r, err = Init(ctx, be, cfg); err != nil {
			return fuzzSeeds{}, err
		}
	} else {
		cfg.Encryption = EncryptionXChaCha
		data, err := encodeConfig(k, cfg)
		if err != nil {
			return fuzzSeeds{}, err
		}
		if err := be.Save(ctx, transport.Handle{Kind: transport.Config}, data); err != nil {
			return fuzzSeeds{}, err
		}
		r = newRepository(be, cfg)
		r.box = k
	}
	s := fuzzSeeds{}
	if k != nil {
		s.mode = fuzzSealed
	}
	switch {
	case format >= formatHashedTables:
		s.mode |= fuzzHashed
	case format >= formatNarrow:
		s.mode |= fuzzNarrow
	}
	bases := map[string]*List{}
	var parent string
	for round := range 2 {
		sn := &Snapshot{ID: SnapshotID("11.2.0", when), Version: "11.2.0", Timestamp: when.UnixMilli(), Time: when,
			DeviceName: "seed-box", Platform: "LINUX", Parent: parent, Tags: []string{"nightly"}, Kind: KindDatabase,
			Source: dir, Schema: json.RawMessage(`{"migration":0,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}`),
			Meta: json.RawMessage(`{"version":"11.2.0"}`)}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				return fuzzSeeds{}, err
			}
			if round == 1 {
				b = append(b, []byte(`{"id":"zz-added-later","name":"a record of the second backup"}`+"\n")...)
			}
			var ids []chunk.ID
			c := chunk.New(bytes.NewReader(b), cfg.Chunking)
			for {
				ch, err := c.Next()
				if err != nil {
					break
				}
				id := r.ChunkID(ch.Data)
				if _, err := r.SaveChunk(ctx, id, ch.Data); err != nil {
					return fuzzSeeds{}, err
				}
				ids = append(ids, id)
				if len(s.chunks) < 4 {
					s.chunks = append(s.chunks, bytes.Clone(ch.Data))
				}
			}
			name := strings.TrimSuffix(filepath.Base(file), ".jsonl")
			l, err := r.SaveList(ctx, ids, bases[name])
			if err != nil {
				return fuzzSeeds{}, err
			}
			bases[name] = &l
			sn.Collections = append(sn.Collections, Collection{Name: name, Records: int64(bytes.Count(b, []byte("\n"))), Bytes: int64(len(b)), List: l.ID, Count: len(ids)})
			sn.Totals.RawBytes += int64(len(b))
		}
		if err := r.Flush(ctx); err != nil {
			return fuzzSeeds{}, err
		}
		if err := r.SaveSnapshot(ctx, sn); err != nil {
			return fuzzSeeds{}, err
		}
		parent = sn.ID
		when = when.Add(24 * time.Hour)
	}
	load := func(kind transport.Kind) ([][]byte, error) {
		var out [][]byte
		err := be.List(ctx, kind, func(fi transport.FileInfo) error {
			b, err := transport.LoadAll(ctx, be, transport.Handle{Kind: kind, Name: fi.Name})
			out = append(out, b)
			return err
		})
		slices.SortFunc(out, func(a, b []byte) int { return len(a) - len(b) })
		return out, err
	}
	if s.config, err = transport.LoadAll(ctx, be, transport.Handle{Kind: transport.Config}); err != nil {
		return fuzzSeeds{}, err
	}
	if s.packs, err = load(transport.Data); err != nil {
		return fuzzSeeds{}, err
	}
	if s.indexes, err = load(transport.Index); err != nil {
		return fuzzSeeds{}, err
	}
	if s.snapshots, err = load(transport.Snapshots); err != nil {
		return fuzzSeeds{}, err
	}
	// One full list and one delta with its base, as stored.
	for _, name := range []string{"assets", "formats"} {
		l := bases[name]
		if l == nil {
			continue
		}
		raw, err := r.LoadChunk(ctx, l.ID, nil)
		if err != nil {
			return fuzzSeeds{}, err
		}
		var base []byte
		if raw[0] == listDelta {
			baseID := readID(raw[2:], idSize(format))
			if base, err = r.LoadChunk(ctx, baseID, nil); err != nil {
				return fuzzSeeds{}, err
			}
		}
		s.lists = append(s.lists, [2][]byte{bytes.Clone(raw), base})
	}
	if len(s.packs) == 0 || len(s.indexes) == 0 || len(s.snapshots) < 2 || len(s.lists) == 0 {
		return fuzzSeeds{}, fmt.Errorf("seed repository is missing objects: %d packs, %d indexes, %d snapshots, %d lists",
			len(s.packs), len(s.indexes), len(s.snapshots), len(s.lists))
	}
	return s, nil
}

// TestFuzzCorpus checks that the committed seeds still decode (they are real objects;
// a format change makes them stale) and, with -fuzz-corpus, writes them afresh.
func TestFuzzCorpus(t *testing.T) {
	if *writeCorpus {
		writeCorpusFiles(t)
	}
	check := map[string]func(data []byte, k *box, format int) error{
		"FuzzEnvelope": func(data []byte, k *box, _ int) error {
			_, err := checkHeader(k, data, ObjectType(data[len(magic)+1]))
			return err
		},
		"FuzzPack": func(data []byte, k *box, format int) error {
			_, err := parsePackEntries(k, format, data, DefaultPackSize)
			return err
		},
		"FuzzIndex":    func(data []byte, k *box, format int) error { _, err := decodeIndex(k, format, data); return err },
		"FuzzSnapshot": func(data []byte, k *box, _ int) error { _, err := decodeSnapshot(k, data); return err },
		"FuzzConfig":   func(data []byte, k *box, _ int) error { _, err := decodeConfig(k, data); return err },
		"FuzzFrame":    func(data []byte, k *box, _ int) error { _, err := decodeFrame(k, data, nil); return err },
	}
	for target, decode := range check {
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", target, "seed-*"))
		if len(files) == 0 {
			t.Errorf("no committed seeds for %s", target)
		}
		for _, file := range files {
			vals := readCorpusFile(t, file)
			data, mode := vals[0].([]byte), vals[len(vals)-1].(byte)
			if err := decode(data, boxOf(mode), formatOf(mode)); err != nil {
				t.Errorf("%s: %v (the format changed? regenerate: go test ./repo -run TestFuzzCorpus -fuzz-corpus)", file, err)
			}
		}
	}
}

// writeCorpusFiles replaces the committed seed-* files with objects of a fresh
// repository.
func writeCorpusFiles(t *testing.T) {
	all := seeds(t)
	files := map[string][][]any{}
	for _, s := range all {
		tag := "plain"
		if s.mode&fuzzSealed != 0 {
			tag = "sealed"
		}
		if s.mode&fuzzNarrow != 0 {
			tag += "-v2"
		}
		if s.mode&fuzzHashed != 0 {
			tag += "-v3"
		}
		add := func(target, name string, vals ...any) {
			files[target+"/seed-"+tag+"-"+name] = append(files[target+"/seed-"+tag+"-"+name], vals)
		}
		add("FuzzEnvelope", "config", s.config, byte(TypeConfig), s.mode)
		add("FuzzEnvelope", "snapshot", s.snapshots[0], byte(TypeSnapshot), s.mode)
		add("FuzzConfig", "config", s.config, s.mode)
		add("FuzzPack", "pack", s.packs[0], s.mode)
		add("FuzzIndex", "index", s.indexes[0], s.mode)
		for i, x := range s.snapshots {
			add("FuzzSnapshot", fmt.Sprintf("snapshot%d", i), x, s.mode)
		}
		refs, err := parsePackEntries(boxOf(s.mode), formatOf(s.mode), s.packs[0], DefaultPackSize)
		if err != nil {
			t.Fatal(err)
		}
		add("FuzzFrame", "frame", s.packs[0][refs[0].Frame:refs[0].Frame+refs[0].FrameLen], s.mode)
		for i, l := range s.lists {
			add("FuzzList", fmt.Sprintf("list%d", i), l[0], l[1], s.mode)
		}
	}
	for _, target := range []string{"FuzzEnvelope", "FuzzConfig", "FuzzPack", "FuzzIndex", "FuzzSnapshot", "FuzzFrame", "FuzzList"} {
		dir := filepath.Join("testdata", "fuzz", target)
		old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
		for _, f := range old {
			os.Remove(f)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, vals := range files {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, v := range vals[0] {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", v)
			case byte:
				fmt.Fprintf(&b, "byte(%q)\n", v)
			}
		}
		if err := os.WriteFile(filepath.Join("testdata", "fuzz", name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readCorpusFile reads the []byte and byte values of a corpus file.
func readCorpusFile(t *testing.T, file string) []any {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var vals []any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		switch {
		case strings.HasPrefix(line, "[]byte(") && strings.HasSuffix(line, ")"):
			s, err := strconv.Unquote(line[len("[]byte(") : len(line)-1])
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			vals = append(vals, []byte(s))
		case strings.HasPrefix(line, "byte(") && strings.HasSuffix(line, ")"):
			s, err := strconv.Unquote(line[len("byte(") : len(line)-1])
			c, _ := utf8.DecodeRuneInString(s)
			if err != nil || c > 0xff {
				t.Fatalf("%s: bad byte %s", file, line)
			}
			vals = append(vals, byte(c))
		default:
			t.Fatalf("%s: unexpected line %q", file, line)
		}
	}
	return vals
}

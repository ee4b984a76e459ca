package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/transport"
)

// fullRepo is an encrypted repository holding one object of every kind: its key slot
// and config, a pack and its index file, a manifest, and a backup's lock.
func fullRepo(t *testing.T) transport.Backend {
	t.Helper()
	ctx := context.Background()
	r, be := encryptedRepo(t, "pw")
	data := []byte("a snippet")
	if _, err := r.SaveChunk(ctx, r.ChunkID(data), data); err != nil {
		t.Fatal(err)
	}
	l, err := r.SaveList(ctx, []chunk.ID{r.ChunkID(data)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sn := &Snapshot{ID: "1.0.0_1700000000000", Time: time.Unix(1700000000, 0), Kind: KindDatabase,
		Collections: []Collection{{Name: "assets", List: l.ID, Count: 1}}}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, be, WithPassword("pw", KDFParams{}), WithLock("backup")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []transport.Kind{transport.Keys, transport.Index, transport.Snapshots, transport.Locks} {
		if n := len(objectNames(t, be, k)); n != 1 {
			t.Fatalf("%d objects of kind %s, want 1", n, k)
		}
	}
	return be
}

// TestEndlessBodies: an object whose body never ends is read up to its kind's bound
// and no further, and the operation fails saying it was too large; one whose body
// announces more than the bound is not read at all.
func TestEndlessBodies(t *testing.T) {
	ctx := context.Background()
	be := fullRepo(t)
	open := func(be transport.Backend, opts ...Option) (*Repository, error) {
		return Open(ctx, be, append(opts, WithPassword("pw", KDFParams{}))...)
	}
	for _, tc := range []struct {
		kind  transport.Kind
		limit int64  // the bound reads of the kind are held to
		opt   Option // lowers the bound where the default is too large to send in a test
		op    func(be transport.Backend, opt Option) error
	}{
		{transport.Config, maxConfigBytes, nil, func(be transport.Backend, opt Option) error {
			_, err := open(be)
			return err
		}},
		{transport.Keys, maxKeySlotBytes, nil, func(be transport.Backend, opt Option) error {
			_, err := open(be)
			return err
		}},
		{transport.Index, 1 << 20, withReadLimit(TypeIndex, 1<<20), func(be transport.Backend, opt Option) error {
			_, err := open(be, opt)
			return err
		}},
		{transport.Snapshots, maxSnapshotBytes, nil, func(be transport.Backend, opt Option) error {
			r, err := open(be)
			if err == nil {
				_, err = r.Snapshots(ctx)
			}
			return err
		}},
		{transport.Locks, 1 << 20, withReadLimit(TypeLock, 1<<20), func(be transport.Backend, opt Option) error {
			r, err := open(be, opt)
			if err == nil {
				_, err = r.PendingPacks(ctx)
			}
			return err
		}},
	} {
		h := transport.Handle{Kind: tc.kind}
		if tc.kind != transport.Config {
			h.Name = objectNames(t, be, tc.kind)[0]
		}
		for _, announce := range []bool{false, true} {
			body := &endless{}
			s := newHostile(be)
			s.serve(h, func() io.Reader {
				if announce {
					return announced{body, 1 << 40}
				}
				return body
			})
			err := tc.op(s, tc.opt)
			if !errors.Is(err, transport.ErrTooLarge) {
				t.Errorf("%s without end (announced %v): %v after %d bytes, want ErrTooLarge", tc.kind, announce, err, body.read)
				continue
			}
			if want := map[bool]int64{false: tc.limit + 1, true: 0}[announce]; body.read > want {
				t.Errorf("%s without end (announced %v): read %d bytes, more than %d", tc.kind, announce, body.read, want)
			}
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("%s too large: %v does not say damaged", tc.kind, err)
			}
		}
	}
}

// rleBomb is a zstd frame of n bytes of 'x', in blocks that hold 128 KiB each in 4
// bytes; with fcs its header declares the size, as the encoder's do.
func rleBomb(n int, fcs bool) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38} // magic, no size, a 128 KiB window
	if fcs {
		b[4] = 0xc0 // an 8-byte frame content size
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	}
	for left := n; left > 0; left -= 128 << 10 {
		size := min(left, 128<<10)
		bh := size<<3 | 1<<1 // an RLE block
		if left == size {
			bh |= 1 // the last
		}
		b = append(b, byte(bh), byte(bh>>8), byte(bh>>16), 'x')
	}
	return b
}

// TestZstdBombs: in a plain repository, where no key guards what is stored, a manifest
// or a pack frame whose zstd stream would decompress to 64 MiB is refused before
// anything is allocated for it.
func TestZstdBombs(t *testing.T) {
	ctx := context.Background()
	const bombSize = 64 << 20
	for _, fcs := range []bool{false, true} {
		bomb := rleBomb(bombSize, fcs)
		if size, err := zstdSize(bomb); err != nil || size != bombSize {
			t.Fatalf("bomb of %d bytes: %d, %v", bombSize, size, err)
		}
		_, be := testRepoOf(t, 1) // the pack and index below are written in format 1

		// A manifest.
		obj := append(appendHeader(nil, nil, TypeSnapshot, codecZstd), bomb...)
		if err := be.Save(ctx, transport.Handle{Kind: transport.Snapshots, Name: objectID(obj).String()}, obj); err != nil {
			t.Fatal(err)
		}
		// A pack of one frame, and an index file naming a chunk in it.
		pack := appendHeader(nil, nil, TypePack, codecNone)
		frame := append([]byte{codecZstd}, bomb...)
		ref := BlobRef{ID: chunk.Hash([]byte("x")), Frame: uint32(len(pack)), FrameLen: uint32(len(frame)), Raw: 1}
		pack = appendRef(append(pack, frame...), ref)
		pack = binary.LittleEndian.AppendUint32(pack, 1)
		name := objectID(pack)
		if err := be.Save(ctx, transport.Handle{Kind: transport.Data, Name: name.String()}, pack); err != nil {
			t.Fatal(err)
		}
		idx, err := encodeIndex(nil, 1, indexFile{name: {ref}})
		if err != nil {
			t.Fatal(err)
		}
		if err := be.Save(ctx, transport.Handle{Kind: transport.Index, Name: objectID(idx).String()}, idx); err != nil {
			t.Fatal(err)
		}
		r, err := Open(ctx, be)
		if err != nil {
			t.Fatal(err)
		}
		for what, read := range map[string]func() error{
			"manifest": func() error { _, err := r.Snapshots(ctx); return err },
			"chunk":    func() error { _, err := r.LoadChunk(ctx, ref.ID, nil); return err },
			"chunks": func() error {
				return r.LoadChunks(ctx, []chunk.ID{ref.ID}, func(int, []byte) error { return nil })
			},
		} {
			before := allocated()
			err := read()
			if got := allocated() - before; got > 8<<20 {
				t.Errorf("%s bomb (declared size %v): allocated %d MiB", what, fcs, got>>20)
			}
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("%s bomb (declared size %v): %v, want ErrDamaged", what, fcs, err)
			}
		}
	}
}

// TestZstdWithinBounds: what cairn writes decodes, up to the bounds.
func TestZstdWithinBounds(t *testing.T) {
	enc, _ := codecs()
	for _, n := range []int{0, 1, 64 << 10, 1 << 20} {
		data := bytes.Repeat([]byte("snippet "), n/8)
		got, err := decodeZstd(enc.EncodeAll(data, nil), nil, int64(len(data)))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: %v", len(data), err)
		}
		if len(data) > 0 {
			if _, err := decodeZstd(enc.EncodeAll(data, nil), nil, int64(len(data)-1)); !errors.Is(err, ErrDamaged) {
				t.Fatalf("%d bytes under a bound of one less: %v", len(data), err)
			}
		}
	}
}

// TestSplitIndex: no index file names more than the bound, and together they name
// every chunk once.
func TestSplitIndex(t *testing.T) {
	f := indexFile{}
	for p := range 20 {
		var refs []BlobRef
		for c := range 1 + p*3 {
			refs = append(refs, BlobRef{ID: chunk.Hash([]byte{byte(p), byte(c)}), Frame: uint32(headerSize), FrameLen: 1})
		}
		f[ObjectID(chunk.Hash([]byte{byte(p)}))] = refs
	}
	for _, limit := range []int{1, 7, 40, 10000} {
		got := indexFile{}
		for _, part := range splitIndex(f, limit) {
			n := 0
			for p, refs := range part {
				n += len(refs)
				got[p] = append(got[p], refs...)
			}
			if n > limit || n == 0 {
				t.Fatalf("limit %d: a file of %d entries", limit, n)
			}
		}
		if len(got) != len(f) {
			t.Fatalf("limit %d: %d packs, want %d", limit, len(got), len(f))
		}
		for p, refs := range f {
			if !slices.Equal(got[p], refs) {
				t.Fatalf("limit %d: pack %s has %d entries, want %d", limit, p.Short(), len(got[p]), len(refs))
			}
		}
	}
}

package repo

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"cairn/transport"
)

// indexedRepo makes an encrypted repository with n index files (a flush each) and
// returns it with its backend.
func indexedRepo(t *testing.T, n int) (*Repository, transport.Backend) {
	t.Helper()
	ctx := context.Background()
	r, be := encryptedRepo(t, "pw")
	for f := range n {
		for i := range 50 {
			data := fmt.Appendf(nil, "file %d record %d", f, i)
			if _, err := r.SaveChunk(ctx, r.ChunkID(data), data); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return r, be
}

func indexBytes(t *testing.T, be transport.Backend) (files int, size int64) {
	t.Helper()
	err := be.List(context.Background(), transport.Index, func(fi transport.FileInfo) error {
		files++
		size += fi.Size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, size
}

// TestOpenReadsEachIndexFileOnce: the index files Open reads while it derives the key
// are the ones it loads (each read once), and they count as bytes read.
func TestOpenReadsEachIndexFileOnce(t *testing.T) {
	ctx := context.Background()
	_, be := indexedRepo(t, 5)
	files, size := indexBytes(t, be)
	if files != 5 {
		t.Fatalf("%d index files, want 5", files)
	}
	r, err := Open(ctx, be, WithPassword("pw", KDFParams{}))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Index().Len(); got != 250 {
		t.Fatalf("index has %d chunks, want 250", got)
	}
	if got := r.BytesRead(); got != size {
		t.Fatalf("Open read %d bytes, want the index files' %d, each once", got, size)
	}
}

// TestIndexPrefetchIsAHint: bytes read before the lock are used only for the files
// still listed once it is held (a prune may have replaced the others meanwhile), files
// added meanwhile are read, and every file is still opened: bytes damaged between
// the read and the use fail the load.
func TestIndexPrefetchIsAHint(t *testing.T) {
	ctx := context.Background()
	r, be := indexedRepo(t, 3)
	pre := prefetchIndex(ctx, be, r.limits.of(TypeIndex))
	read := pre.wait()
	if len(read) != 3 {
		t.Fatalf("prefetched %d files, want 3", len(read))
	}
	names, err := r.IndexFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One file goes, another comes.
	if err := be.Remove(ctx, transport.Handle{Kind: transport.Index, Name: names[0]}); err != nil {
		t.Fatal(err)
	}
	data := []byte("a chunk saved after the prefetch")
	id := r.ChunkID(data)
	if _, err := r.SaveChunk(ctx, id, data); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	fresh, err := Open(ctx, be, WithPassword("pw", KDFParams{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.loadIndexFrom(ctx, read); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Index().Len(), fresh.Index().Len(); got != want || got != 101 {
		t.Fatalf("index from the prefetch has %d chunks, loaded afresh %d, want 101", got, want)
	}
	if _, ok := r.Index().Lookup(id); !ok {
		t.Fatal("the chunk indexed after the prefetch is missing")
	}
	if len(r.loadedIndex) != 3 {
		t.Fatalf("loaded %d index files, want 3", len(r.loadedIndex))
	}

	// Damaged prefetched bytes are opened like any others.
	read = prefetchIndex(ctx, be, r.limits.of(TypeIndex)).wait()
	for name, f := range read {
		b := append([]byte(nil), f.data...)
		b[len(b)-1] ^= 1
		read[name] = prefetched{data: b}
		break
	}
	if err := r.loadIndexFrom(ctx, read); !errors.Is(err, ErrDamaged) {
		t.Fatalf("loading damaged prefetched bytes: %v, want ErrDamaged", err)
	}
}

package repo

import (
	"bytes"
	"context"
	"testing"
)

// TestOwnFrameNotKept: a chunk of the frame target or more is sealed from the caller's
// bytes, which are the caller's again once SaveChunk returns: overwriting them changes
// nothing stored, and the chunks saved after it are not written into them.
func TestOwnFrameNotKept(t *testing.T) {
	ctx := context.Background()
	r, be := testRepoOf(t, 2)
	big := bytes.Repeat([]byte("chunk list "), r.frameSize()/10)
	want := bytes.Clone(big)
	id := r.ChunkID(big)
	if _, err := r.SaveChunk(ctx, id, big); err != nil {
		t.Fatal(err)
	}
	clear(big)
	small := [][]byte{[]byte("one small chunk"), []byte("and another")}
	for _, s := range small {
		if _, err := r.SaveChunk(ctx, r.ChunkID(s), s); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(big, make([]byte, len(big))) {
		t.Fatal("a later frame was written into the bytes of the large chunk")
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r2.LoadChunk(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the large chunk loads back changed")
	}
	for _, s := range small {
		if got, err := r2.LoadChunk(ctx, r.ChunkID(s), nil); err != nil || !bytes.Equal(got, s) {
			t.Fatalf("small chunk %q: %q, %v", s, got, err)
		}
	}
}

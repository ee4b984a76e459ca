package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/mem"
	"cairn/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Backend {
		c, err := New(mem.New(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

func handle(data string) transport.Handle {
	sum := sha256.Sum256([]byte(data))
	return transport.Handle{Kind: transport.Index, Name: hex.EncodeToString(sum[:])}
}

func TestServesFromCache(t *testing.T) {
	ctx := context.Background()
	under := faulty.New(mem.New())
	dir := t.TempDir()
	c, _ := New(under, dir)
	h := handle("index bytes")
	under.Save(ctx, h, []byte("index bytes")) // written by another machine
	for range 3 {
		b, err := transport.LoadAll(ctx, c, h)
		if err != nil || string(b) != "index bytes" {
			t.Fatalf("%q %v", b, err)
		}
	}
	if n := under.Calls("load"); n != 1 {
		t.Fatalf("%d loads reached the repository, want 1", n)
	}
	// A damaged copy is fetched again.
	os.WriteFile(filepath.Join(c.dir, "index", h.Name), []byte("garbage"), 0o600)
	if b, err := transport.LoadAll(ctx, c, h); err != nil || string(b) != "index bytes" {
		t.Fatalf("after damage: %q %v", b, err)
	}
	if n := under.Calls("load"); n != 2 {
		t.Fatalf("%d loads, want 2", n)
	}
	// Objects removed elsewhere leave the cache at the next listing.
	under.Remove(ctx, h)
	c.List(ctx, transport.Index, func(transport.FileInfo) error { return nil })
	if _, err := os.Stat(filepath.Join(c.dir, "index", h.Name)); !os.IsNotExist(err) {
		t.Fatal("a removed object stayed in the cache")
	}
}

// TestOnlyMatchingCopies: the cache keeps and serves only objects whose bytes match
// their 64-digit names; a truncated or foreign copy is fetched again and replaced.
func TestOnlyMatchingCopies(t *testing.T) {
	ctx := context.Background()
	under := faulty.New(mem.New())
	c, err := New(under, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, other := handle("index bytes"), handle("other index")
	under.Save(ctx, h, []byte("index bytes"))
	under.Save(ctx, other, []byte("other index"))
	copyOf := func(h transport.Handle) string { return filepath.Join(c.dir, string(h.Kind), h.Name) }
	for name, bad := range map[string][]byte{"truncated": []byte("index"), "foreign": []byte("other index"), "empty": {}} {
		if err := os.WriteFile(copyOf(h), bad, 0o600); err != nil {
			t.Fatal(err)
		}
		loads := under.Calls("load")
		if b, err := transport.LoadAll(ctx, c, h); err != nil || string(b) != "index bytes" {
			t.Fatalf("%s copy: %q %v", name, b, err)
		}
		if under.Calls("load") != loads+1 {
			t.Fatalf("%s copy was served without a download", name)
		}
		if b, _ := os.ReadFile(copyOf(h)); string(b) != "index bytes" {
			t.Fatalf("%s copy was not replaced: %q", name, b)
		}
	}
	// What the cache writes itself must match too: an object saved under a name that
	// is not its hash, or under a shorter name, is not kept.
	lying := handle("what the name says")
	if err := c.Save(ctx, lying, []byte("something else")); err != nil {
		t.Fatal(err)
	}
	short := transport.Handle{Kind: transport.Snapshots, Name: "0123abcd"}
	if err := c.Save(ctx, short, []byte("short name")); err != nil {
		t.Fatal(err)
	}
	for _, h := range []transport.Handle{lying, short} {
		if _, err := os.Stat(copyOf(h)); !os.IsNotExist(err) {
			t.Fatalf("%s was kept: %v", h, err)
		}
	}
	// Nothing but the copies is left in the folders (no temporary files).
	entries, _ := os.ReadDir(filepath.Join(c.dir, "index"))
	if len(entries) != 1 || entries[0].Name() != h.Name {
		t.Fatalf("index copies: %v", entries)
	}
}

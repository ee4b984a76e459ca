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

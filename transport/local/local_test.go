package local_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cairn/transport"
	"cairn/transport/local"
	"cairn/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Backend {
		be, err := local.Create(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return be
	})
}

func TestLayoutAndLeftovers(t *testing.T) {
	dir := t.TempDir()
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Open(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("opening a missing folder succeeded")
	}
	// A temporary file left by a crashed save is not an object.
	os.MkdirAll(filepath.Join(dir, "data", "ab"), 0o700)
	os.WriteFile(filepath.Join(dir, "data", "ab", ".tmp-123"), []byte("partial"), 0o600)
	n := 0
	be.List(t.Context(), transport.Data, func(transport.FileInfo) error { n++; return nil })
	if n != 0 {
		t.Fatalf("a temporary file was listed")
	}
	if !strings.HasPrefix(be.Location(), "local:") {
		t.Fatalf("location %q", be.Location())
	}
}

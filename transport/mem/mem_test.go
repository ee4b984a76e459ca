package mem_test

import (
	"io"
	"testing"

	"cairn/transport"
	"cairn/transport/mem"
	"cairn/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Backend { return mem.New() })
}

func BenchmarkSaveLoad(b *testing.B) {
	transporttest.BenchmarkSaveLoad(b, func(b *testing.B) transport.Backend { return mem.New() })
}

// TestLoadCopies: what a reader hands out is not the stored object.
func TestLoadCopies(t *testing.T) {
	be := mem.New()
	h := transport.Handle{Kind: transport.Data, Name: "0123456789abcdef"}
	if err := be.Save(t.Context(), h, []byte("stored")); err != nil {
		t.Fatal(err)
	}
	err := be.Load(t.Context(), h, 0, 0, func(rd io.Reader) error {
		// io.Copy hands the reader's own buffer to Write.
		_, err := io.Copy(scribbler{}, rd)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := transport.LoadAll(t.Context(), be, h); string(got) != "stored" {
		t.Fatalf("object changed through a loaded buffer: %q", got)
	}
}

// scribbler is a Writer that breaks the io.Writer rules by changing what it is given.
type scribbler struct{}

func (scribbler) Write(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

package localdb

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// BenchmarkMergeOneRecord: one record merged into a database of 200,000 records of
// about 1 KiB in one collection, as the daemon merges the assets of one request:
// one transaction on the live file, synced.
func BenchmarkMergeOneRecord(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	record := func(i int) []byte {
		body := make([]byte, 900+rng.IntN(300))
		for j := range body {
			body[j] = 'a' + byte(rng.IntN(26))
		}
		return fmt.Appendf(nil, `{"id":"%08x-0000-4000-8000-%012x","text":"%s"}`+"\n", i, i, body)
	}
	var all bytes.Buffer
	for i := range 200_000 {
		all.Write(record(i * 2))
	}
	if err := db.Replace(context.Background(), func(w *Writer) error { return w.Collection("assets", &all) }); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		one := record(2*rng.IntN(200_000) + 1)
		if err := db.Merge(context.Background(), func(w *Writer) error { return w.Collection("assets", bytes.NewReader(one)) }); err != nil {
			b.Fatal(err)
		}
	}
}

// Package enginetest holds the helpers that tests of the engine and of the transports
// share: generated databases, a stepping clock, backups and byte-for-byte restores.
package enginetest

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/engine"
	"cairn/engine/gendb"
	"cairn/repo"
)

// Generate writes a generated database of about size bytes as a folder of
// <collection>.jsonl files in a temporary folder and returns its path.
func Generate(tb testing.TB, size, seed int64) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "db")
	if _, err := gendb.Generate(dir, gendb.Options{Size: size, Seed: seed}); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Clock returns a clock that moves one second per call, so snapshot ids are exact.
func Clock() func() time.Time {
	t := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

// Backup backs src up into r at the times now gives, and fails the test if it fails.
func Backup(tb testing.TB, r *repo.Repository, src engine.Source, now func() time.Time) *repo.Snapshot {
	tb.Helper()
	sn, err := engine.Backup(context.Background(), r, src, engine.BackupOptions{DeviceName: "test", Platform: "LINUX", Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return sn
}

// ReadFolder returns every collection file of a folder export, by collection name.
func ReadFolder(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".jsonl"); ok {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				tb.Fatal(err)
			}
			out[name] = b
		}
	}
	return out
}

// SameCollections fails the test unless got holds exactly want's collections, byte
// for byte.
func SameCollections(tb testing.TB, want, got map[string][]byte) {
	tb.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			tb.Errorf("collection %s missing after restore", name)
			continue
		}
		if !bytes.Equal(w, g) {
			tb.Errorf("collection %s: restored %d bytes differ from the %d backed up", name, len(g), len(w))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			tb.Errorf("restore produced an extra collection %s", name)
		}
	}
}

// RestoreFolder restores sn into a new temporary folder and returns its collections.
func RestoreFolder(tb testing.TB, r *repo.Repository, sn *repo.Snapshot) map[string][]byte {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "restored")
	sink, err := engine.NewFolderSink(dir)
	if err != nil {
		tb.Fatal(err)
	}
	if err := engine.Restore(context.Background(), r, sn, sink, engine.RestoreOptions{}); err != nil {
		tb.Fatal(err)
	}
	return ReadFolder(tb, dir)
}

// StoredFiles lists the files of a repository folder (a local repository, or a
// server's folder of one) with their sizes, locks left out: what it stores, seen from
// the disk.
func StoredFiles(tb testing.TB, dir string) map[string]int64 {
	tb.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, "locks") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[rel] = fi.Size()
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// NoChunkTwice fails when a chunk of r is stored in more than one pack: whatever was
// sent before a cut was not sent again.
func NoChunkTwice(tb testing.TB, r *repo.Repository) {
	tb.Helper()
	ctx := context.Background()
	packs, err := r.Packs(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	where := map[chunk.ID]int{}
	for p := range packs {
		_, refs, err := r.LoadPack(ctx, p)
		if err != nil {
			tb.Fatal(err)
		}
		for _, ref := range refs {
			where[ref.ID]++
		}
	}
	for id, n := range where {
		if n > 1 {
			tb.Fatalf("chunk %s was sent %d times", id.Short(), n)
		}
	}
}

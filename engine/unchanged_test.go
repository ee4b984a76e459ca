package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cairn/engine"
	"cairn/engine/localdb"
	"cairn/transport/mem"
)

// TestUnchangedCollectionsAreNotRead: a collection whose tag matches the parent's is
// taken from the parent without reading it; a changed one is read; the snapshot restores
// byte for byte either way. A source that lies about a tag would make this test fail
// on the restore comparison.
func TestUnchangedCollectionsAreNotRead(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t, mem.New())
	now := clock()
	db := generate(t, 2<<20, 31)
	first := backup(t, r, engine.FolderSource{Dir: db}, now)
	for _, c := range first.Collections {
		if c.Tag == "" {
			t.Fatalf("collection %s has no tag", c.Name)
		}
	}
	// Change one collection file.
	entries, _ := os.ReadDir(db)
	var changed string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".jsonl") {
			changed = filepath.Join(db, e.Name())
			break
		}
	}
	f, err := os.OpenFile(changed, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"appended-record","v":1}` + "\n")
	f.Close()
	second := backup(t, r, engine.FolderSource{Dir: db}, now)
	if got, want := second.Totals.CollectionsUnchanged, int64(len(first.Collections)-1); got != want {
		t.Fatalf("%d collections taken unchanged, want %d", got, want)
	}
	if second.Totals.RawBytes <= first.Totals.RawBytes || second.Totals.Records != first.Totals.Records+1 {
		t.Fatalf("totals: first %+v second %+v", first.Totals, second.Totals)
	}
	sameCollections(t, readFolder(t, db), restoreFolder(t, r, second))
	// --read-all reads everything again and finds the same content.
	third, err := engine.Backup(ctx, r, engine.FolderSource{Dir: db}, engine.BackupOptions{Now: now, ReadAll: true})
	if err != nil || third.Totals.CollectionsUnchanged != 0 || third.Totals.NewRawBytes != 0 {
		t.Fatalf("read-all: %+v %v", third.Totals, err)
	}
}

// TestDatabaseTags: every write to a collection of the local database gives it a new
// tag, so a daemon backup reads only the collections written since the last one.
func TestDatabaseTags(t *testing.T) {
	ctx := context.Background()
	d, err := localdb.Open(filepath.Join(t.TempDir(), "pieces.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	put := func(col, rec string) {
		t.Helper()
		if err := d.Merge(ctx, func(w *localdb.Writer) error { return w.Collection(col, strings.NewReader(rec+"\n")) }); err != nil {
			t.Fatal(err)
		}
	}
	put("assets", `{"id":"a1","x":1}`)
	put("tags", `{"id":"t1","x":1}`)
	r := newRepo(t, mem.New())
	now := clock()
	src := engine.DatabaseSource{DB: d}
	first := backup(t, r, src, now)
	put("tags", `{"id":"t2","x":2}`)
	second := backup(t, r, src, now)
	if second.Totals.CollectionsUnchanged != 1 || second.Totals.Records != 3 {
		t.Fatalf("second backup: %+v", second.Totals)
	}
	third := backup(t, r, src, now)
	if third.Totals.CollectionsUnchanged != 2 || third.Totals.NewRawBytes != 0 {
		t.Fatalf("third backup: %+v", third.Totals)
	}
	if first.Totals.CollectionsUnchanged != 0 {
		t.Fatalf("first backup took collections unchanged: %+v", first.Totals)
	}
	// A failed write leaves the tag as it was (the write transaction rolls back).
	before, _ := d.Tags()
	d.Merge(ctx, func(w *localdb.Writer) error { return w.Collection("assets", strings.NewReader("not json\n")) })
	after, _ := d.Tags()
	if before["assets"] != after["assets"] {
		t.Fatal("a failed write changed the tag")
	}
}

// TestReplacedFileChangesTag: a collection file replaced by another of the same size
// and modification time gets another change tag (its change time and file id differ:
// the inode on Unix, the volume serial and file index on Windows), so a backup reads
// it rather than taking the parent's entry.
func TestReplacedFileChangesTag(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "formats.jsonl")
	if err := os.WriteFile(name, []byte(`{"id":"a","v":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	src := engine.FolderSource{Dir: dir}
	before, err := src.CollectionTags(context.Background())
	if err != nil || before["formats"] == "" {
		t.Fatalf("tags %v %v", before, err)
	}
	other := filepath.Join(dir, "other.tmp")
	if err := os.WriteFile(other, []byte(`{"id":"b","v":2}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(other, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, name); err != nil {
		t.Fatal(err)
	}
	after, err := src.CollectionTags(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after["formats"] == before["formats"] {
		t.Fatalf("a file replaced by one of the same size and time keeps its tag %s", before["formats"])
	}
}

package localdb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeDB makes a closed database file at path holding one assets record id.
func writeDB(t *testing.T, path, id string) {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := merge(db, map[string]string{"assets": `{"id":"` + id + `"}` + "\n"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// siblings lists the names in path's folder other than path's own.
func siblings(t *testing.T, path string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() != filepath.Base(path) {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestOpenAfterCutSwap: a crash between a Windows swap's two renames leaves the live
// file moved aside and the replacement under .new, or (when putting it back failed)
// the live file aside alone. Open finishes the swap in the first case, puts the file
// back in the second, and leaves nothing beside the database.
func TestOpenAfterCutSwap(t *testing.T) {
	for _, tc := range []struct {
		name        string
		replacement bool
		want        string
	}{
		{"replacement decided", true, "new"},
		{"no replacement", false, "old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "pieces.db")
			writeDB(t, path, "old")
			if err := os.Rename(path, path+retiredInfix+"0123456789abcdef"); err != nil {
				t.Fatal(err)
			}
			if tc.replacement {
				writeDB(t, path+replacementSuffix, "new")
			}
			db, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got, _ := dump(t, db); got["assets"] != `{"id":"`+tc.want+`"}`+"\n" {
				t.Fatalf("after the cut swap the database holds %q, want the %s one", got, tc.want)
			}
			if left := siblings(t, path); len(left) != 0 {
				t.Fatalf("Open left %q beside the database", left)
			}
		})
	}
}

// TestSwapLeavesNoFileBehind: replacements while a reader holds an older generation
// leave, once that reader ends, nothing beside the database but the database (on
// Windows the old file is moved aside for its readers and must be removed after them).
func TestSwapLeavesNoFileBehind(t *testing.T) {
	db := openTest(t)
	old := fillFormats(t, db)
	resume, read := stallReader(db)
	for i := range 3 {
		err := db.Replace(context.Background(), func(w *Writer) error {
			return w.Collection("tags", strings.NewReader(`{"id":"t`+string(rune('0'+i))+`"}`+"\n"))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	close(resume)
	if got := <-read; got != old {
		t.Fatalf("the stalled reader read %d bytes, want %d", len(got), len(old))
	}
	if got, _ := dump(t, db); got["tags"] != `{"id":"t2"}`+"\n" || len(got) != 1 {
		t.Fatalf("after three replacements the database holds %q", got)
	}
	if left := siblings(t, db.Path()); len(left) != 0 {
		t.Fatalf("files beside the database after the readers ended: %q", left)
	}
}

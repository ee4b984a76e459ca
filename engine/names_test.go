package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cairn/engine"
	"cairn/transport/mem"
)

// TestHostileCollectionNames: a manifest is read from storage, so the collection names
// it holds are hostile until checked. A name that would leave the restore folder is
// refused, nothing is written outside it, and no target is left behind.
func TestHostileCollectionNames(t *testing.T) {
	db := generate(t, 1<<20, 3)
	r := newRepo(t, mem.New())
	sn := backup(t, r, engine.FolderSource{Dir: db}, clock())
	for _, name := range []string{"../escaped", "../../escaped", "a/../../escaped", "..", "", "a\x00b", `..\escaped`} {
		planted := *sn
		planted.Collections = append(planted.Collections[:0:0], sn.Collections...)
		planted.Collections[0].Name = name
		if err := r.SaveSnapshot(context.Background(), &planted); err != nil {
			t.Fatal(err)
		}
		base := t.TempDir()
		target := filepath.Join(base, "deep", "restored")
		sink, err := engine.NewFolderSink(target)
		if err != nil {
			t.Fatal(err)
		}
		err = engine.Restore(context.Background(), r, &planted, sink, engine.RestoreOptions{})
		if err == nil || !strings.Contains(err.Error(), "cannot be a file name") {
			t.Errorf("collection %q: restore answered %v, want a refusal", name, err)
		}
		filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("collection %q: restore left %s", name, p)
			}
			return nil
		})
	}
}

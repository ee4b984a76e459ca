package engine_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"cairn/engine"
	"cairn/transport/local"
	"cairn/transport/mem"
)

// ageTree sets the times of path and everything in it to an hour ago.
func ageTree(tb testing.TB, path string) {
	tb.Helper()
	old := time.Now().Add(-time.Hour)
	err := filepath.Walk(path, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// TestRestoreRemovesLeftoversOfKilledRestores: the temporary folders and files that
// killed restores left beside a target are removed by the next restore there, into a
// folder or an ExportedDatabase file; those of restores still running (held) stay,
// however old.
func TestRestoreRemovesLeftoversOfKilledRestores(t *testing.T) {
	r := newRepo(t, mem.New())
	db := generate(t, 256<<10, 41)
	sn := backup(t, r, engine.FolderSource{Dir: db}, clock())
	parent := t.TempDir()
	leave := func() (folder, file string) {
		t.Helper()
		folder, err := os.MkdirTemp(parent, ".cairn-restore-")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(folder, "assets.jsonl"), []byte(`{"id":"a"}`+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.CreateTemp(parent, ".cairn-restore-*.json")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		ageTree(t, folder)
		ageTree(t, f.Name())
		return folder, f.Name()
	}
	running, release, err := local.MkdirTemp(parent, ".cairn-restore-")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	runningFile, err := local.CreateTemp(parent, ".cairn-restore-*.json")
	if err != nil {
		t.Fatal(err)
	}
	defer runningFile.Close()
	ageTree(t, running)
	ageTree(t, runningFile.Name())
	for _, target := range []string{"folder", "exported.json"} {
		folder, file := leave()
		dest := filepath.Join(parent, target)
		var sink engine.Sink
		if target == "folder" {
			sink, err = engine.NewFolderSink(dest)
		} else {
			sink, err = engine.NewExportedSink(dest)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := engine.Restore(t.Context(), r, sn, sink, engine.RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{folder, file} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("a restore into %s kept %s, left by a killed restore", target, filepath.Base(p))
			}
		}
		for _, p := range []string{running, runningFile.Name()} {
			if _, err := os.Lstat(p); err != nil {
				t.Fatalf("a restore into %s removed %s, held by a running restore", target, filepath.Base(p))
			}
		}
	}
	sameCollections(t, readFolder(t, db), readFolder(t, filepath.Join(parent, "folder")))
}

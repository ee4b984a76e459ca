package engine

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestExportedSinkSyncsFolder: Commit of a restore into an ExportedDatabase file syncs
// the folder holding it once the file has its name, so the rename survives a crash.
func TestExportedSinkSyncsFolder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "restored.json")
	s, err := NewExportedSink(path)
	if err != nil {
		t.Fatal(err)
	}
	var synced []string
	s.syncDir = func(d string) error {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("the folder was synced before the file had its name: %v", err)
		}
		synced = append(synced, d)
		return nil
	}
	if err := s.Begin(Meta{Version: "1"}); err != nil {
		t.Fatal(err)
	}
	err = s.Collection("assets", func(w io.Writer) error {
		_, err := io.WriteString(w, `{"id":"a"}`+"\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 || synced[0] != dir {
		t.Fatalf("folders synced on Commit: %q, want [%q]", synced, dir)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the folder holds %d entries after Commit, want the restored file alone", len(entries))
	}
}

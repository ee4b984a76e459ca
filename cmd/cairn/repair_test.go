package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// packFiles lists the pack files of a local repository.
func packFiles(t *testing.T, repoDir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(repoDir, "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		t.Fatal("no packs")
	}
	return out
}

// TestRepair: with every index file gone, repair rebuilds the index from the packs and
// everything restores; with a damaged pack, repair indexes what still verifies, check
// names the snapshots and collections that lost chunks, and the rest restores.
func TestRepair(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	repoDir := filepath.Join(dir, "repo")
	c := runner{tb: t, repo: repoDir}
	c.ok("generate", "--size", "2MiB", "--seed", "8", db)
	c.ok("init", "--pack-size", "256KiB")
	c.ok("backup", db)

	os.RemoveAll(filepath.Join(repoDir, "index"))
	os.MkdirAll(filepath.Join(repoDir, "index"), 0o700)
	if r := c.run("check"); r.code != exitDamaged {
		t.Fatalf("check without an index: exit %d\n%s", r.code, r.stderr)
	}
	out := c.ok("repair")
	if !strings.Contains(out, "indexed") {
		t.Fatalf("repair: %s", out)
	}
	c.ok("check", "--read-data")
	c.ok("restore", "latest", "--target", filepath.Join(dir, "out1"))
	for _, name := range []string{"assets.jsonl", "formats.jsonl"} {
		a, _ := os.ReadFile(filepath.Join(db, name))
		b, _ := os.ReadFile(filepath.Join(dir, "out1", name))
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs after repair", name)
		}
	}

	// Flip a byte in one pack: repair salvages the rest of it.
	packs := packFiles(t, repoDir)
	b, _ := os.ReadFile(packs[0])
	b[len(b)/2] ^= 1
	os.Chmod(packs[0], 0o644)
	os.WriteFile(packs[0], b, 0o644)
	r := c.run("repair")
	if r.code != 0 || !strings.Contains(r.stderr, "damaged: pack") || !strings.Contains(r.stderr, "could not be read") {
		t.Fatalf("repair of a damaged pack: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = c.run("check", "--read-data")
	if r.code != exitDamaged || !strings.Contains(r.stderr, "damaged: snapshot") {
		t.Fatalf("check after salvage: exit %d\n%s", r.code, r.stderr)
	}
	// The collections check does not name still restore.
	damaged := r.stderr
	entries, _ := os.ReadDir(db)
	restored := 0
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".jsonl")
		if name == e.Name() || strings.Contains(damaged, "collection "+name+" ") {
			continue
		}
		target := filepath.Join(dir, "out-"+name)
		c.ok("restore", "latest", "--target", target, "--collection", name)
		a, _ := os.ReadFile(filepath.Join(db, e.Name()))
		got, _ := os.ReadFile(filepath.Join(target, e.Name()))
		if !bytes.Equal(a, got) {
			t.Fatalf("undamaged collection %s differs", name)
		}
		restored++
	}
	if restored == 0 {
		t.Fatal("no undamaged collection to restore")
	}
	t.Logf("%d undamaged collections restored byte for byte", restored)
}

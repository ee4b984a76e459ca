package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cairn/engine/enginetest"
)

// TestFormat1Repository: testdata/format1-repo is an encrypted repository written by
// the last build before format 2 (password "test password"): two backups of
// `generate --size 96KiB --seed 5` db, the second after `generate --mutate 0.05
// --seed 6` db. This build restores and checks it, backs up into it, forgets and
// prunes, and it stays format 1: builds of format 1 still read it.
func TestFormat1Repository(t *testing.T) {
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	if err := os.CopyFS(repoDir, os.DirFS(filepath.Join("testdata", "format1-repo"))); err != nil {
		t.Fatal(err)
	}
	// git keeps no empty folder: the repository's idle locks/ is made here.
	if err := os.MkdirAll(filepath.Join(repoDir, "locks"), 0o700); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "db")
	c := runner{tb: t, repo: repoDir}
	c.ok("generate", "--size", "96KiB", "--seed", "5", db)
	c.ok("generate", "--mutate", "0.05", "--seed", "6", db)
	restored := func(name string) map[string][]byte {
		out := filepath.Join(dir, name)
		c.ok("restore", "latest", "--target", out)
		return enginetest.ReadFolder(t, out)
	}
	enginetest.SameCollections(t, enginetest.ReadFolder(t, db), restored("old"))
	c.ok("check", "--read-data")

	c.ok("generate", "--mutate", "0.05", "--seed", "7", db)
	c.ok("backup", db)
	c.ok("forget", "--keep-last", "1")
	c.ok("prune")
	c.ok("check", "--read-data")
	enginetest.SameCollections(t, enginetest.ReadFolder(t, db), restored("new"))
	var cfg map[string]any
	c.json(&cfg, "cat", "config")
	if cfg["format"] != float64(1) {
		t.Fatalf("the format 1 repository says format %v after a backup and a prune", cfg["format"])
	}
	// Its chunk ids stay 256 bits wide, as builds of format 1 read them.
	var shown struct {
		Collections []struct {
			ChunkIDs []string `json:"chunk_ids"`
		}
	}
	c.json(&shown, "show", "--chunks", "latest")
	if len(shown.Collections) == 0 || len(shown.Collections[0].ChunkIDs) == 0 || len(shown.Collections[0].ChunkIDs[0]) != 64 {
		t.Fatalf("chunk ids of the format 1 repository: %+v", shown.Collections)
	}
}

// TestInitFormat: init makes format 3 repositories, whose chunk ids print as 32 hex
// digits, and format 2 and 1 ones when asked; it refuses formats it does not write.
func TestInitFormat(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	runner{tb: t}.ok("generate", "--size", "64KiB", db)
	for format, width := range map[string]int{"1": 64, "2": 32, "3": 32, "": 32} {
		c := runner{tb: t, repo: filepath.Join(dir, "repo"+format)}
		if format == "" {
			c.ok("init")
		} else {
			c.ok("init", "--format", format)
		}
		c.ok("backup", db)
		var cfg map[string]any
		c.json(&cfg, "cat", "config")
		if cfg["format"] != map[string]float64{"1": 1, "2": 2, "3": 3, "": 3}[format] {
			t.Fatalf("init --format %s made format %v", format, cfg["format"])
		}
		var shown struct {
			Collections []struct {
				List     string
				ChunkIDs []string `json:"chunk_ids"`
			}
		}
		c.json(&shown, "show", "--chunks", "latest")
		col := shown.Collections[0]
		if len(col.ChunkIDs) == 0 || len(col.ChunkIDs[0]) != width || len(col.List) != width {
			t.Fatalf("format %s: chunk ids %v, list %q; want %d hex digits", format, col.ChunkIDs, col.List, width)
		}
		c.ok("cat", "chunk", col.ChunkIDs[0])
		c.ok("check", "--read-data")
	}
	c := runner{tb: t, repo: filepath.Join(dir, "repo4")}
	r := c.run("init", "--format", "4")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--format") {
		t.Fatalf("init --format 4: exit %d, %s", r.code, r.stderr)
	}
}

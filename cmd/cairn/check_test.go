package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCheckPrintsTypedProblems: with a pack gone, check exits 3 and prints the problem
// as text on stderr, and with --json as an object with its kind, the pack's full name
// and a message, the JSON shape the README documents.
func TestCheckPrintsTypedProblems(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	c := runner{tb: t, repo: filepath.Join(dir, "repo")}
	c.ok("generate", "--size", "512KiB", db)
	c.ok("init")
	c.ok("backup", db)
	var gone string
	filepath.WalkDir(filepath.Join(dir, "repo", "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && gone == "" {
			gone = d.Name()
			os.Remove(p)
		}
		return nil
	})
	if gone == "" {
		t.Fatal("no pack to remove")
	}
	text := c.run("check")
	if text.code != exitDamaged || !strings.Contains(text.stderr, "error: pack "+gone[:8]+" is missing") {
		t.Fatalf("check: exit %d, want %d\n%s%s", text.code, exitDamaged, text.stdout, text.stderr)
	}
	r := c.run("--json", "check")
	if r.code != exitDamaged {
		t.Fatalf("check --json: exit %d, want %d\n%s%s", r.code, exitDamaged, r.stdout, r.stderr)
	}
	var res struct {
		Errors  []map[string]string `json:"errors"`
		Damaged []struct {
			Snapshot, Collection string
			Chunks               int
		} `json:"damaged"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("check --json prints no result: %v\n%s", err, r.stdout)
	}
	hex := regexp.MustCompile(`^[0-9a-f]{64}$`)
	found := false
	for _, p := range res.Errors {
		if p["kind"] == "pack" && p["pack"] == gone && hex.MatchString(p["pack"]) && strings.Contains(p["message"], "missing") {
			found = true
		}
	}
	if !found || len(res.Damaged) == 0 {
		t.Fatalf("check --json does not report the missing pack %s as a typed problem:\n%s", gone, r.stdout)
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBackupFromStdin: an ExportedDatabase document piped into backup -, and one
// collection's JSONL with --stdin-collection, come back byte for byte.
func TestBackupFromStdin(t *testing.T) {
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	c := runner{tb: t, repo: repoDir}
	c.ok("init")
	doc := exportedDocument(t, 512<<10)

	r := c.runInput(bytes.NewReader(doc), "backup", "--tag", "piped", "-")
	if r.code != 0 {
		t.Fatalf("backup -: exit %d: %s", r.code, r.stderr)
	}
	var sn map[string]any
	c.json(&sn, "show", "latest")
	if sn["source"] != "exported:stdin" {
		t.Fatalf("snapshot of standard input has source %v", sn["source"])
	}
	out := filepath.Join(dir, "out.json")
	c.ok("restore", "latest", "--exported", out)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, doc) {
		t.Fatalf("restored document (%d bytes) differs from the one piped in (%d bytes)", len(got), len(doc))
	}

	db := filepath.Join(dir, "db")
	c.ok("generate", "--size", "256KiB", db)
	tags, err := os.ReadFile(filepath.Join(db, "tags.jsonl"))
	if err != nil || len(tags) == 0 {
		t.Fatalf("generated tags: %v", err)
	}
	if r := c.runInput(bytes.NewReader(tags), "backup", "-", "--stdin-collection", "tags"); r.code != 0 {
		t.Fatalf("backup --stdin-collection tags -: exit %d: %s", r.code, r.stderr)
	}
	target := filepath.Join(dir, "tags-out")
	c.ok("restore", "latest", "--target", target)
	if got, _ := os.ReadFile(filepath.Join(target, "tags.jsonl")); !bytes.Equal(got, tags) {
		t.Fatal("restored collection differs from the one piped in")
	}

	// Bad input saves nothing.
	n := snapshotCount(t, repoDir)
	for _, tc := range []struct {
		in   []byte
		args []string
		code int
		want string
	}{
		{doc[:len(doc)/2], []string{"backup", "-"}, exitFailure, "ends too early"},
		{[]byte("not json"), []string{"backup", "-"}, exitFailure, "invalid source"},
		{tags, []string{"backup", "--stdin-collection", "../escape", "-"}, exitFailure, "cannot be a file name"},
		{tags, []string{"backup", "--stdin-collection", "tags", db}, exitUsage, "--stdin-collection"},
		{tags, []string{"backup"}, exitUsage, "usage"},
	} {
		r := c.runInput(bytes.NewReader(tc.in), tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Fatalf("cairn %s: exit %d, want %d saying %q: %s", strings.Join(tc.args, " "), r.code, tc.code, tc.want, r.stderr)
		}
	}
	if got := snapshotCount(t, repoDir); got != n {
		t.Fatalf("failed backups from standard input left %d snapshots, want %d", got, n)
	}
}

// TestBackupFromCommand: --stdin-from-command backs up what a command prints, and a
// failing command fails the backup, saving no snapshot, and says the exit status.
func TestBackupFromCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("runs sh, cat and head; TestBackupFromCommandWindows runs cmd")
	}
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	c := runner{tb: t, repo: repoDir}
	c.ok("init")
	doc := exportedDocument(t, 256<<10)
	file := filepath.Join(dir, "export.json")
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok("backup", "--stdin-from-command", "--", "cat", file)
	out := filepath.Join(dir, "out.json")
	c.ok("restore", "latest", "--exported", out)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, doc) {
		t.Fatal("restored document differs from the command's output")
	}
	var sn map[string]any
	c.json(&sn, "show", "latest")
	if sn["source"] != "exported:command cat" {
		t.Fatalf("snapshot of a command's output has source %v", sn["source"])
	}
	// Without "--", the words after the command's name are its own.
	c.ok("backup", "--tag", "t", "--stdin-from-command", "sh", "-c", "cat "+file, "--tag", "for-sh")

	n := snapshotCount(t, repoDir)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"backup", "--stdin-from-command", "--", "sh", "-c", "cat " + file + "; exit 3"}, exitFailure, "exit status 3"},
		{[]string{"backup", "--stdin-from-command", "--", "sh", "-c", "head -c 1000 " + file + "; exit 4"}, exitFailure, "exit status 4"},
		{[]string{"backup", "--stdin-from-command", "--", "sh", "-c", "head -c 1000 " + file}, exitFailure, "ends too early"},
		{[]string{"backup", "--stdin-collection", "tags", "--stdin-from-command", "--", "false"}, exitFailure, "exit status 1"},
		{[]string{"backup", "--stdin-from-command", "--", filepath.Join(dir, "no-such-program")}, exitFailure, "no-such-program"},
		{[]string{"backup", "--stdin-from-command", "sh", "-c", "exit 5"}, exitFailure, "exit status 5"}, // no "--": the command's flags are its own
		{[]string{"backup", "--stdin-from-command"}, exitUsage, "usage"},
	} {
		r := c.run(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Fatalf("cairn %s: exit %d, want %d saying %q: %s", strings.Join(tc.args, " "), r.code, tc.code, tc.want, r.stderr)
		}
	}
	if got := snapshotCount(t, repoDir); got != n {
		t.Fatalf("failed commands left %d snapshots, want %d", got, n)
	}
}

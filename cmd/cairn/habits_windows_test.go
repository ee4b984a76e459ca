package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupFromCommandWindows: on Windows --stdin-from-command runs the program as
// given (here cmd's type), and a command that fails saves no snapshot and says its
// exit status.
func TestBackupFromCommandWindows(t *testing.T) {
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	c := runner{tb: t, repo: repoDir}
	c.ok("init")
	doc := exportedDocument(t, 256<<10)
	file := filepath.Join(dir, "export.json")
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok("backup", "--stdin-from-command", "--", "cmd", "/C", "type", file)
	out := filepath.Join(dir, "out.json")
	c.ok("restore", "latest", "--exported", out)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, doc) {
		t.Fatal("restored document differs from the command's output")
	}
	n := snapshotCount(t, repoDir)
	r := c.run("backup", "--stdin-from-command", "--", "cmd", "/C", "type", file, "&", "exit", "3")
	if r.code != exitFailure || !strings.Contains(r.stderr, "exit status 3") {
		t.Fatalf("a command that failed: exit %d: %s", r.code, r.stderr)
	}
	if got := snapshotCount(t, repoDir); got != n {
		t.Fatalf("a failed command left %d snapshots, want %d", got, n)
	}
}

// TestPasswordCommandWindows: on Windows --password-command runs through cmd /C; the
// line it prints, less its CRLF, is the password, and a failing command is an error
// naming its exit status.
func TestPasswordCommandWindows(t *testing.T) {
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	runner{tb: t, repo: repoDir}.ok("init") // with CAIRN_PASSWORD, "test password"
	t.Setenv("CAIRN_PASSWORD", "")
	c := runner{tb: t, repo: repoDir}
	if r := c.run("snapshots", "--password-command", "echo test password"); r.code != 0 {
		t.Fatalf("--password-command echo: exit %d: %s", r.code, r.stderr)
	}
	if r := c.run("snapshots", "--password-command", "echo wrong"); r.code != exitPassword {
		t.Fatalf("a wrong password: exit %d: %s", r.code, r.stderr)
	}
	if r := c.run("snapshots", "--password-command", "exit 3"); r.code != exitFailure || !strings.Contains(r.stderr, "exit status 3") {
		t.Fatalf("a failing password command: exit %d: %s", r.code, r.stderr)
	}
}

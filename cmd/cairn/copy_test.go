package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cairn/transport/rest/resttest"
)

// storedFiles lists a repository folder's files but its locks, with their sizes.
func storedFiles(tb testing.TB, dir string) map[string]int64 {
	tb.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, "locks") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[rel] = fi.Size()
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// growth is the bytes of files in after that are not in before; files of before
// must be unchanged.
func growth(tb testing.TB, before, after map[string]int64) int64 {
	tb.Helper()
	var n int64
	for name, size := range before {
		if after[name] != size {
			tb.Fatalf("%s changed from %d to %d bytes", name, size, after[name])
		}
	}
	for name, size := range after {
		if _, ok := before[name]; !ok {
			n += size
		}
	}
	return n
}

func readCollections(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no collections in %s: %v", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func sameFolders(tb testing.TB, want, got map[string][]byte) {
	tb.Helper()
	if len(want) != len(got) {
		tb.Fatalf("restored %d collections, want %d", len(got), len(want))
	}
	for name, w := range want {
		if !bytes.Equal(w, got[name]) {
			tb.Fatalf("%s: restored %d bytes differ from the %d backed up", name, len(got[name]), len(w))
		}
	}
}

// TestCopyToRestServerCLI: cairn copy from a local encrypted repository to one on a
// real rest-server with another password; both snapshots restore byte for byte from
// the copy, the reported bytes sent are what the server's folder grew by, and a second
// copy sends nothing.
func TestCopyToRestServerCLI(t *testing.T) {
	srv := resttest.Start(t, "--no-auth")
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	src := runner{tb: t, repo: filepath.Join(dir, "repo")}
	src.ok("generate", "--size", "2MiB", "--seed", "5", db)
	src.ok("init")
	src.ok("backup", db)
	first := readCollections(t, db)
	src.ok("generate", "--mutate", "0.02", "--seed", "6", db)
	src.ok("backup", db)
	latest := readCollections(t, db)

	to := "rest:" + srv.URL + "replica"
	dst := runner{tb: t, repo: to}
	t.Setenv("CAIRN_PASSWORD", "target password")
	dst.ok("init")
	t.Setenv("CAIRN_PASSWORD", "test password")
	pwFile := filepath.Join(dir, "target-password")
	if err := os.WriteFile(pwFile, []byte("target password\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	before := storedFiles(t, filepath.Join(srv.Dir, "replica"))
	var st struct {
		Copied           []string
		SnapshotsCopied  int   `json:"snapshots_copied"`
		SnapshotsSkipped int   `json:"snapshots_skipped"`
		ChunksSent       int64 `json:"chunks_sent"`
		BytesSent        int64 `json:"bytes_sent"`
	}
	src.json(&st, "copy", "--to", to, "--to-password-file", pwFile)
	if st.SnapshotsCopied != 2 || st.SnapshotsSkipped != 0 || st.ChunksSent == 0 || len(st.Copied) != 2 {
		t.Fatalf("copy reported %+v", st)
	}
	if n := growth(t, before, storedFiles(t, filepath.Join(srv.Dir, "replica"))); n != st.BytesSent {
		t.Fatalf("copy reported %d bytes sent, the server stored %d", st.BytesSent, n)
	}

	before = storedFiles(t, filepath.Join(srv.Dir, "replica"))
	t.Setenv("CAIRN_TO_PASSWORD", "target password")
	out := src.ok("copy", "--to", to)
	if !strings.Contains(out, "copied 0 snapshots") || !strings.Contains(out, "skipped 2") || !strings.Contains(out, "0 sent") {
		t.Fatalf("second copy said:\n%s", out)
	}
	if n := growth(t, before, storedFiles(t, filepath.Join(srv.Dir, "replica"))); n != 0 {
		t.Fatalf("a second copy stored %d bytes", n)
	}

	t.Setenv("CAIRN_PASSWORD", "target password")
	for i, want := range []map[string][]byte{first, latest} {
		out := filepath.Join(dir, "restored", st.Copied[i])
		dst.ok("restore", st.Copied[i], "--target", out)
		sameFolders(t, want, readCollections(t, out))
	}
	dst.ok("check", "--read-data")
}

// TestCopyRefusesCLI: bad input gets a clear error and its documented exit code, and
// nothing reaches the target.
func TestCopyRefusesCLI(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	src := runner{tb: t, repo: filepath.Join(dir, "repo")}
	src.ok("generate", "--size", "256KiB", db)
	src.ok("init")
	src.ok("backup", db)
	target := filepath.Join(dir, "target")
	t.Setenv("CAIRN_TO_PASSWORD", "target password")
	t.Setenv("CAIRN_PASSWORD", "target password")
	runner{tb: t, repo: target}.ok("init")
	t.Setenv("CAIRN_PASSWORD", "test password")
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	before := storedFiles(t, target)

	src.fails(exitUsage, "no target", "copy")
	src.fails(exitUsage, "--to names the source", "copy", "--to", src.repo)
	src.fails(exitFailure, "not found", "copy", "--to", target, "no-such-snapshot")
	src.fails(exitNoRepo, "no cairn repository", "copy", "--to", empty)
	src.fails(exitNoRepo, "no cairn repository", "copy", "--to", filepath.Join(dir, "missing"))
	src.fails(exitUsage, "unknown scheme", "copy", "--to", "ftp://host/x")
	t.Setenv("CAIRN_TO_PASSWORD", "not it")
	src.fails(exitPassword, "target", "copy", "--to", target)
	t.Setenv("CAIRN_TO_PASSWORD", "target password")
	if n := growth(t, before, storedFiles(t, target)); n != 0 {
		t.Fatalf("refused copies stored %d bytes", n)
	}

	// The target is pinned: another repository put in its place is refused.
	src.ok("copy", "--to", target, "latest")
	if err := os.Rename(target, target+".old"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CAIRN_PASSWORD", "target password")
	runner{tb: t, repo: target}.ok("--cache-dir", filepath.Join(dir, "elsewhere"), "init")
	t.Setenv("CAIRN_PASSWORD", "test password")
	src.fails(exitPassword, "not the one this client expects", "copy", "--to", target)
}

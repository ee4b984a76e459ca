package main

import (
	"bytes"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// storedContains reports whether any file under dir contains needle, as stored or
// after decompressing every zstd frame found in it (as anyone holding the files could).
func storedContains(t *testing.T, dir string, needle []byte) bool {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		found = bytes.Contains(b, needle) || bytes.Contains(unzstdAll(b), needle)
		return nil
	})
	return found
}

// someRecordText returns distinctive record text: the ids of a few records per
// collection (random, so compression keeps them as they are), each also as the 16
// bytes a split frame stores a UUID as (repo/FORMAT.md).
func someRecordText(t *testing.T, db string) [][]byte {
	t.Helper()
	var out [][]byte
	entries, err := os.ReadDir(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(db, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(b, []byte("\n")) {
			if i >= 5 {
				break
			}
			if bytes.HasPrefix(line, []byte(`{"id":"`)) && len(line) > 43 {
				out = append(out, line[7:43])
				if id, err := hex.DecodeString(strings.ReplaceAll(string(line[7:43]), "-", "")); err == nil {
					out = append(out, id)
				}
			}
		}
	}
	if len(out) < 3 {
		t.Fatalf("only %d samples of record text", len(out))
	}
	return out
}

// TestEncryptedRepositoryCLI: a repository is encrypted unless asked otherwise, holds no
// plaintext of the records, and opens only with a password one of its key slots knows.
func TestEncryptedRepositoryCLI(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	enc, plain := filepath.Join(dir, "enc"), filepath.Join(dir, "plain")
	c := runner{tb: t, repo: enc}
	c.ok("generate", "--size", "1MiB", "--seed", "5", db)
	if out := c.ok("init"); !strings.Contains(out, "created encrypted repository") {
		t.Fatalf("init: %s", out)
	}
	c.ok("backup", db)
	p := runner{tb: t, repo: plain}
	if out := p.ok("init", "--no-encryption"); !strings.Contains(out, "UNENCRYPTED") {
		t.Fatalf("init --no-encryption: %s", out)
	}
	t.Setenv("CAIRN_PASSWORD", "") // a password given refuses an unencrypted repository
	p.ok("backup", db)
	t.Setenv("CAIRN_PASSWORD", "test password")
	samples := someRecordText(t, db)
	leaks := 0
	for _, s := range samples {
		if storedContains(t, enc, s) {
			t.Errorf("the encrypted repository holds record text %q", s)
		}
		if storedContains(t, plain, s) {
			leaks++
		}
	}
	// The same search does find record text in an unencrypted repository: the test
	// can fail.
	if leaks == 0 {
		t.Fatalf("none of %d samples found in the unencrypted repository either", len(samples))
	}
	t.Logf("%d of %d record samples readable in the unencrypted repository, 0 in the encrypted one", leaks, len(samples))

	// Passwords: a wrong one and none both exit 5 and say so.
	t.Setenv("CAIRN_PASSWORD", "not it")
	c.fails(exitPassword, "wrong password", "snapshots")
	t.Setenv("CAIRN_PASSWORD", "")
	c.fails(exitPassword, "a password is needed", "snapshots")
	c.fails(exitUsage, "no password for the new repository", "--repo", filepath.Join(dir, "other"), "init")
	// A password file works, its first line only.
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("test password\nignored\n"), 0o600)
	c.ok("--password-file", pwFile, "snapshots")
	t.Setenv("CAIRN_PASSWORD", "test password")

	// Key slots: add, list, open with the new one, remove the old, passwd.
	t.Setenv("CAIRN_NEW_PASSWORD", "second password")
	c.ok("key", "add")
	var keys []struct {
		Name    string `json:"name"`
		Current bool   `json:"current"`
	}
	c.json(&keys, "key", "list")
	if len(keys) != 2 {
		t.Fatalf("key list: %+v", keys)
	}
	var old string
	for _, k := range keys {
		if k.Current {
			old = k.Name
		}
	}
	c.fails(exitFailure, "key slot in use", "key", "remove", old[:8])
	t.Setenv("CAIRN_PASSWORD", "second password")
	c.ok("key", "remove", old[:8])
	t.Setenv("CAIRN_PASSWORD", "test password")
	c.fails(exitPassword, "wrong password", "snapshots")
	t.Setenv("CAIRN_PASSWORD", "second password")
	t.Setenv("CAIRN_NEW_PASSWORD", "third password")
	c.ok("key", "passwd")
	c.fails(exitPassword, "wrong password", "snapshots")
	t.Setenv("CAIRN_PASSWORD", "third password")
	c.ok("check", "--read-data")
	c.ok("restore", "latest", "--target", filepath.Join(dir, "out"))
	t.Setenv("CAIRN_PASSWORD", "")
	p.fails(exitFailure, "not encrypted", "key", "list")
}

// unzstdAll decompresses whatever zstd frames start anywhere in b.
func unzstdAll(b []byte) []byte {
	magic := []byte{0x28, 0xb5, 0x2f, 0xfd}
	var out []byte
	for off := 0; ; {
		i := bytes.Index(b[off:], magic)
		if i < 0 {
			return out
		}
		dec, err := zstd.NewReader(bytes.NewReader(b[off+i:]), zstd.WithDecoderConcurrency(1))
		if err == nil {
			part, _ := io.ReadAll(io.LimitReader(dec, 4<<20))
			out = append(out, part...)
			dec.Close()
		}
		off += i + 1
	}
}

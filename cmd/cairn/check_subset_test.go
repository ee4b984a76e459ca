package main

import (
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type checkSubsetJSON struct {
	Packs     int    `json:"packs"`
	ReadData  bool   `json:"read_data"`
	Subset    string `json:"subset"`
	PacksRead int    `json:"packs_read"`
	BytesRead int64  `json:"bytes_read"`
}

// smallPackRepo is a repository of a 2 MiB database in packs of about 64 KiB.
func smallPackRepo(t *testing.T) (runner, string) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	c := runner{tb: t, repo: filepath.Join(dir, "repo")}
	c.ok("generate", "--size", "2MiB", "--seed", "11", db)
	c.ok("init", "--pack-size", "64KiB")
	c.ok("backup", db)
	return c, filepath.Join(dir, "repo")
}

// TestCheckReadDataSubset: the parts 1/3, 2/3 and 3/3 read, together, as many packs
// and bytes as --read-data; a size budget reads at most that many bytes; the text
// says what was read.
func TestCheckReadDataSubset(t *testing.T) {
	c, _ := smallPackRepo(t)
	var all checkSubsetJSON
	c.json(&all, "check", "--read-data")
	if all.Packs < 6 || all.PacksRead != all.Packs || all.Subset != "" {
		t.Fatalf("check --read-data: %+v", all)
	}
	var packs int
	var bytes int64
	for _, part := range []string{"1/3", "2/3", "3/3"} {
		var res checkSubsetJSON
		c.json(&res, "check", "--read-data-subset", part)
		if !res.ReadData || res.Subset != part || res.Packs != all.Packs || res.PacksRead >= all.Packs {
			t.Fatalf("check --read-data-subset %s: %+v", part, res)
		}
		packs, bytes = packs+res.PacksRead, bytes+res.BytesRead
	}
	if packs != all.Packs || bytes != all.BytesRead {
		t.Fatalf("1/3, 2/3 and 3/3 read %d packs, %d bytes; --read-data reads %d packs, %d bytes", packs, bytes, all.Packs, all.BytesRead)
	}
	var budget checkSubsetJSON
	c.json(&budget, "check", "--read-data-subset", "300KiB")
	if budget.PacksRead < 1 || budget.BytesRead > 300<<10 || budget.Subset != "307200B" {
		t.Fatalf("check --read-data-subset 300KiB: %+v", budget)
	}
	var share checkSubsetJSON
	c.json(&share, "check", "--read-data-subset", "50%")
	if share.PacksRead != all.Packs/2 {
		t.Fatalf("check --read-data-subset 50%%: read %d of %d packs", share.PacksRead, all.Packs)
	}
	out := c.ok("check", "--read-data-subset", "1/3")
	if !strings.Contains(out, "packs (subset 1/3)") || !strings.Contains(out, "no errors were found") {
		t.Fatalf("check --read-data-subset 1/3:\n%s", out)
	}
}

// TestCheckReadDataSubsetUsage: values out of range or unreadable, and --read-data
// with a subset, are usage errors (exit 2).
func TestCheckReadDataSubsetUsage(t *testing.T) {
	dir := t.TempDir()
	c := runner{tb: t, repo: filepath.Join(dir, "repo")}
	c.ok("init")
	for _, v := range []string{"0/3", "4/3", "0%", "101%", "garbage", "", "1/0", "-2MiB", "1/3/3"} {
		c.fails(exitUsage, "--read-data-subset", "check", "--read-data-subset", v)
	}
	c.fails(exitUsage, "not both", "check", "--read-data", "--read-data-subset", "1/2")
}

// TestCheckReadDataSubsetDamage: a damaged pack (that holds no chunk list, so that the
// structure check alone does not read it) is found by the part that holds it (exit 3),
// and not by the other parts.
func TestCheckReadDataSubsetDamage(t *testing.T) {
	c, repoDir := smallPackRepo(t)
	var packFiles []string
	filepath.WalkDir(filepath.Join(repoDir, "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			packFiles = append(packFiles, p)
		}
		return nil
	})
	damaged := ""
	for _, p := range packFiles {
		orig, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), orig...)
		bad[len(bad)/2] ^= 0x01
		os.Chmod(p, 0o600)
		if err := os.WriteFile(p, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if c.run("check").code == exitOK {
			damaged = filepath.Base(p)
			break
		}
		if err := os.WriteFile(p, orig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if damaged == "" {
		t.Fatal("every pack holds a chunk list")
	}
	id, err := hex.DecodeString(damaged)
	if err != nil || len(id) != 32 {
		t.Fatalf("pack file name %q", damaged)
	}
	part := binary.BigEndian.Uint64(id[:8])%3 + 1
	for n := uint64(1); n <= 3; n++ {
		arg := string(rune('0'+n)) + "/3"
		r := c.run("check", "--read-data-subset", arg)
		if n == part {
			if r.code != exitDamaged || !strings.Contains(r.stderr, "pack "+damaged[:8]) {
				t.Fatalf("check --read-data-subset %s holds damaged pack %s: exit %d\n%s%s", arg, damaged[:8], r.code, r.stdout, r.stderr)
			}
		} else if r.code != exitOK {
			t.Fatalf("check --read-data-subset %s does not hold damaged pack %s: exit %d\n%s%s", arg, damaged[:8], r.code, r.stdout, r.stderr)
		}
	}
}

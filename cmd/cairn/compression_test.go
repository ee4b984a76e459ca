package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCompressionCLI: backup and copy take --compression, refuse a level they do not
// know, and say what they picked in the summary and in --json; auto on a local
// repository picks zstd's default level.
func TestCompressionCLI(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	c := runner{tb: t, repo: filepath.Join(dir, "repo")}
	c.ok("generate", "--size", "1MiB", "--seed", "5", db)
	c.ok("init")
	c.fails(exitUsage, "--compression", "backup", "--compression", "best", db)
	if out := c.ok("backup", "--compression", "max", db); !strings.Contains(out, "compression max: best") {
		t.Fatalf("backup --compression max said:\n%s", out)
	}
	c.ok("generate", "--mutate", "0.05", "--seed", "6", db)
	type comp struct {
		Level, Picked string
		Raw           struct{ Fastest, Default int64 } `json:"raw_bytes"`
	}
	var sn struct{ Totals struct{ Compression comp } }
	c.json(&sn, "backup", db)
	if got := sn.Totals.Compression; got.Level != "auto" || got.Picked != "default" || got.Raw.Default == 0 || got.Raw.Fastest != 0 {
		t.Fatalf("backup --json compression %+v, want auto picking default", got)
	}

	target := filepath.Join(dir, "target")
	t.Setenv("CAIRN_TO_PASSWORD", "test password")
	runner{tb: t, repo: target}.ok("init")
	c.fails(exitUsage, "--compression", "copy", "--to", target, "--compression", "9")
	var cp struct{ Compression comp }
	c.json(&cp, "copy", "--to", target, "--compression", "fastest")
	if cp.Compression.Level != "fastest" || cp.Compression.Picked != "fastest" || cp.Compression.Raw.Fastest == 0 {
		t.Fatalf("copy --json compression %+v, want fastest", cp.Compression)
	}
}

// TestServeCompressionSetting: the daemon reads its level from cairn.toml or
// --compression, auto when neither gives one.
func TestServeCompressionSetting(t *testing.T) {
	for _, c := range []struct {
		file string
		args []string
		want string
	}{
		{"", nil, `compression = "auto"`},
		{"[repository]\ncompression = \"max\"\n", nil, `compression = "max"`},
		{"[repository]\ncompression = \"max\"\n", []string{"--compression", "fastest"}, `compression = "fastest"`},
	} {
		code, out, errb := serveConfig(t, c.file, c.args...)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Fatalf("file %q, flags %v: exit %d, settings lack %s:\n%s%s", c.file, c.args, code, c.want, out, errb)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport/rest/resttest"
)

// runner runs the real command line in-process and returns its output and exit code.
type runner struct {
	tb   testing.TB
	repo string
}

type result struct {
	code           int
	stdout, stderr string
}

func (c runner) run(args ...string) result {
	c.tb.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"cairn", "--no-progress"}, args...)
	if c.repo != "" {
		full = append([]string{"cairn", "--no-progress", "--repo", c.repo}, args...)
	}
	code := run(context.Background(), full, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// ok runs a command that must succeed.
func (c runner) ok(args ...string) string {
	c.tb.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.tb.Fatalf("cairn %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs a command that must fail with code and say want on stderr.
func (c runner) fails(code int, want string, args ...string) {
	c.tb.Helper()
	r := c.run(args...)
	if r.code != code {
		c.tb.Fatalf("cairn %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		c.tb.Fatalf("cairn %s: stderr %q does not say %q", strings.Join(args, " "), r.stderr, want)
	}
}

func (c runner) json(v any, args ...string) {
	c.tb.Helper()
	out := c.ok(append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.tb.Fatalf("cairn --json %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestTour(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	c := runner{tb: t, repo: filepath.Join(dir, "repo")}
	c.ok("generate", "--size", "2MiB", "--seed", "3", db)
	if out := c.ok("init"); !strings.Contains(out, "created encrypted repository") {
		t.Fatalf("init said %q", out)
	}
	c.fails(exitFailure, "already exists", "init")
	out := c.ok("backup", "--tag", "first", db)
	if !strings.Contains(out, "snapshot ") || !strings.Contains(out, "chunks:") {
		t.Fatalf("backup said %q", out)
	}
	var mut struct{ Edited, Inserted, Deleted int }
	c.json(&mut, "generate", "--mutate", "0.02", "--seed", "4", db)
	var second map[string]any
	c.json(&second, "backup", db)
	var snaps []map[string]any
	c.json(&snaps, "snapshots")
	if len(snaps) != 2 {
		t.Fatalf("snapshots lists %d, want 2", len(snaps))
	}
	first := snaps[0]["id"].(string)
	latest := snaps[1]["id"].(string)
	if second["parent"] != first {
		t.Fatalf("second backup's parent is %v, want %s", second["parent"], first)
	}
	if out := c.ok("snapshots", "--tag", "first"); !strings.Contains(out, first) || strings.Contains(out, latest) {
		t.Fatalf("snapshots --tag first:\n%s", out)
	}
	if out := c.ok("show", latest); !strings.Contains(out, "COLLECTION") || !strings.Contains(out, "formats") {
		t.Fatalf("show:\n%s", out)
	}
	var shown struct {
		Collections []struct {
			Chunks   int
			ChunkIDs []string `json:"chunk_ids"`
		}
	}
	c.json(&shown, "show", "--chunks", latest)
	if len(shown.Collections) == 0 {
		t.Fatal("show --chunks: no collections")
	}
	for _, col := range shown.Collections {
		if col.ChunkIDs == nil || len(col.ChunkIDs) != col.Chunks {
			t.Fatalf("show --chunks: %d chunk ids for %d chunks", len(col.ChunkIDs), col.Chunks)
		}
	}
	var cols []struct {
		Name    string
		Records int64
	}
	c.json(&cols, "ls", latest)
	if len(cols) == 0 {
		t.Fatal("ls lists no collections")
	}
	var recs []struct{ ID string }
	c.json(&recs, "ls", latest, "tags")
	if len(recs) == 0 {
		t.Fatal("ls SNAPSHOT tags lists no records")
	}
	rec := c.ok("cat", latest, "tags", recs[0].ID)
	if !strings.HasPrefix(rec, `{"id":"`+recs[0].ID+`"`) {
		t.Fatalf("cat record printed %q", rec)
	}
	c.fails(exitFailure, "no record", "cat", latest, "tags", "no-such-id")
	var cfg map[string]any
	c.json(&cfg, "cat", "config")
	if cfg["format"] != float64(repo.FormatVersion) {
		t.Fatalf("cat config: %v", cfg)
	}
	var diff struct {
		Collections []struct{ Added, Removed, Changed int }
	}
	c.json(&diff, "diff", first, latest)
	var a, r, ch int
	for _, d := range diff.Collections {
		a, r, ch = a+d.Added, r+d.Removed, ch+d.Changed
	}
	if a != mut.Inserted || r != mut.Deleted || ch != mut.Edited {
		t.Fatalf("diff +%d -%d ~%d, generator inserted %d deleted %d edited %d", a, r, ch, mut.Inserted, mut.Deleted, mut.Edited)
	}
	if out := c.ok("diff", "--records", first, latest); !strings.Contains(out, "ADDED") {
		t.Fatalf("diff:\n%s", out)
	}
	var st struct {
		Snapshots  int     `json:"snapshots"`
		DedupRatio float64 `json:"dedup_ratio"`
	}
	c.json(&st, "stats")
	if st.Snapshots != 2 || st.DedupRatio < 1.5 {
		t.Fatalf("stats: %+v", st)
	}
	target := filepath.Join(dir, "restored")
	c.ok("restore", latest, "--target", target)
	for _, col := range cols {
		want, _ := os.ReadFile(filepath.Join(db, col.Name+".jsonl"))
		got, err := os.ReadFile(filepath.Join(target, col.Name+".jsonl"))
		if err != nil || !bytes.Equal(want, got) {
			t.Fatalf("restored %s differs (%v)", col.Name, err)
		}
	}
	c.fails(exitFailure, "not empty", "restore", latest, "--target", target)
	c.ok("restore", first, "--exported", filepath.Join(dir, "first.json"))
	if out := c.ok("check", "--read-data"); !strings.Contains(out, "no errors") {
		t.Fatalf("check:\n%s", out)
	}
	if out := c.ok("forget", "--keep-last", "1", "--dry-run"); !strings.Contains(out, "would remove 1") {
		t.Fatalf("forget --dry-run:\n%s", out)
	}
	c.ok("forget", "--keep-last", "1", "--prune")
	c.json(&snaps, "snapshots")
	if len(snaps) != 1 || snaps[0]["id"] != latest {
		t.Fatalf("after forget: %v", snaps)
	}
	c.ok("prune")
	c.ok("check", "--read-data")
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	c := runner{tb: t}
	c.fails(exitUsage, "no repository", "snapshots")
	c = runner{tb: t, repo: filepath.Join(dir, "repo")}
	c.ok("init")
	c.fails(exitUsage, "usage", "show")
	c.fails(exitUsage, "usage", "diff", "a")
	c.fails(exitUsage, "flag provided but not defined", "check", "--bogus")
	c.fails(exitUsage, "exactly one of", "restore", "latest")
	c.fails(exitUsage, "--keep-*", "forget")
	c.fails(exitUsage, "invalid duration", "forget", "--keep-within", "soon")
	c.fails(exitFailure, "no snapshots yet", "show", "latest")
	c.fails(exitFailure, "not found", "show", "nope")
	c.fails(exitFailure, "backup source", "backup", filepath.Join(dir, "missing"))
}

func TestBadRepositories(t *testing.T) {
	dir := t.TempDir()
	// Nothing there.
	c := runner{tb: t, repo: filepath.Join(dir, "none")}
	c.fails(exitNoRepo, "no cairn repository", "snapshots")
	// A folder that holds something else.
	foreign := filepath.Join(dir, "foreign")
	os.MkdirAll(foreign, 0o755)
	os.WriteFile(filepath.Join(foreign, "config"), []byte("[core]\n\trepositoryformatversion = 0\n"), 0o644)
	c = runner{tb: t, repo: foreign}
	db := filepath.Join(dir, "db")
	c.ok("generate", "--size", "64KiB", db)
	for _, args := range [][]string{
		{"backup", db}, {"snapshots"}, {"show", "latest"}, {"ls", "latest"}, {"cat", "config"}, {"diff", "a", "b"},
		{"stats"}, {"restore", "latest", "--target", filepath.Join(dir, "out")}, {"forget", "--keep-last", "1"},
		{"prune"}, {"check"}, {"check", "--read-data"},
	} {
		c.fails(exitNoRepo, "not a cairn repository", args...)
	}
	// A repository from a newer cairn.
	newer := filepath.Join(dir, "newer")
	c = runner{tb: t, repo: newer}
	c.ok("init", "--no-encryption")
	cfgPath := filepath.Join(newer, "config")
	b, _ := os.ReadFile(cfgPath)
	b = bytes.Replace(b, []byte(fmt.Sprintf(`"format":%d`, repo.FormatVersion)), []byte(`"format":9`), 1)
	os.Chmod(cfgPath, 0o644)
	os.WriteFile(cfgPath, b, 0o644)
	c.fails(exitNoRepo, "newer format", "snapshots")
	// An encrypted one whose envelope is newer than this build knows.
	newer = filepath.Join(dir, "newer-sealed")
	c = runner{tb: t, repo: newer}
	c.ok("init")
	cfgPath = filepath.Join(newer, "config")
	b, _ = os.ReadFile(cfgPath)
	b[5] = 9
	os.Chmod(cfgPath, 0o644)
	os.WriteFile(cfgPath, b, 0o644)
	c.fails(exitNoRepo, "newer format", "snapshots")
}

func TestCheckDamage(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	c := runner{tb: t, repo: filepath.Join(dir, "repo")}
	c.ok("generate", "--size", "1MiB", db)
	c.ok("init")
	c.ok("backup", db)
	// Flip a byte in the middle of every pack.
	filepath.WalkDir(filepath.Join(dir, "repo", "data"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		b[len(b)/3] ^= 1
		os.Chmod(p, 0o644)
		return os.WriteFile(p, b, 0o644)
	})
	r := c.run("check", "--read-data")
	if r.code != exitDamaged {
		t.Fatalf("check --read-data on a damaged repository: exit %d, want %d\n%s%s", r.code, exitDamaged, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "damaged: snapshot ") || !strings.Contains(r.stderr, "collection ") {
		t.Fatalf("check does not name the damaged snapshot and collection:\n%s", r.stderr)
	}
	// A missing pack is found without reading data.
	filepath.WalkDir(filepath.Join(dir, "repo", "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.Remove(p)
		}
		return nil
	})
	if r := c.run("check"); r.code != exitDamaged || !strings.Contains(r.stderr, "missing") {
		t.Fatalf("check with a missing pack: exit %d\n%s", r.code, r.stderr)
	}
	if r := c.run("restore", "latest", "--target", filepath.Join(dir, "out")); r.code == 0 {
		t.Fatal("restore from a repository without packs succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Fatal("a failed restore left its target behind")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "64KiB": 64 << 10, "64k": 64 << 10, "1.5MiB": 3 << 19, "2G": 2 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "12Q"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	b := &bar{w: &buf}
	b.Report(engine.Event{Phase: engine.PhaseRestore, BytesDone: 512 << 10, BytesTotal: 1 << 20, Collection: "formats", Elapsed: time.Second})
	out := buf.String()
	for _, want := range []string{"restore", "50.0%", "512.0 KiB / 1.0 MiB", "formats", "512.0 KiB/s"} {
		if !strings.Contains(out, want) {
			t.Fatalf("bar %q does not show %q", out, want)
		}
	}
	buf.Reset()
	b.Report(engine.Event{Phase: engine.PhaseBackup, BytesDone: 3 << 20}) // within 100 ms: skipped
	if buf.Len() != 0 {
		t.Fatalf("bar redrew within 100 ms: %q", buf.String())
	}
	b.Report(engine.Event{Phase: engine.PhaseDone})
	if !strings.Contains(buf.String(), "\033[K") {
		t.Fatalf("bar not cleared at the end: %q", buf.String())
	}
	if (&env{isTerminal: false}).progress() != nil {
		t.Fatal("a progress bar was drawn on a non-terminal")
	}
}

// TestServe runs the real serve command on a free loopback port, talks to it, and
// stops it with the context as SIGINT would.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, dir)
	res, err := http.Post(base+"/backups/create", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"device_name"`) {
		t.Fatalf("create on a fresh daemon: %d %s", res.StatusCode, body)
	}
	res, err = http.Get(base + "/backups")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("list: %v %v", err, res)
	}
	res.Body.Close()
	if c := stop(); c != 0 {
		t.Fatalf("serve exited %d", c)
	}
	if _, err := os.Stat(filepath.Join(dir, "repository", "config")); err != nil {
		t.Fatalf("the default repository was not created: %v", err)
	}
	// A second daemon on a port that is taken says so.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	r := runner{tb: t}
	r.fails(exitFailure, "cannot listen", "serve", "--addr", ln.Addr().String(), "--data", dir)
	r.fails(exitUsage, "loopback", "serve", "--addr", "0.0.0.0:1000", "--data", dir)
}

// TestRestRepository runs the CLI against a real rest-server.
func TestRestRepository(t *testing.T) {
	srv := resttest.Start(t, "--no-auth")
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	c := runner{tb: t, repo: "rest:" + srv.URL + "cli-repo"}
	c.ok("generate", "--size", "1MiB", db)
	c.ok("init")
	if out := c.ok("--limit-upload", "100000", "--limit-download", "100000", "--connections", "2", "backup", db); !strings.Contains(out, "sent") {
		t.Fatalf("backup output does not report bytes sent:\n%s", out)
	}
	c.ok("check", "--read-data")
	target := filepath.Join(dir, "out")
	c.ok("restore", "latest", "--target", target)
	want, _ := os.ReadFile(filepath.Join(db, "formats.jsonl"))
	got, _ := os.ReadFile(filepath.Join(target, "formats.jsonl"))
	if !bytes.Equal(want, got) || len(want) == 0 {
		t.Fatal("restore from the REST repository differs")
	}
	runner{tb: t, repo: "rest:" + srv.URL + "no-such-repo"}.fails(exitNoRepo, "no cairn repository", "snapshots")
}

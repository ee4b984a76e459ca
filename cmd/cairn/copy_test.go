package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"cairn/engine/enginetest"
	"cairn/transport/rest/resttest"
)

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

	before := enginetest.StoredFiles(t, filepath.Join(srv.Dir, "replica"))
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
	if n := growth(t, before, enginetest.StoredFiles(t, filepath.Join(srv.Dir, "replica"))); n != st.BytesSent {
		t.Fatalf("copy reported %d bytes sent, the server stored %d", st.BytesSent, n)
	}

	before = enginetest.StoredFiles(t, filepath.Join(srv.Dir, "replica"))
	t.Setenv("CAIRN_TO_PASSWORD", "target password")
	out := src.ok("copy", "--to", to)
	if !strings.Contains(out, "copied 0 snapshots") || !strings.Contains(out, "skipped 2") || !strings.Contains(out, "0 sent") {
		t.Fatalf("second copy said:\n%s", out)
	}
	if n := growth(t, before, enginetest.StoredFiles(t, filepath.Join(srv.Dir, "replica"))); n != 0 {
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
	before := enginetest.StoredFiles(t, target)

	src.fails(exitUsage, "no target", "copy")
	src.fails(exitUsage, "--to names the source", "copy", "--to", src.repo)
	src.fails(exitFailure, "not found", "copy", "--to", target, "no-such-snapshot")
	src.fails(exitNoRepo, "no cairn repository", "copy", "--to", empty)
	src.fails(exitNoRepo, "no cairn repository", "copy", "--to", filepath.Join(dir, "missing"))
	src.fails(exitUsage, "unknown scheme", "copy", "--to", "ftp://host/x")
	t.Setenv("CAIRN_TO_PASSWORD", "not it")
	src.fails(exitPassword, "target", "copy", "--to", target)
	t.Setenv("CAIRN_TO_PASSWORD", "target password")
	if n := growth(t, before, enginetest.StoredFiles(t, target)); n != 0 {
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

// putLog forwards to a server and records the data objects whose upload (POST) the server
// accepted; onPut runs after each, with their count so far.
type putLog struct {
	next  http.Handler
	mu    sync.Mutex
	puts  map[string]int
	n     int
	onPut func(n int)
}

func (p *putLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	p.next.ServeHTTP(rec, r)
	if r.Method != http.MethodPost && r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/data/") || rec.code != http.StatusOK {
		return
	}
	p.mu.Lock()
	p.puts[path.Base(r.URL.Path)]++
	p.n++
	n, fire := p.n, p.onPut
	p.mu.Unlock()
	if fire != nil {
		fire(n)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// TestCopyKilledResumesCLI: a cairn copy process is killed (SIGKILL) once a few packs
// reached the rest-server; run again, it keeps every pack that arrived and sends none
// of their chunks again (they count as already there; no pack is uploaded twice), and
// the copy restores byte for byte.
func TestCopyKilledResumesCLI(t *testing.T) {
	bin := cairnBinary(t)
	srv := resttest.Start(t, "--no-auth")
	upstream, _ := url.Parse(srv.URL)
	log := &putLog{next: httputil.NewSingleHostReverseProxy(upstream), puts: map[string]int{}}
	proxy := httptest.NewServer(log)
	defer proxy.Close()

	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	src := runner{tb: t, repo: filepath.Join(dir, "repo")}
	src.ok("generate", "--size", "6MiB", "--seed", "7", db)
	src.ok("init")
	src.ok("backup", db)
	want := readCollections(t, db)
	to := "rest:" + proxy.URL + "/replica"
	t.Setenv("CAIRN_PASSWORD", "target password")
	runner{tb: t, repo: to}.ok("init", "--pack-size", "128KiB")
	t.Setenv("CAIRN_PASSWORD", "test password")
	t.Setenv("CAIRN_TO_PASSWORD", "target password")

	copyCmd := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, "--no-progress", "--repo", src.repo, "--json", "copy", "--to", to)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		return cmd, &out
	}
	cut, cutOut := copyCmd()
	killed := make(chan struct{})
	var once sync.Once
	log.mu.Lock()
	log.onPut = func(n int) {
		if n == 3 {
			once.Do(func() { close(killed); cut.Process.Kill() }) // closed first: Wait may return before Kill does
		}
	}
	log.mu.Unlock()
	if err := cut.Start(); err != nil {
		t.Fatal(err)
	}
	err := cut.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("the copy ended before 3 packs arrived: %v\n%s", err, cutOut)
	}
	log.mu.Lock()
	log.onPut = nil
	arrived := len(log.puts)
	log.mu.Unlock()

	resumed, out := copyCmd()
	if err := resumed.Run(); err != nil {
		t.Fatalf("resumed copy: %v\n%s", err, out)
	}
	var st struct {
		SnapshotsCopied int   `json:"snapshots_copied"`
		PacksAdopted    int   `json:"packs_adopted"`
		ChunksPresent   int64 `json:"chunks_present"`
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("resumed copy: %v\n%s", err, out)
	}
	log.mu.Lock()
	for name, n := range log.puts {
		if n > 1 {
			t.Errorf("pack %s was sent %d times", name[:8], n)
		}
	}
	total := len(log.puts)
	log.mu.Unlock()
	if st.SnapshotsCopied != 1 || st.PacksAdopted < arrived || st.ChunksPresent == 0 || total <= arrived {
		t.Fatalf("resumed copy %+v; %d packs arrived before the kill, %d in all", st, arrived, total)
	}
	t.Setenv("CAIRN_PASSWORD", "target password")
	restored := filepath.Join(dir, "restored")
	runner{tb: t, repo: to}.ok("restore", "latest", "--target", restored)
	sameFolders(t, want, readCollections(t, restored))
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"cairn/chunk"
)

// runInput runs the command line with in as its standard input.
func (c runner) runInput(in io.Reader, args ...string) result {
	c.tb.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"cairn", "--no-progress"}, args...)
	if c.repo != "" {
		full = append([]string{"cairn", "--no-progress", "--repo", c.repo}, args...)
	}
	code := runWithInput(context.Background(), full, in, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// bare runs exactly the given command line, with no flags added.
func bare(tb testing.TB, args ...string) result {
	tb.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"cairn"}, args...), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// snapshotCount is how many manifests a local repository holds.
func snapshotCount(t *testing.T, repoDir string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoDir, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestGlobalFlagsAnywhere: the global flags are read before the command's name and
// after it, mixed with the command's own flags and arguments, as in restic.
func TestGlobalFlagsAnywhere(t *testing.T) {
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	db := filepath.Join(dir, "db")
	c := runner{tb: t, repo: repoDir}
	c.ok("generate", "--size", "256KiB", db)
	c.ok("init")
	c.ok("backup", db)
	t.Setenv("CAIRN_REPOSITORY", filepath.Join(dir, "no-such-repo"))
	for _, tc := range []struct {
		args []string
		json bool
	}{
		{[]string{"snapshots", "--json", "--repo", repoDir}, true},
		{[]string{"-r", repoDir, "snapshots"}, false},
		{[]string{"--json", "snapshots", "-r", repoDir}, true},
		{[]string{"snapshots", "--repo=" + repoDir, "--json=true"}, true},
		{[]string{"-r", filepath.Join(dir, "elsewhere"), "snapshots", "-r", repoDir}, false}, // after the name wins
		{[]string{"--json", "key", "list", "--repo", repoDir}, true},
		{[]string{"key", "--repo", repoDir, "list", "--json"}, true},
	} {
		r := bare(t, tc.args...)
		if r.code != 0 {
			t.Fatalf("cairn %s: exit %d: %s", strings.Join(tc.args, " "), r.code, r.stderr)
		}
		if got := json.Valid([]byte(r.stdout)); got != tc.json {
			t.Fatalf("cairn %s: JSON output %v, want %v:\n%s", strings.Join(tc.args, " "), got, tc.json, r.stdout)
		}
	}
	target := filepath.Join(dir, "restored")
	if r := bare(t, "restore", "latest", "--target", target, "-r", repoDir, "--no-progress"); r.code != 0 {
		t.Fatalf("restore latest --target D -r X: exit %d: %s", r.code, r.stderr)
	}
	want, _ := os.ReadFile(filepath.Join(db, "tags.jsonl"))
	got, err := os.ReadFile(filepath.Join(target, "tags.jsonl"))
	if err != nil || !bytes.Equal(want, got) || len(want) == 0 {
		t.Fatalf("restore with flags after its argument: %v", err)
	}
	// CAIRN_REPOSITORY stands when no flag names a repository.
	if r := bare(t, "snapshots"); r.code != exitNoRepo {
		t.Fatalf("snapshots with CAIRN_REPOSITORY naming nothing: exit %d: %s", r.code, r.stderr)
	}
}

// TestRunsIndependent: runs share no state, so two at once each see their own
// options and repositories.
func TestRunsIndependent(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	runner{tb: t, repo: a}.ok("init")
	runner{tb: t, repo: b}.ok("init")
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				if r := bare(t, "snapshots", "--json", "-r", a); r.code != 0 || !json.Valid([]byte(r.stdout)) {
					errs <- "json run: " + r.stdout + r.stderr
				}
				return
			}
			if r := bare(t, "snapshots", "-r", b); r.code != 0 || !strings.Contains(r.stdout, "0 snapshots") {
				errs <- "table run: " + r.stdout + r.stderr
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"backup", "snapshots", "version", "completion", "s3:https://host/bucket/prefix"}},
		{[]string{"--help"}, []string{"backup", "completion"}},
		{[]string{}, []string{"COMMANDS", "backup"}},
		{[]string{"help", "backup"}, []string{"cairn backup", "--stdin-from-command", "--stdin-collection", "--repo", "rest:", "local:PATH", "s3:"}},
		{[]string{"backup", "--help"}, []string{"cairn backup", "--stdin-from-command", "--repo"}},
		{[]string{"restore", "latest", "--help"}, []string{"cairn restore", "--target"}},
		{[]string{"help", "key"}, []string{"list", "add", "remove", "passwd"}},
		{[]string{"help", "key", "passwd"}, []string{"cairn key passwd", "--new-password-file"}},
		{[]string{"key", "remove", "--help"}, []string{"cairn key remove", "SLOT"}},
	} {
		r := bare(t, tc.args...)
		if r.code != 0 {
			t.Fatalf("cairn %s: exit %d: %s", strings.Join(tc.args, " "), r.code, r.stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w) {
				t.Fatalf("cairn %s does not say %q:\n%s", strings.Join(tc.args, " "), w, r.stdout)
			}
		}
	}
	for _, args := range [][]string{{"help", "bogus"}, {"bogus"}, {"-r", "x", "bogus", "--json"}} {
		if r := bare(t, args...); r.code != exitUsage {
			t.Fatalf("cairn %s: exit %d, want %d: %s", strings.Join(args, " "), r.code, exitUsage, r.stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	text := bare(t, "version")
	if text.code != 0 {
		t.Fatalf("version: exit %d: %s", text.code, text.stderr)
	}
	simd := "not active"
	if chunk.SIMD() {
		simd = "active"
	}
	for _, w := range []string{"cairn ", "commit ", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH, "simd    " + simd} {
		if !strings.Contains(text.stdout, w) {
			t.Fatalf("version does not say %q:\n%s", w, text.stdout)
		}
	}
	if r := bare(t, "--version"); r.code != 0 || r.stdout != text.stdout {
		t.Fatalf("--version: exit %d:\n%s\nwant\n%s", r.code, r.stdout, text.stdout)
	}
	var b buildInfo
	for _, args := range [][]string{{"version", "--json"}, {"--json", "version"}, {"--version", "--json"}} {
		r := bare(t, args...)
		if err := json.Unmarshal([]byte(r.stdout), &b); r.code != 0 || err != nil {
			t.Fatalf("cairn %s: exit %d, %v:\n%s%s", strings.Join(args, " "), r.code, err, r.stdout, r.stderr)
		}
		if b.Go != runtime.Version() || b.OS != runtime.GOOS || b.Arch != runtime.GOARCH || b.SIMD != chunk.SIMD() || b.Version == "" || b.Commit == "" {
			t.Fatalf("cairn %s: %+v", strings.Join(args, " "), b)
		}
	}
	// What the build sets with -ldflags -X stands before what go build recorded.
	defer func(v, c string) { version, commit = v, c }(version, commit)
	version, commit = "1.2.3", "0123456789abcdef"
	if b := readBuildInfo(); b.Version != "1.2.3" || b.Commit != "0123456789abcdef" {
		t.Fatalf("build info with the variables set: %+v", b)
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"cairn/engine"
	"cairn/engine/localdb"
)

// The assets of the database before and after a record was lost: gone deleted, edit
// changed, new added.
var (
	assetsBefore = []string{`{"id":"keep","v":"old"}`, `{"id":"gone","v":"v1","text":"Lost Snippet"}`, `{"id":"edit","v":"old"}`}
	assetsAfter  = []string{`{"id":"keep","v":"old"}`, `{"id":"edit","v":"new"}`, `{"id":"new","v":"1"}`}
)

// setDatabase replaces the assets of the database file at path, which no one else has
// open.
func setDatabase(t *testing.T, path string, recs []string) {
	t.Helper()
	db, err := localdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	body := strings.Join(recs, "\n") + "\n"
	if err := db.Replace(t.Context(), func(w *localdb.Writer) error { return w.Collection("assets", strings.NewReader(body)) }); err != nil {
		t.Fatal(err)
	}
}

// databaseAssets reads the assets of the database file at path by id.
func databaseAssets(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := localdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	_, err = db.Read(t.Context(), func(name string, rd io.Reader) error {
		if name != "assets" {
			return nil
		}
		return localdb.EachRecord(rd, func(_ int, b []byte) error {
			out[engine.RecordID(b)] = string(b)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantAfterRestore is assetsAfter with gone back.
func wantAfterRestore() string {
	return fmt.Sprint(map[string]string{"keep": assetsAfter[0], "edit": assetsAfter[1], "new": assetsAfter[2], "gone": assetsBefore[1]})
}

// TestFindLogAndRestoreRecordDirectly: find and log follow a record through backups
// of a folder; with no daemon running, restore --record --into-database opens the
// database file and brings back just that record.
func TestFindLogAndRestoreRecordDirectly(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "db")
	c := runner{tb: t, repo: filepath.Join(dir, "repo")}
	c.ok("init")
	write := func(recs []string) {
		t.Helper()
		if err := os.MkdirAll(folder, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(folder, "assets.jsonl"), []byte(strings.Join(recs, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var a, b struct{ ID string }
	write(assetsBefore)
	c.json(&a, "backup", folder)
	write(assetsAfter)
	c.json(&b, "backup", "--read-all", folder)

	var found engine.FindResult
	c.json(&found, "find", "lost SNIPPET")
	if len(found.Records) != 1 || found.Records[0].ID != "gone" || found.Records[0].First != a.ID || found.Records[0].Last != a.ID {
		t.Fatalf("find by text: %+v", found)
	}
	if out := c.ok("find", "edit"); !strings.Contains(out, "assets") || !strings.Contains(out, "edit") || !strings.Contains(out, b.ID) {
		t.Fatalf("find by id:\n%s", out)
	}
	var log struct{ Versions []engine.Version }
	c.json(&log, "log", "assets", "gone")
	if len(log.Versions) != 2 || log.Versions[0].Change != engine.Added || log.Versions[1].Change != engine.Removed || log.Versions[1].Snapshot != b.ID {
		t.Fatalf("log of gone: %+v", log.Versions)
	}
	if out := c.ok("log", "assets", "edit"); !strings.Contains(out, "added") || !strings.Contains(out, "changed") {
		t.Fatalf("log of edit:\n%s", out)
	}
	c.fails(exitFailure, "no snapshot holds", "log", "assets", "never")

	data := filepath.Join(dir, "data")
	dbPath := filepath.Join(data, "pieces.db")
	setDatabase(t, dbPath, assetsAfter)
	c.fails(exitUsage, "--into-database", "restore", a.ID, "--record", "assets/gone")
	c.fails(exitUsage, "not with --target", "restore", a.ID, "--record", "assets/gone", "--into-database", "--target", filepath.Join(dir, "out"))
	c.fails(exitUsage, "COLLECTION/ID", "restore", a.ID, "--record", "gone", "--into-database", "--data", data)
	c.fails(exitUsage, "--record", "restore", a.ID, "--into-database", "--data", data)
	c.fails(exitFailure, `"assets/never"`, "restore", a.ID, "--record", "assets/gone", "--record", "assets/never", "--into-database", "--data", data)
	if got := databaseAssets(t, dbPath); len(got) != 3 || got["gone"] != "" {
		t.Fatalf("a refused restore wrote: %v", got)
	}
	out := c.ok("restore", a.ID, "--record", "assets/gone", "--into-database", "--data", data)
	if !strings.Contains(out, "restored assets/gone from "+a.ID) || strings.Contains(out, "cairn serve") {
		t.Fatalf("restore said %q", out)
	}
	if got := fmt.Sprint(databaseAssets(t, dbPath)); got != wantAfterRestore() {
		t.Fatalf("database after restoring gone:\n%s\nwant\n%s", got, wantAfterRestore())
	}
}

// startStoppableServe runs the real cairn binary's serve on a free loopback port with
// the data folder data, and returns its base URL and a function that stops it with
// an interrupt and waits for it to end. Windows cannot send another process an
// interrupt, so there it is killed (and leaves its address file behind).
func startStoppableServe(t *testing.T, data string) (string, func()) {
	t.Helper()
	cmd := exec.Command(cairnBinary(t), "serve", "--addr", "127.0.0.1:0", "--data", data)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("serve printed nothing: %v %s", err, errb.String())
	}
	go func() { io.Copy(io.Discard, out); exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		if runtime.GOOS == "windows" {
			cmd.Process.Kill()
		} else {
			cmd.Process.Signal(os.Interrupt)
		}
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("serve did not stop on an interrupt: %s", errb.String())
		}
	}
	t.Cleanup(stop)
	return strings.Fields(strings.TrimPrefix(line, "cairn serving on "))[0], stop
}

// TestRestoreRecordThroughDaemon: while a cairn serve process runs on the database,
// restore --record --into-database goes through its API (the database file is
// locked, the address is in serve.addr) and brings back just the record; once the
// daemon has stopped, its address file is gone.
func TestRestoreRecordThroughDaemon(t *testing.T) {
	data := t.TempDir()
	dbPath := filepath.Join(data, "pieces.db")
	setDatabase(t, dbPath, assetsBefore)
	base, stop := startStoppableServe(t, data)
	code, body := post(t, base+"/backups/create", nil)
	if code != 200 {
		t.Fatalf("backup: %d %s", code, body)
	}
	var a struct{ ID string }
	json.Unmarshal(body, &a)
	stop()
	if _, err := os.Stat(filepath.Join(data, serveAddrFile)); runtime.GOOS != "windows" && !os.IsNotExist(err) {
		t.Fatalf("serve.addr after the daemon stopped: %v", err)
	}
	setDatabase(t, dbPath, assetsAfter)

	base, stop = startStoppableServe(t, data)
	c := runner{tb: t}
	c.fails(exitFailure, `"assets/never"`, "restore", a.ID, "--record", "assets/never", "--into-database", "--data", data)
	c.fails(exitFailure, "not found", "restore", "9.9.9", "--record", "assets/gone", "--into-database", "--data", data)
	prefix := a.ID[:len(a.ID)-3] // a unique prefix, resolved against the daemon's backups
	out := c.ok("restore", prefix, "--record", "assets/gone", "--into-database", "--data", data)
	if !strings.Contains(out, "restored assets/gone from "+a.ID+" through cairn serve at "+base) {
		t.Fatalf("restore said %q", out)
	}
	stop()
	if got := fmt.Sprint(databaseAssets(t, dbPath)); got != wantAfterRestore() {
		t.Fatalf("database after restoring gone through the daemon:\n%s\nwant\n%s", got, wantAfterRestore())
	}
}

// TestServeAddrRefusesOtherHosts: an address file naming anything but an http URL on a
// loopback host is refused, so no request goes elsewhere.
func TestServeAddrRefusesOtherHosts(t *testing.T) {
	for content, ok := range map[string]bool{
		"http://127.0.0.1:1000\n":      true,
		"http://localhost:1000":        true,
		"http://[::1]:1000":            true,
		"http://example.com:1000":      false,
		"https://127.0.0.1:1000":       false,
		"http://10.0.0.1:1000":         false,
		"http://127.0.0.1:1000/x":      false,
		"http://user:pw@127.0.0.1:100": false,
		"":                             false,
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, serveAddrFile), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readServeAddr(dir); (err == nil) != ok {
			t.Errorf("address file %q: error %v, want accepted %v", content, err, ok)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cairn/engine/exported"
)

// readFiles reads every file of a folder.
func readFiles(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// sameContents fails unless got holds exactly the files of want, byte for byte.
func sameContents(tb testing.TB, what string, want, got map[string][]byte) {
	tb.Helper()
	if !slices.Equal(slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got))) {
		tb.Fatalf("%s: files %v, want %v", what, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			tb.Fatalf("%s: %s differs (%d bytes, want %d)", what, name, len(got[name]), len(b))
		}
	}
}

// folderDocument is the ExportedDatabase document of a folder of collections.
func folderDocument(tb testing.TB, dir string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	enc := exported.NewEncoder(&buf)
	if err := enc.WriteFolder(dir); err != nil {
		tb.Fatal(err)
	}
	if err := enc.Close(exported.Meta{Version: "11.2.0"}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// startServeProcess starts the cairn binary's serve on a free loopback port with the
// data folder dir, and returns its base URL. The process is killed when the test ends.
func startServeProcess(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command(cairnBinary(t), "serve", "--addr", "127.0.0.1:0", "--data", dir)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "cairn serving on ") {
		t.Fatalf("serve said %q (%v); stderr: %s", line, err, errb.String())
	}
	go io.Copy(io.Discard, out)
	return strings.Fields(strings.TrimPrefix(line, "cairn serving on "))[0]
}

// export reads the daemon's database as an ExportedDatabase document.
func export(t *testing.T, base string) []byte {
	t.Helper()
	res, err := http.Get(base + "/database/export")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("export: %d %v %.200s", res.StatusCode, err, b)
	}
	return b
}

// TestRoundTrip is what a user does on any system, end to end, with the files,
// processes and database of that system (make test-windows runs it under Wine): init,
// a backup, an incremental backup, both snapshots restored byte for byte, check
// --read-data; then cairn serve as a process of its own, and a restore into its local
// database while the daemon holds the database open and a client is midway through
// an export of it (Windows renames nothing over an open file).
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	c := runner{tb: t, repo: filepath.Join(dir, "repo")}
	c.ok("generate", "--size", "2MiB", db)
	first := readFiles(t, db)
	c.ok("init")
	c.ok("backup", db)
	c.ok("generate", "--mutate", "0.02", "--seed", "2", db)
	second := readFiles(t, db)
	c.ok("backup", db)
	var snaps []struct {
		ID string `json:"id"`
	}
	c.json(&snaps, "snapshots")
	if len(snaps) != 2 {
		t.Fatalf("snapshots after two backups: %+v", snaps)
	}
	for i, want := range []map[string][]byte{first, second} {
		target := filepath.Join(dir, "restored", snaps[i].ID)
		c.ok("restore", snaps[i].ID, "--target", target)
		sameContents(t, "restore of snapshot "+snaps[i].ID, want, readFiles(t, target))
	}
	c.ok("check", "--read-data")

	base := startServeProcess(t, filepath.Join(dir, "data"))
	if code, b := post(t, base+"/database/import", folderDocument(t, db)); code != http.StatusNoContent {
		t.Fatalf("import: %d %s", code, b)
	}
	before := export(t, base)
	code, b := post(t, base+"/backups/create", []byte("{}"))
	var backup struct {
		ID string `json:"id"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &backup) != nil || backup.ID == "" {
		t.Fatalf("backup of the local database: %d %s", code, b)
	}
	if code, b := post(t, base+"/database/import", exportedDocument(t, 1<<20)); code != http.StatusNoContent {
		t.Fatalf("second import: %d %s", code, b)
	}
	changed := export(t, base)
	if bytes.Equal(changed, before) {
		t.Fatal("the second import changed nothing; the restore below would prove nothing")
	}

	// A client stops midway through an export: its reader holds the database file.
	res, err := http.Get(base + "/database/export")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	head := make([]byte, 4096)
	if _, err := io.ReadFull(res.Body, head); err != nil {
		t.Fatal(err)
	}
	if code, b := post(t, base+"/backup/"+backup.ID+"/restore", []byte("{}")); code != http.StatusOK {
		t.Fatalf("restore into the local database while it is open and read: %d %s", code, b)
	}
	rest, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(head, rest...); !bytes.Equal(got, changed) {
		t.Fatalf("the export begun before the restore read %d bytes, want the %d of the database it began on", len(got), len(changed))
	}
	if got := export(t, base); !bytes.Equal(got, before) {
		t.Fatalf("after the restore the database exports %d bytes, want the %d backed up", len(got), len(before))
	}
}

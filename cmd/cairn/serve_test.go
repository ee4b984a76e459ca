package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cairn/engine/gendb"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/location"
)

// startServe runs the serve command in-process on a free loopback port with the data
// folder dir, and returns its base URL and a function that stops it and returns its
// exit code.
func startServe(t *testing.T, dir string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"cairn", "serve", "--addr", "127.0.0.1:0", "--data", dir}, pw, &errb)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v %s", err, errb.String())
	}
	go io.Copy(io.Discard, pr)
	stop := func() int {
		cancel()
		c := <-code
		if c != 0 {
			t.Logf("serve: %s", errb.String())
		}
		return c
	}
	return strings.Fields(strings.TrimPrefix(line, "cairn serving on "))[0], stop
}

// post sends a JSON body and returns the status and the answer.
func post(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// exportedDocument is an ExportedDatabase document of a generated database.
func exportedDocument(t *testing.T, size int64) []byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	if _, err := gendb.Generate(dir, gendb.Options{Size: size, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	return folderDocument(t, dir)
}

// TestServeStopsWhileClientsHang: SIGTERM ends the real cairn serve process within
// 10 s while a client has stopped reading an export, another trickles an import in,
// and a restore was started beside them.
func TestServeStopsWhileClientsHang(t *testing.T) {
	dir := t.TempDir()
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
	exited := make(chan error, 1)
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v %s", err, errb.String())
	}
	go func() { exited <- cmd.Wait() }()
	base := strings.Fields(strings.TrimPrefix(line, "cairn serving on "))[0]
	host := strings.TrimPrefix(base, "http://")

	if code, b := post(t, base+"/database/import", exportedDocument(t, 8<<20)); code != 204 {
		t.Fatalf("import: %d %s", code, b)
	}
	code, b := post(t, base+"/backups/create", nil)
	if code != 200 {
		t.Fatalf("backup: %d %s", code, b)
	}
	var backup struct{ ID string }
	json.Unmarshal(b, &backup)

	dial := func() net.Conn {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// A client that reads the first bytes of an export and stops.
	export := dial()
	fmt.Fprintf(export, "GET /database/export HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	if _, err := io.ReadFull(export, make([]byte, 1<<10)); err != nil {
		t.Fatal(err)
	}
	// A client that trickles an import in.
	imp := dial()
	fmt.Fprintf(imp, "POST /database/import HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"version\":\"1\",\"tags\":[", host, 1<<20)
	go func() {
		for {
			if _, err := imp.Write([]byte("97,")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // the trickle itself
		}
	}()
	// A restore beside them, answered or not.
	restore := dial()
	fmt.Fprintf(restore, "POST /backup/%s/restore HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\n\r\n", backup.ID, host)

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		took := time.Since(start)
		t.Logf("cairn serve stopped %v after SIGTERM", took.Round(time.Millisecond))
		if err != nil {
			t.Fatalf("cairn serve ended with %v: %s", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("cairn serve still runs 10 s after SIGTERM: %s", errb.String())
	}
}

// TestServeInterruptedFirstStart: a first start that ended after the default
// repository's key slot was written and before its config leaves a folder with a key
// slot and nothing else; the next start initializes it again instead of answering 511
// for ever, and the repository opens again afterwards.
func TestServeInterruptedFirstStart(t *testing.T) {
	t.Setenv("CAIRN_PASSWORD", "") // the daemon's own password file, as on a fresh machine
	dir := t.TempDir()
	ctx := context.Background()
	pw, err := daemonPassword(filepath.Join(dir, "repository.password"))
	if err != nil {
		t.Fatal(err)
	}
	loc := filepath.Join(dir, "repository")
	be, err := location.Create(ctx, loc, location.Options{})
	if err != nil {
		t.Fatal(err)
	}
	isConfig := func(h transport.Handle) bool { return h.Kind == transport.Config }
	cut := faulty.New(be, faulty.Fault{Method: faulty.Save, Match: isConfig, Fail: true, Permanent: true})
	cfg, _ := repo.NewConfig(time.Now())
	cfg.Encryption = repo.EncryptionXChaCha
	if _, err := repo.Init(ctx, cut, cfg, repo.WithPassword(pw, repo.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1})); err == nil {
		t.Fatal("init with a failing config save succeeded")
	}
	slots := func() []string {
		entries, _ := os.ReadDir(filepath.Join(loc, "keys"))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	interrupted := slots()
	if len(interrupted) != 1 {
		t.Fatalf("the interrupted start left key slots %v, want one", interrupted)
	}
	if _, err := os.Stat(filepath.Join(loc, "config")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the interrupted start left a config: %v", err)
	}

	base, stop := startServe(t, dir)
	code, b := post(t, base+"/backups/create", []byte("{}"))
	if code != 200 {
		stop()
		t.Fatalf("create after an interrupted first start: %d %s", code, b)
	}
	if c := stop(); c != 0 {
		t.Fatalf("serve exited %d", c)
	}
	if now := slots(); len(now) != 1 || now[0] == interrupted[0] {
		t.Fatalf("key slots %v after the new start; want one new one (the interrupted start's was %v)", now, interrupted)
	}
	// The next start opens the repository it made.
	base, stop = startServe(t, dir)
	defer stop()
	res, err := http.Get(base + "/backups")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct{ Iterable []json.RawMessage }
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || res.StatusCode != 200 || len(list.Iterable) != 1 {
		t.Fatalf("list on the next start: %d %v %d backups", res.StatusCode, err, len(list.Iterable))
	}
}

// TestServeDaemonPassword: the default repository's password file is made once,
// readable by the user alone, with no temporary file left, and read back the same;
// a leftover temporary file of a crash changes nothing; an empty file is refused.
func TestServeDaemonPassword(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "repository.password")
	os.WriteFile(name+".tmp", []byte("half a password"), 0o644) // a crash's leftover
	pw, err := daemonPassword(name)
	if err != nil || len(pw) < 40 {
		t.Fatalf("new password %q: %v", pw, err)
	}
	if err := userOnly(name); err != nil { // the mode on Unix, the ACL on Windows
		t.Fatalf("password file: %v", err)
	}
	if _, err := os.Stat(name + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a temporary file is left: %v", err)
	}
	if again, err := daemonPassword(name); err != nil || again != pw {
		t.Fatalf("password read back as %q, %v", again, err)
	}
	os.WriteFile(name, []byte("\n"), 0o600)
	if _, err := daemonPassword(name); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("an empty password file: %v", err)
	}
}

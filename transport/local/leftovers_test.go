package local_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"cairn/transport"
	"cairn/transport/local"
)

// TestHelperHoldTemp is not a test: run by TestLeftoversOfKilledSaves as a child
// process, it makes a held temporary file in CAIRN_HOLD_DIR, prints its name and waits
// to be killed, like a save in a process killed mid-upload.
func TestHelperHoldTemp(t *testing.T) {
	dir := os.Getenv("CAIRN_HOLD_DIR")
	if dir == "" {
		return
	}
	f, err := local.CreateTemp(dir, ".tmp-*")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(f.Name())
	io.Copy(io.Discard, os.Stdin) // until killed
	os.Exit(0)
}

// holdTemp starts a process that holds a new temporary file in dir; it returns the
// file's path and a function that kills the process.
func holdTemp(t *testing.T, dir string) (string, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldTemp$")
	cmd.Env = append(os.Environ(), "CAIRN_HOLD_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := func() {
		cmd.Process.Kill()
		cmd.Wait()
		stdin.Close()
	}
	t.Cleanup(kill)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !filepath.IsAbs(line[:len(line)-1]) {
		t.Fatalf("the holding process said %q (%v)", line, err)
	}
	return line[:len(line)-1], kill
}

func backdate(t *testing.T, path string, age time.Duration) {
	t.Helper()
	old := time.Now().Add(-age)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// TestLeftoversOfKilledSaves: the temporary files of saves in processes that were
// killed are removed by the next Open (the config's folder) and List (the listed
// folders); one a live process holds is kept however old it is, and so is one that
// changed in the last LeftoverAge; once its process is killed, the next List removes
// it.
func TestLeftoversOfKilledSaves(t *testing.T) {
	dir := t.TempDir()
	create(t, dir)
	killed := map[string]string{ // what a killed save left, by the kind that lists it
		"":                          ".tmp-config1",
		string(transport.Index):     filepath.Join("index", ".tmp-1234"),
		string(transport.Data):      filepath.Join("data", "ab", ".tmp-5678"),
		string(transport.Locks):     filepath.Join("locks", ".tmp-9abc"),
		string(transport.Snapshots): filepath.Join("snapshots", ".tmp-def0"),
	}
	for _, rel := range killed {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o400); err != nil {
			t.Fatal(err)
		}
		backdate(t, p, time.Hour)
	}
	recent := filepath.Join(dir, "index", ".tmp-recent")
	if err := os.WriteFile(recent, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	held, kill := holdTemp(t, filepath.Join(dir, "index"))
	backdate(t, held, time.Hour)

	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(dir, killed[""])) {
		t.Error("Open kept the temporary file of a killed config save")
	}
	for _, k := range []transport.Kind{transport.Index, transport.Data, transport.Locks, transport.Snapshots} {
		if err := be.List(t.Context(), k, func(transport.FileInfo) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if exists(filepath.Join(dir, killed[string(k)])) {
			t.Errorf("List %s kept the temporary file of a killed save", k)
		}
	}
	if !exists(held) {
		t.Fatal("List removed the temporary file of a save in progress")
	}
	if !exists(recent) {
		t.Fatal("List removed a temporary file that changed a moment ago")
	}
	kill()
	if err := be.List(t.Context(), transport.Index, func(transport.FileInfo) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if exists(held) {
		t.Fatal("List kept the temporary file of a save whose process was killed")
	}
	// Saves work as before, and leave no temporary file.
	h := transport.Handle{Kind: transport.Index, Name: name}
	if err := be.Save(t.Context(), h, []byte("whole")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "index"))
	if len(entries) != 2 { // the object and the recent leftover
		t.Fatalf("index holds %d entries after a save", len(entries))
	}
}

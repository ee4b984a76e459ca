package localdb

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelperKilledImport is not a test: run by TestOpenRemovesLeftoverOfKilledImport
// as a child process, it opens the database at CAIRN_KILLED_DB, starts an import,
// says so and waits to be killed.
func TestHelperKilledImport(t *testing.T) {
	path := os.Getenv("CAIRN_KILLED_DB")
	if path == "" {
		return
	}
	db, err := Open(path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	p, err := db.BeginMerge(context.Background())
	if err == nil {
		err = p.Collection("assets", strings.NewReader(`{"id":"new"}`+"\n"))
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("importing")
	io.Copy(io.Discard, os.Stdin) // until killed
	os.Exit(0)
}

// TestOpenRemovesLeftoverOfKilledImport: the replacement file an import builds beside
// the database, left behind when its process is killed, is removed by the next Open;
// the database is as it was before the import, and the next import works.
func TestOpenRemovesLeftoverOfKilledImport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pieces.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := merge(db, map[string]string{"assets": `{"id":"old"}` + "\n"}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledImport$")
	cmd.Env = append(os.Environ(), "CAIRN_KILLED_DB="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "importing\n" {
		cmd.Process.Kill()
		t.Fatalf("the importing process said %q (%v)", line, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	stdin.Close()
	if _, err := os.Stat(path + ".new"); err != nil {
		t.Fatalf("the killed import left no replacement file (%v); the test needs one", err)
	}

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := os.Stat(path + ".new"); err == nil {
		t.Fatal("Open kept the replacement file of a killed import")
	}
	if got, _ := dump(t, db); got["assets"] != `{"id":"old"}`+"\n" {
		t.Fatalf("the database after the killed import: %q", got)
	}
	p, err := db.BeginMerge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Collection("assets", strings.NewReader(`{"id":"new"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := dump(t, db); got["assets"] != `{"id":"new"}`+"\n"+`{"id":"old"}`+"\n" {
		t.Fatalf("the database after the next import: %q", got)
	}
}

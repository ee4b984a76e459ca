package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRestrictToUser: a file made with the loosest permissions ends up readable by
// its user alone (checked per system by userOnly: the mode on Unix, the ACL on
// Windows), and its user can still read it.
func TestRestrictToUser(t *testing.T) {
	name := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(name, []byte("secret\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(name, 0o666) // past the umask
	if err := userOnly(name); err == nil {
		t.Fatal("a new 0666 file already counts as readable by its user alone: the check cannot fail")
	}
	if err := restrictToUser(name); err != nil {
		t.Fatal(err)
	}
	if err := userOnly(name); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(name); err != nil || string(b) != "secret\n" {
		t.Fatalf("its user reads %q, %v", b, err)
	}
}

package local_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"cairn/transport"
	"cairn/transport/local"
	"cairn/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Backend { return create(t, t.TempDir()) })
}

func BenchmarkSaveLoad(b *testing.B) {
	transporttest.BenchmarkSaveLoad(b, func(b *testing.B) transport.Backend { return create(b, b.TempDir()) })
}

func create(t testing.TB, dir string) *local.Backend {
	t.Helper()
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

const name = "ab0123456789cdef"

func TestLayout(t *testing.T) {
	dir := t.TempDir()
	be := create(t, dir)
	for _, tc := range []struct {
		h    transport.Handle
		path string
	}{
		{transport.Handle{Kind: transport.Config}, "config"},
		{transport.Handle{Kind: transport.Data, Name: name}, "data/ab/" + name},
		{transport.Handle{Kind: transport.Index, Name: name}, "index/" + name},
		{transport.Handle{Kind: transport.Snapshots, Name: name}, "snapshots/" + name},
		{transport.Handle{Kind: transport.Keys, Name: name}, "keys/" + name},
		{transport.Handle{Kind: transport.Locks, Name: name}, "locks/" + name},
	} {
		if err := be.Save(t.Context(), tc.h, []byte(tc.path)); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(tc.path))
		got, err := os.ReadFile(p)
		if err != nil || string(got) != tc.path {
			t.Fatalf("%s: file %s holds %q, %v", tc.h, tc.path, got, err)
		}
		// Windows has no owner bits: the read-only attribute is what there is.
		if fi, _ := os.Stat(p); fi.Mode().Perm() != fileMode {
			t.Errorf("%s: mode %v, want read-only for the owner", tc.path, fi.Mode().Perm())
		}
	}
	for _, d := range []string{"data", "data/ab", "index", "snapshots", "keys", "locks"} {
		fi, err := os.Stat(filepath.Join(dir, d))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != dirMode {
			t.Errorf("folder %s: %v %v, want a %v folder", d, fi, err, dirMode)
		}
	}
	// A successful save leaves no temporary file behind.
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return err
	})
}

// TestStrayFiles: what a crashed save or a person leaves in the folder is not an object.
func TestStrayFiles(t *testing.T) {
	dir := t.TempDir()
	be := create(t, dir)
	other := "cd0123456789abcd"
	for _, p := range []string{
		"data/ab/.tmp-123456",  // a save that crashed before its rename
		"data/ab/.tmp-" + name, // another one
		"index/.tmp-99",        // one in a flat folder
		"data/ab/" + other,     // an object in the wrong sub-folder
		"data/" + name,         // an object outside any sub-folder
		"data/abc/" + name,     // a sub-folder that is no prefix
		"snapshots/README",     // not hex
		"locks/01234567.json",  // not hex
	} {
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !caseInsensitive {
		upper := filepath.Join(dir, "data", "ab", "AB0123456789CDEF") // not lowercase
		if err := os.WriteFile(upper, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "index", "0123456789abcdef"), 0o700); err != nil {
		t.Fatal(err) // a folder with an object's name
	}
	for _, k := range transport.Kinds {
		err := be.List(t.Context(), k, func(fi transport.FileInfo) error {
			return fmt.Errorf("listed %q", fi.Name)
		})
		if err != nil {
			t.Errorf("list %s: %v", k, err)
		}
	}
	if _, err := be.Stat(t.Context(), transport.Handle{Kind: transport.Data, Name: name}); !be.IsNotExist(err) {
		t.Fatalf("stat of an object whose save crashed: %v", err)
	}
	// Saving it for real works next to the leftovers.
	h := transport.Handle{Kind: transport.Data, Name: name}
	if err := be.Save(t.Context(), h, []byte("whole")); err != nil {
		t.Fatal(err)
	}
	if got, err := transport.LoadAll(t.Context(), be, h); string(got) != "whole" {
		t.Fatalf("load %q, %v", got, err)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	if _, err := local.Open(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("opening a missing folder succeeded")
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := local.Open(file); err == nil {
		t.Fatal("opening a file succeeded")
	}
	if _, err := local.Create(filepath.Join(file, "repo")); err == nil {
		t.Fatal("creating a repository below a file succeeded")
	}

	// A relative path is made absolute once, at open.
	t.Chdir(dir)
	be := create(t, "repo")
	if got, want := be.Location(), "local:"+filepath.Join(dir, "repo"); got != want {
		t.Fatalf("location %q, want %q", got, want)
	}
	h := transport.Handle{Kind: transport.Snapshots, Name: name}
	if err := be.Save(t.Context(), h, []byte("x")); err != nil {
		t.Fatal(err)
	}
	// Create on an existing repository keeps its objects; Open finds them.
	create(t, "repo")
	be, err := local.Open("repo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := be.Stat(t.Context(), h); err != nil {
		t.Fatalf("object lost by a second create: %v", err)
	}
}

// TestIncompleteFolder: a folder opened without the layout Create makes fails saves
// cleanly, and does not call the object missing.
func TestIncompleteFolder(t *testing.T) {
	be, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = be.Save(t.Context(), transport.Handle{Kind: transport.Data, Name: name}, []byte("x"))
	if err == nil || be.IsNotExist(err) || !be.IsPermanent(err) {
		t.Fatalf("save into a folder without data/: %v", err)
	}
	if err := be.Save(t.Context(), transport.Handle{Kind: transport.Config}, []byte("x")); err != nil {
		t.Fatalf("save config: %v", err)
	}
}

func TestIsPermanent(t *testing.T) {
	be := create(t, t.TempDir())
	h := transport.Handle{Kind: transport.Data, Name: name}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{transport.NotExist(h), true},
		{fmt.Errorf("load: %w", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}), true},
		{&fs.PathError{Op: "open", Path: "x", Err: syscall.EACCES}, true},
		{fmt.Errorf("save: %w", context.Canceled), true},
		{context.DeadlineExceeded, true},
		{&fs.PathError{Op: "write", Path: "x", Err: syscall.EIO}, false},
		{&fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, false},
		{errors.New("something else"), false},
	} {
		if got := be.IsPermanent(tc.err); got != tc.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

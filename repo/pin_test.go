package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/mem"
)

// objectCount counts every object a backend holds.
func objectCount(tb testing.TB, be transport.Backend) int {
	tb.Helper()
	n := 0
	for _, k := range transport.Kinds {
		if err := be.List(context.Background(), k, func(transport.FileInfo) error { n++; return nil }); err != nil {
			tb.Fatal(err)
		}
	}
	return n
}

// newRepoAt makes a repository in be; encrypted when password is not empty, with the
// given id unless it is empty.
func newRepoAt(tb testing.TB, be transport.Backend, password, id string, opts ...Option) Config {
	tb.Helper()
	cfg, err := NewConfig(time.Unix(0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	if id != "" {
		cfg.ID = id
	}
	if password != "" {
		cfg.Encryption = EncryptionXChaCha
		opts = append(opts, WithPassword(password, fastKDF))
	}
	if _, err := Init(context.Background(), be, cfg, opts...); err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// TestPins: every mem backend has the location "mem:", so a second one is what a
// storage holder swapping the repository at a location looks like.
func TestPins(t *testing.T) {
	ctx := context.Background()
	const pw = "correct horse"
	pinned := Pins{Dir: t.TempDir()}
	first := mem.New()
	cfg := newRepoAt(t, first, pw, "", WithPins(pinned)) // init pins what it makes
	swapped := mem.New()
	newRepoAt(t, swapped, pw, "") // same password, another id
	plain := mem.New()
	newRepoAt(t, plain, "", cfg.ID) // what a downgrade serves, under the same id
	other := mem.New()
	newRepoAt(t, other, "", "") // and under another one

	for _, tc := range []struct {
		name     string
		be       transport.Backend
		pins     Pins
		password string
		want     string // "" for success
	}{
		{"the pinned repository", first, pinned, pw, ""},
		{"another id", swapped, pinned, pw, "it was repository"},
		{"no encryption where there was", plain, pinned, "", `it was stored with encryption "xchacha20-poly1305"`},
		{"no encryption and another id", other, pinned, "", `it was stored with encryption "xchacha20-poly1305"`},
		{"no encryption with a password, no pin yet", plain, Pins{Dir: t.TempDir()}, pw, "a password was given but its config says it is not encrypted"},
		{"no encryption with a password, pinned", plain, pinned, pw, `it was stored with encryption "xchacha20-poly1305"`},
		{"first contact without a password", plain, Pins{Dir: t.TempDir()}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := objectCount(t, tc.be)
			r, err := Open(ctx, tc.be, WithPassword(tc.password, KDFParams{}), WithPins(tc.pins), WithLock("backup"))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				r.Release(ctx)
				return
			}
			if !errors.Is(err, ErrRepositoryChanged) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("open: %v; want ErrRepositoryChanged saying %q", err, tc.want)
			}
			if strings.HasPrefix(tc.want, "it was") && !strings.Contains(err.Error(), "delete "+tc.pins.Path("mem:")) {
				t.Fatalf("the error does not name the pin to delete: %v", err)
			}
			if after := objectCount(t, tc.be); after != before {
				t.Fatalf("a refused open wrote %d objects", after-before)
			}
			if tc.pins != pinned {
				if _, err := os.Stat(tc.pins.Path("mem:")); !os.IsNotExist(err) {
					t.Fatalf("a refused first contact left a pin: %v", err)
				}
			}
		})
	}

	// The way out for a repository re-created at the same location: init pins anew.
	recreated := mem.New()
	newRepoAt(t, recreated, pw, "", WithPins(pinned))
	if _, err := Open(ctx, recreated, WithPassword(pw, KDFParams{}), WithPins(pinned)); err != nil {
		t.Fatalf("the re-created repository: %v", err)
	}
	if _, err := Open(ctx, first, WithPassword(pw, KDFParams{}), WithPins(pinned)); !errors.Is(err, ErrRepositoryChanged) {
		t.Fatalf("the old repository after init re-pinned: %v", err)
	}
	// So is deleting the pin the error names.
	os.Remove(pinned.Path("mem:"))
	if _, err := Open(ctx, first, WithPassword(pw, KDFParams{}), WithPins(pinned)); err != nil {
		t.Fatalf("after deleting the pin: %v", err)
	}

	// A damaged pin refuses the open and says which file to delete.
	os.WriteFile(pinned.Path("mem:"), []byte(`{"id":"../../x"}`), 0o600)
	if _, err := Open(ctx, first, WithPassword(pw, KDFParams{}), WithPins(pinned)); err == nil || !strings.Contains(err.Error(), pinned.Path("mem:")) {
		t.Fatalf("a damaged pin: %v", err)
	}
}

func TestNormalizeLocation(t *testing.T) {
	same := [][]string{
		{"rest:http://u:secret@HOST:8000/repo/", "rest:http://host:8000/repo", "rest:HTTP://host:8000/repo?x=1#f"},
		{"local:/srv/repo", "local:/srv/repo/", "local:/srv/./repo"},
		{"s3:https://s3.example.com/bucket/prefix", "s3:https://S3.example.com/bucket/prefix/"},
	}
	paths := map[string]bool{}
	for _, group := range same {
		for _, loc := range group[1:] {
			if a, b := normalizeLocation(group[0]), normalizeLocation(loc); a != b {
				t.Errorf("%q -> %q, %q -> %q: want the same", group[0], a, loc, b)
			}
		}
		paths[Pins{Dir: "/pins"}.Path(group[0])] = true
	}
	if len(paths) != len(same) {
		t.Errorf("%d locations share %d pins", len(same), len(paths))
	}
	if n := normalizeLocation("rest:http://u:secret@host/repo"); strings.Contains(n, "secret") {
		t.Errorf("normalized location keeps the password: %q", n)
	}
	if normalizeLocation("rest:http://host/a") == normalizeLocation("rest:http://host/b") {
		t.Error("two repositories share a pin")
	}
}

// TestConfigIDNamesNoPath: the id names the list cache folder, so anything but 32
// lowercase hex digits is damage.
func TestConfigIDNamesNoPath(t *testing.T) {
	good, err := NewConfig(time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "../../escaped", "/etc", "..", strings.Repeat("A", 32), strings.Repeat("a", 31), strings.Repeat("a", 33),
		strings.Repeat("a", 30) + "/.", strings.Repeat("0", 31) + "\x00"} {
		c := good
		c.ID = id
		obj, err := encodeConfig(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeConfig(nil, obj); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "repository id") {
			t.Errorf("id %q: %v", id, err)
		}
		if _, err := NewDirListStore(t.TempDir(), c); !errors.Is(err, ErrDamaged) {
			t.Errorf("list store for id %q: %v", id, err)
		}
	}
}

// TestCachedListsChecked: a stored copy of a list chunk that is truncated or holds
// another list is not used, on the prefetch path as on the direct one: the chunk is
// downloaded again and the copy replaced.
func TestCachedListsChecked(t *testing.T) {
	ctx := context.Background()
	under := faulty.New(mem.New())
	cfg, _ := NewConfig(time.Unix(0, 0))
	r, err := Init(ctx, under, cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := DirListStore{Dir: t.TempDir()}
	r.SetListStore(store)
	a := []chunk.ID{r.ChunkID([]byte("a")), r.ChunkID([]byte("b"))}
	b := []chunk.ID{r.ChunkID([]byte("c")), r.ChunkID([]byte("d")), r.ChunkID([]byte("e"))}
	la, err := r.SaveList(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := r.SaveList(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	copyOf := func(id chunk.ID) string { return filepath.Join(store.Dir, id.String()) }
	whole, err := os.ReadFile(copyOf(la.ID))
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := os.ReadFile(copyOf(lb.ID))
	for _, tc := range []struct {
		name string
		copy []byte
	}{
		{"truncated", whole[:len(whole)/2]},
		{"foreign", foreign},
		{"empty", nil},
	} {
		for _, prefetch := range []bool{true, false} {
			if err := os.WriteFile(copyOf(la.ID), tc.copy, 0o600); err != nil {
				t.Fatal(err)
			}
			r2, err := Open(ctx, under)
			if err != nil {
				t.Fatal(err)
			}
			r2.SetListStore(store)
			if prefetch {
				if err := r2.PrefetchLists(ctx, []chunk.ID{la.ID}); err != nil {
					t.Fatalf("%s: prefetch: %v", tc.name, err)
				}
			}
			got, err := r2.LoadList(ctx, la.ID, nil)
			if err != nil || len(got.Chunks) != len(a) || got.Chunks[0] != a[0] || got.Chunks[1] != a[1] {
				t.Fatalf("%s copy (prefetch %v): %v %v, want %v", tc.name, prefetch, got.Chunks, err, a)
			}
			if now, _ := os.ReadFile(copyOf(la.ID)); string(now) != string(whole) {
				t.Fatalf("%s copy (prefetch %v) was not replaced", tc.name, prefetch)
			}
		}
	}
}

package repo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/transport"
	"cairn/transport/mem"
)

// cacheRepo is a repository for the index cache's tests: its backend, how to open it,
// and the chunks saved so far.
type cacheRepo struct {
	be   transport.Backend
	opts []Option
	ids  []chunk.ID
	rng  *rand.Rand
}

var cacheKinds = []struct {
	name      string
	format    int
	encrypted bool
}{
	{"plain", FormatVersion, false},
	{"encrypted", FormatVersion, true},
	{"format 1", 1, false},
	{"encrypted format 1", 1, true},
}

// newCacheRepo makes a repository (id given, or random when "") with a few index files.
func newCacheRepo(t *testing.T, format int, encrypted bool, id string) *cacheRepo {
	t.Helper()
	cfg, err := NewConfig(time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cfg.PackSize, cfg.Format = 64<<10, format
	if id != "" {
		cfg.ID = id
	}
	c := &cacheRepo{be: mem.New(), rng: rand.New(rand.NewPCG(uint64(format), 7))}
	var opts []Option
	if encrypted {
		cfg.Encryption = EncryptionXChaCha
		opts = append(opts, WithPassword("pw", fastKDF))
		c.opts = append(c.opts, WithPassword("pw", KDFParams{}))
	}
	r, err := Init(context.Background(), c.be, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	c.backup(t, r, 2000)
	return c
}

// backup saves n new chunks through r and flushes; index files of 200 chunks.
func (c *cacheRepo) backup(t *testing.T, r *Repository, n int) {
	t.Helper()
	defer func(n int) { indexFileChunks = n }(indexFileChunks)
	indexFileChunks = 200
	ctx := context.Background()
	for range n {
		data := make([]byte, 100+c.rng.IntN(300))
		for j := range data {
			data[j] = byte(c.rng.Uint32())
		}
		id := r.ChunkID(data)
		if _, err := r.SaveChunk(ctx, id, data); err != nil {
			t.Fatal(err)
		}
		c.ids = append(c.ids, id)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func (c *cacheRepo) open(t *testing.T, extra ...Option) *Repository {
	t.Helper()
	r, err := Open(context.Background(), c.be, append(slices.Clone(c.opts), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// indexBytes is the size of the repository's index files in all.
func (c *cacheRepo) indexBytes(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := c.be.List(context.Background(), transport.Index, func(fi transport.FileInfo) error { n += fi.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func indexNames(t *testing.T, be transport.Backend) []string {
	t.Helper()
	var names []string
	if err := be.List(context.Background(), transport.Index, func(fi transport.FileInfo) error { names = append(names, fi.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// indexedBytes is what r read of index files.
func indexedBytes(r *Repository) int64 { return r.be.Loaded(transport.Index) }

// sameIndexes fails unless a and b index the same chunks at the same places, further
// places included.
func sameIndexes(t *testing.T, a, b *Index) {
	t.Helper()
	collect := func(x *Index) (map[chunk.ID]Location, []string) {
		m := map[chunk.ID]Location{}
		x.Each(func(id chunk.ID, loc Location) { m[id] = loc })
		var dups []string
		x.EachDuplicate(func(id chunk.ID, loc Location) { dups = append(dups, id.String()+loc.Pack.String()) })
		slices.Sort(dups)
		return m, dups
	}
	ma, da := collect(a)
	mb, db := collect(b)
	if !maps.Equal(ma, mb) || !slices.Equal(da, db) {
		t.Fatalf("indexes differ: %d and %d chunks, %d and %d further places", len(ma), len(mb), len(da), len(db))
	}
}

func TestIndexCacheSecondOpenReadsNoIndexFile(t *testing.T) {
	defer func(n int) { cacheSegment = n }(cacheSegment)
	for _, k := range cacheKinds {
		// Sealed files in one segment, in many, and in segments that split entries.
		for _, seg := range []int{1 << 20, 1000, minCacheSegment} {
			cacheSegment = seg
			t.Run(fmt.Sprintf("%s segment %d", k.name, seg), func(t *testing.T) {
				c := newCacheRepo(t, k.format, k.encrypted, "")
				dir := t.TempDir()
				first := c.open(t, WithIndexCache(dir))
				if got, want := indexedBytes(first), c.indexBytes(t); got != want {
					t.Fatalf("first open read %d bytes of index files, want all %d", got, want)
				}
				fi, err := os.Stat(filepath.Join(dir, first.Config().ID))
				if err != nil {
					t.Fatalf("no cache written: %v", err)
				}
				if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
					t.Fatalf("cache file mode %v, want 0600", fi.Mode().Perm())
				}
				second := c.openFromCache(t, dir, "second open")
				if second.Index().Len() != len(c.ids) {
					t.Fatalf("cached index has %d chunks, saved %d", second.Index().Len(), len(c.ids))
				}
				sameIndexes(t, first.Index(), second.Index())
				if !slices.Equal(second.loadedIndex, indexNames(t, c.be)) {
					t.Fatal("the cached load does not name the index files it stands for")
				}
				// Nothing changed: the file is not written again.
				before, _ := os.Stat(filepath.Join(dir, first.Config().ID))
				if err := second.Release(context.Background()); err != nil {
					t.Fatal(err)
				}
				after, _ := os.Stat(filepath.Join(dir, first.Config().ID))
				if !os.SameFile(before, after) {
					t.Fatal("an unchanged cache was written again")
				}
			})
		}
	}
}

func TestIndexCacheStaleLoadsOnlyNewFiles(t *testing.T) {
	for _, k := range cacheKinds {
		t.Run(k.name, func(t *testing.T) {
			ctx := context.Background()
			c := newCacheRepo(t, k.format, k.encrypted, "")
			dir := t.TempDir()
			c.open(t, WithIndexCache(dir)) // writes the cache
			// Another client backs up: its index files are new to the cache.
			old := indexNames(t, c.be)
			c.backup(t, c.open(t), 500)
			var newBytes int64
			c.be.List(ctx, transport.Index, func(fi transport.FileInfo) error {
				if !slices.Contains(old, fi.Name) {
					newBytes += fi.Size
				}
				return nil
			})
			r := c.open(t, WithIndexCache(dir))
			if got := indexedBytes(r); got != newBytes || newBytes == 0 {
				t.Fatalf("stale cache: read %d bytes of index files, want only the new ones' %d", got, newBytes)
			}
			sameIndexes(t, r.Index(), c.open(t).Index())
			// The cache now covers the new files too.
			if again := c.open(t, WithIndexCache(dir)); indexedBytes(again) != 0 {
				t.Fatalf("the cache was not brought up to date: %d bytes read", indexedBytes(again))
			}
			// A backup through a handle with the cache updates it when released.
			c.backup(t, r, 300)
			if err := r.Release(ctx); err != nil {
				t.Fatal(err)
			}
			after := c.openFromCache(t, dir, "after a backup through the cache's handle, the next open")
			sameIndexes(t, after.Index(), c.open(t).Index())
		})
	}
}

func TestIndexCacheAfterPruneLoadsAll(t *testing.T) {
	ctx := context.Background()
	c := newCacheRepo(t, FormatVersion, true, "")
	dir := t.TempDir()
	c.open(t, WithIndexCache(dir))
	// A prune removed an index file (and wrote others): the cache names a file the
	// repository lacks.
	names := indexNames(t, c.be)
	if err := c.be.Remove(ctx, transport.Handle{Kind: transport.Index, Name: names[1]}); err != nil {
		t.Fatal(err)
	}
	r := c.open(t, WithIndexCache(dir))
	if got, want := indexedBytes(r), c.indexBytes(t); got != want {
		t.Fatalf("after a prune: read %d bytes of index files, want a full load of %d", got, want)
	}
	full := c.open(t)
	sameIndexes(t, r.Index(), full.Index())
	if r.Index().Len() >= len(c.ids) {
		t.Fatal("the removed index file's chunks are still indexed")
	}
	if again := c.open(t, WithIndexCache(dir)); indexedBytes(again) != 0 {
		t.Fatal("the full load did not write the cache again")
	}
}

// vmPeak is the process's peak of address space (Linux), 0 where unknown.
func vmPeak() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmPeak:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}

func TestIndexCacheDamageFallsBack(t *testing.T) {
	defer func(n int) { cacheSegment = n }(cacheSegment)
	cacheSegment = 1000 // many segments
	c := newCacheRepo(t, FormatVersion, true, "")
	dir := t.TempDir()
	path := filepath.Join(dir, c.open(t, WithIndexCache(dir)).Config().ID)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A repository with the same id under another key: its cache is well formed and
	// names this repository, but is sealed by the other one's key.
	other := newCacheRepo(t, FormatVersion, true, c.open(t).Config().ID)
	otherDir := t.TempDir()
	other.open(t, WithIndexCache(otherDir))
	foreign, err := os.ReadFile(filepath.Join(otherDir, c.open(t).Config().ID))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(at int) []byte {
		b := slices.Clone(good)
		b[at] ^= 0x40
		return b
	}
	huge := func(field int) []byte {
		b := slices.Clone(good)
		binary.LittleEndian.PutUint32(b[field:], 0xffffffff)
		return b
	}
	cases := []struct {
		name string
		file []byte
	}{
		{"flipped header byte", flip(9)},
		{"flipped count", flip(29)},
		{"flipped nonce base", flip(cacheHeaderSize + 3)},
		{"flipped entry", flip(cacheHeaderSize + cacheNonceBase + 100)},
		{"flipped byte in a later segment", flip(len(good) / 2)},
		{"segments swapped", func() []byte {
			b := slices.Clone(good)
			first, sealed := cacheHeaderSize+cacheNonceBase, 1000+16
			tmp := slices.Clone(b[first : first+sealed])
			copy(b[first:], b[first+sealed:first+2*sealed])
			copy(b[first+sealed:], tmp)
			return b
		}()},
		{"segment size out of bounds", func() []byte { b := slices.Clone(good); binary.LittleEndian.PutUint32(b[44:], 32); return b }()},
		{"segment size changed", func() []byte { b := slices.Clone(good); binary.LittleEndian.PutUint32(b[44:], 2000); return b }()},
		{"flipped tag", flip(len(good) - 1)},
		{"truncated", good[:len(good)-1]},
		{"truncated to the header", good[:cacheHeaderSize]},
		{"empty", nil},
		{"a byte more", append(slices.Clone(good), 0)},
		{"newer version", func() []byte { b := slices.Clone(good); b[8] = cacheVersion + 1; return b }()},
		{"other width", func() []byte { b := slices.Clone(good); b[9] = 32; return b }()},
		{"plain in an encrypted repository", func() []byte { b := slices.Clone(good); b[10] = cacheChecksum; return b }()},
		{"another repository's key", foreign},
		{"huge entry count", huge(28)},
		{"huge further-place count", huge(32)},
		{"huge pack count", huge(36)},
		{"huge name count", huge(40)},
	}
	// First, before any case below could have raised the peak of address space.
	t.Run("huge counts allocate nothing", func(t *testing.T) {
		r := c.open(t, WithIndexCache(dir))
		for _, field := range []int{28, 32, 36, 40} {
			if err := os.WriteFile(path, huge(field), 0o600); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			peak := vmPeak()
			_, _, err := r.readIndexCache()
			runtime.ReadMemStats(&after)
			if !errors.Is(err, errCacheMiss) {
				t.Fatalf("count at %d: %v, want a miss", field, err)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
				t.Fatalf("count at %d: %d bytes allocated for a file of %d", field, n, len(good))
			}
			if grew := vmPeak() - peak; grew > 1<<30 {
				t.Fatalf("count at %d: %d bytes of address space taken for a file of %d", field, grew, len(good))
			}
		}
	})
	want := c.indexBytes(t)
	full := c.open(t)
	reader := c.open(t, WithIndexCache(dir))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.name == "another repository's key" {
				// Same id and counts: only the key tells it apart.
				if _, _, err := reader.readIndexCache(); err == nil || !strings.Contains(err.Error(), "authentication failed") {
					t.Fatalf("foreign cache: %v, want a failed authentication", err)
				}
			}
			r := c.open(t, WithIndexCache(dir))
			if got := indexedBytes(r); got != want {
				t.Fatalf("read %d bytes of index files, want a full load of %d", got, want)
			}
			sameIndexes(t, r.Index(), full.Index())
			// The full load put a good cache back.
			if _, _, err := r.readIndexCache(); err != nil {
				t.Fatalf("no good cache after the full load: %v", err)
			}
		})
	}
}

func TestIndexCacheHostileEntries(t *testing.T) {
	// Well sealed but wrong inside (written by a build with a bug, or a repository's
	// key in the wrong hands): every entry is checked as an index file's are.
	c := newCacheRepo(t, FormatVersion, false, "")
	dir := t.TempDir()
	r := c.open(t, WithIndexCache(dir))
	path := filepath.Join(dir, r.Config().ID)
	s := r.idx.s.(*entries[narrowKey])
	cases := []struct {
		name  string
		spoil func(e []entry[narrowKey], packs []ObjectID) []ObjectID
	}{
		{"unsorted", func(e []entry[narrowKey], p []ObjectID) []ObjectID { e[5], e[6] = e[6], e[5]; return p }},
		{"repeated key", func(e []entry[narrowKey], p []ObjectID) []ObjectID { e[6].k = e[5].k; return p }},
		{"pack ordinal out of range", func(e []entry[narrowKey], p []ObjectID) []ObjectID { e[7].pack = uint32(len(p)); return p }},
		{"location out of range", func(e []entry[narrowKey], p []ObjectID) []ObjectID { e[8].meta = metaFirst | 1<<55; return p }},
		{"offset 0 in the shared form", func(e []entry[narrowKey], p []ObjectID) []ObjectID { e[9].meta = 5; return p }},
		{"pack listed twice", func(e []entry[narrowKey], p []ObjectID) []ObjectID { p[1] = p[0]; return p }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := newIndex(true)
			xs := x.s.(*entries[narrowKey])
			xs.sorted.e = slices.Clone(s.sorted.e)
			x.packs = tc.spoil(xs.sorted.e, slices.Clone(r.idx.packs))
			spoilt := &Repository{cfg: r.cfg, idx: x, icache: indexCache{dir: dir}}
			spoilt.saveIndexCache(r.loadedIndex)
			if _, _, err := r.readIndexCache(); !errors.Is(err, errCacheMiss) {
				t.Fatalf("hostile cache accepted: %v", err)
			}
			got := c.open(t, WithIndexCache(dir))
			if indexedBytes(got) != c.indexBytes(t) {
				t.Fatal("no full load after a hostile cache")
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestIndexCacheConcurrentWritersNeverTear(t *testing.T) {
	c := newCacheRepo(t, FormatVersion, true, "")
	dir := t.TempDir()
	a := c.open(t, WithIndexCache(dir)) // writes the cache: readers always find a file
	c.backup(t, c.open(t), 400)
	b := c.open(t, WithIndexCache(dir)) // a larger index
	path := filepath.Join(dir, a.Config().ID)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, w := range []*Repository{a, b, a, b} {
		wg.Go(func() {
			for range 15 {
				w.saveIndexCache(w.loadedIndex)
			}
		})
	}
	done := make(chan struct{})
	reads, misses, busy := 0, 0, 0
	go func() { // ends when stop is closed
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, names, err := a.readIndexCache()
			reads++
			switch {
			case err != nil && runtime.GOOS == "windows" && !errors.Is(err, errCacheContent):
				// Windows refuses to open a file while another process renames over it:
				// a miss that costs a full load, not a torn file.
				busy++
			case err != nil || !slices.Equal(names, a.loadedIndex) && !slices.Equal(names, b.loadedIndex):
				misses++
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	if misses > 0 || busy == reads {
		t.Fatalf("%d of %d reads during concurrent writes found a torn or unknown file (%d could not open it)", misses, reads, busy)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != filepath.Base(path) {
			t.Fatalf("left behind: %s", e.Name())
		}
	}
	if _, names, err := a.readIndexCache(); err != nil || !slices.Equal(names, b.loadedIndex) && !slices.Equal(names, a.loadedIndex) {
		t.Fatalf("after the writers: %v", err)
	}
}

func TestIndexCacheRefusesUnsafeIDs(t *testing.T) {
	r := &Repository{cfg: Config{ID: "../../etc/" + strings.Repeat("a", 22)}, icache: indexCache{dir: t.TempDir()}}
	if p, ok := r.indexCachePath(); ok {
		t.Fatalf("id from storage became path %s", p)
	}
}

func TestIndexCacheLoadFromStorageReadsEveryFile(t *testing.T) {
	c := newCacheRepo(t, FormatVersion, true, "")
	dir := t.TempDir()
	c.open(t, WithIndexCache(dir))
	r := c.open(t, WithIndexCache(dir))
	if indexedBytes(r) != 0 {
		t.Fatal("the cache was not used")
	}
	if err := r.LoadIndexFromStorage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := indexedBytes(r), c.indexBytes(t); got != want {
		t.Fatalf("LoadIndexFromStorage read %d bytes of index files, want all %d", got, want)
	}
}

// openFromCache opens the repository with the index cache in dir and fails unless it
// read no index file and finds every chunk the test saved; what names the open.
func (c *cacheRepo) openFromCache(t *testing.T, dir, what string) *Repository {
	t.Helper()
	r := c.open(t, WithIndexCache(dir))
	if n := indexedBytes(r); n != 0 {
		t.Fatalf("%s read %d bytes of index files, want none", what, n)
	}
	for _, id := range c.ids {
		if !r.Index().Has(id) {
			t.Fatalf("%s: chunk %s not found through the cache", what, id.Short())
		}
	}
	return r
}

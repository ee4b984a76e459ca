package engine_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/mem"
)

// packReads counts the whole-object loads of each pack: those check's data reading
// makes (chunk lists are read by range).
type packReads struct {
	transport.Backend
	mu    sync.Mutex
	reads map[string]int
	bytes int64
}

func (p *packReads) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if h.Kind == transport.Data && length == 0 && offset == 0 {
		p.mu.Lock()
		p.reads[h.Name]++
		p.mu.Unlock()
	}
	return p.Backend.Load(ctx, h, length, offset, fn)
}

func (p *packReads) take() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.reads
	p.reads = map[string]int{}
	return out
}

// subsetRepo is a repository of many small packs behind a read counter, and the
// sizes of its packs.
func subsetRepo(t *testing.T) (*repo.Repository, *packReads, map[repo.ObjectID]int64) {
	t.Helper()
	counter := &packReads{Backend: mem.New(), reads: map[string]int{}}
	cfg := testConfig(t)
	cfg.PackSize = 64 << 10
	// At a fixed level: auto climbs while uploads wait (a loaded machine), and the
	// smaller frames then fill fewer packs than the test needs.
	r, err := repo.Init(t.Context(), counter, cfg, repo.WithCompression(repo.CompressionOptions{Level: repo.CompressionDefault}))
	if err != nil {
		t.Fatal(err)
	}
	backup(t, r, engine.FolderSource{Dir: generate(t, 4<<20, 5)}, clock())
	sizes, err := r.Packs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) < 12 {
		t.Fatalf("only %d packs; the test needs more", len(sizes))
	}
	counter.take()
	return reopen(t, r, counter), counter, sizes
}

func checkSubset(t *testing.T, r *repo.Repository, opt engine.CheckOptions) *engine.CheckResult {
	t.Helper()
	res, err := engine.Check(t.Context(), r, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("check %s found errors: %+v", opt.Subset, res.Errors)
	}
	return res
}

// TestCheckSubsetPartsCoverAll: the runs 1/3, 2/3 and 3/3 together read every pack
// exactly once, each reads a part of them, and a second run of a part reads the same
// packs.
func TestCheckSubsetPartsCoverAll(t *testing.T) {
	r, counter, sizes := subsetRepo(t)
	total := map[string]int{}
	for n := uint64(1); n <= 3; n++ {
		sub := engine.Subset{Part: n, Parts: 3}
		res := checkSubset(t, r, engine.CheckOptions{Subset: sub})
		reads := counter.take()
		if res.Subset != sub.String() || !res.ReadData || res.PacksRead != len(reads) || res.PacksRead == 0 || res.PacksRead == len(sizes) {
			t.Fatalf("check %s read %d of %d packs (result %+v)", sub, len(reads), len(sizes), res)
		}
		var want int64
		for name, k := range reads {
			total[name] += k
			id, _ := repo.ParseObjectID(name)
			want += sizes[id]
		}
		if res.BytesRead != want {
			t.Errorf("check %s reports %d bytes read, the packs it read hold %d", sub, res.BytesRead, want)
		}
		checkSubset(t, r, engine.CheckOptions{Subset: sub})
		if again := counter.take(); len(again) != len(reads) {
			t.Fatalf("check %s read %d packs, then %d", sub, len(reads), len(again))
		} else {
			for name := range again {
				if reads[name] == 0 {
					t.Fatalf("check %s read pack %s the first run did not", sub, name)
				}
			}
		}
	}
	if len(total) != len(sizes) {
		t.Fatalf("1/3, 2/3 and 3/3 read %d packs of %d", len(total), len(sizes))
	}
	for name, k := range total {
		if k != 1 {
			t.Errorf("pack %s read %d times by 1/3, 2/3 and 3/3", name, k)
		}
	}
}

// TestCheckSubsetRandom: a percentage reads that share of the packs, a size budget
// reads random packs of at most that many bytes, and the same seed picks the same.
func TestCheckSubsetRandom(t *testing.T) {
	r, counter, sizes := subsetRepo(t)
	var largest, all int64
	for _, s := range sizes {
		largest, all = max(largest, s), all+s
	}
	cases := []struct {
		sub            engine.Subset
		minRead, packs int // packs: exactly this many, if not 0
		maxBytes       int64
	}{
		{engine.Subset{Percent: 50}, 1, len(sizes) / 2, all},
		{engine.Subset{Percent: 0.001}, 1, 1, all},
		{engine.Subset{Percent: 100}, 1, len(sizes), all},
		{engine.Subset{Bytes: largest * 3}, 3, 0, largest * 3},
		{engine.Subset{Bytes: all / 2}, 1, 0, all / 2},
		{engine.Subset{Bytes: all * 2}, len(sizes), len(sizes), all},
	}
	for _, tc := range cases {
		t.Run(tc.sub.String(), func(t *testing.T) {
			res := checkSubset(t, r, engine.CheckOptions{Subset: tc.sub, Rand: rand.New(rand.NewPCG(1, 2))})
			first := counter.take()
			if len(first) != res.PacksRead || res.PacksRead < tc.minRead || tc.packs != 0 && res.PacksRead != tc.packs {
				t.Fatalf("read %d packs (result says %d), want at least %d (exactly %d if not 0)", len(first), res.PacksRead, tc.minRead, tc.packs)
			}
			if res.BytesRead > tc.maxBytes {
				t.Fatalf("read %d bytes, more than %d", res.BytesRead, tc.maxBytes)
			}
			checkSubset(t, r, engine.CheckOptions{Subset: tc.sub, Rand: rand.New(rand.NewPCG(1, 2))})
			if again := counter.take(); len(again) != len(first) {
				t.Fatalf("the same seed read %d packs, then %d", len(first), len(again))
			} else {
				for name := range again {
					if first[name] == 0 {
						t.Fatalf("the same seed picked pack %s only the second time", name)
					}
				}
			}
		})
	}
	// A budget smaller than every pack reads nothing.
	res := checkSubset(t, r, engine.CheckOptions{Subset: engine.Subset{Bytes: 10}})
	if res.PacksRead != 0 || res.BytesRead != 0 || len(counter.take()) != 0 {
		t.Fatalf("a 10-byte budget read %d packs, %d bytes", res.PacksRead, res.BytesRead)
	}
}

// TestCheckSubsetFindsDamageOnlyInside: a pack damaged so that its content no longer
// matches its name is found by the part that holds it, and not by the others.
func TestCheckSubsetFindsDamageOnlyInside(t *testing.T) {
	be := mem.New()
	cfg := testConfig(t)
	cfg.PackSize = 64 << 10
	r, err := repo.Init(t.Context(), be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sn := backup(t, r, engine.FolderSource{Dir: generate(t, 1<<20, 9)}, clock())
	col := resolvedCollection(t, r, sn, "formats")
	loc := flipInFrame(t, r, be, col.Chunks[len(col.Chunks)-1])
	part := uint64(loc.Pack[0])<<56 | uint64(loc.Pack[1])<<48 | uint64(loc.Pack[2])<<40 | uint64(loc.Pack[3])<<32 |
		uint64(loc.Pack[4])<<24 | uint64(loc.Pack[5])<<16 | uint64(loc.Pack[6])<<8 | uint64(loc.Pack[7])
	part = part%3 + 1
	for n := uint64(1); n <= 3; n++ {
		res, err := engine.Check(t.Context(), reopen(t, r, be), engine.CheckOptions{Subset: engine.Subset{Part: n, Parts: 3}})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range res.Errors {
			found = found || p.Pack == loc.Pack.String()
		}
		if n == part && (!found || res.OK()) {
			t.Errorf("check %d/3 holds the damaged pack %s but found %+v", n, loc.Pack.Short(), res.Errors)
		}
		if n != part && !res.OK() {
			t.Errorf("check %d/3 does not hold the damaged pack %s but found %+v", n, loc.Pack.Short(), res.Errors)
		}
	}
}

func TestParseSubset(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want engine.Subset
	}{
		{"1/5", engine.Subset{Part: 1, Parts: 5}},
		{"5/5", engine.Subset{Part: 5, Parts: 5}},
		{"10%", engine.Subset{Percent: 10}},
		{"2.5%", engine.Subset{Percent: 2.5}},
		{"100%", engine.Subset{Percent: 100}},
		{"500MiB", engine.Subset{Bytes: 500 << 20}},
		{"2G", engine.Subset{Bytes: 2 << 30}},
		{"1.5k", engine.Subset{Bytes: 1536}},
		{"4096", engine.Subset{Bytes: 4096}},
	} {
		got, err := engine.ParseSubset(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSubset(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if again, err := engine.ParseSubset(got.String()); err != nil || again != got {
			t.Errorf("ParseSubset(%q) = %+v, %v", got.String(), again, err)
		}
	}
	for _, in := range []string{"", "0/3", "4/3", "1/0", "-1/3", "1/3/4", "a/3", "1/", "0%", "101%", "-5%", "NaN%", "inf%", "%",
		"0", "0MiB", "-1MiB", "garbage", "1e3", "infGiB", "NaN", "0x10", "99999999999TiB", "1/2000000"} {
		if got, err := engine.ParseSubset(in); !errors.Is(err, engine.ErrSubset) {
			t.Errorf("ParseSubset(%q) = %+v, %v; want ErrSubset", in, got, err)
		}
	}
}

// TestCheckRefusesBadSubset: a subset out of range, or with --read-data, is refused
// before anything is read.
func TestCheckRefusesBadSubset(t *testing.T) {
	r := newRepo(t, mem.New())
	for _, opt := range []engine.CheckOptions{
		{Subset: engine.Subset{Part: 4, Parts: 3}},
		{Subset: engine.Subset{Percent: 200}},
		{Subset: engine.Subset{Bytes: -1}},
		{Subset: engine.Subset{Part: 1, Parts: 3, Bytes: 10}},
		{Subset: engine.Subset{Part: 1, Parts: 3}, ReadData: true},
	} {
		if _, err := engine.Check(t.Context(), r, opt); !errors.Is(err, engine.ErrSubset) {
			t.Errorf("Check(%+v) = %v, want ErrSubset", opt, err)
		}
	}
}

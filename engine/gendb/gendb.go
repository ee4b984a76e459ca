// Package gendb writes realistic Pieces snippet databases and changes them, for tests
// and benchmarks.
//
// A database is a set of named collections (the byte-array fields of the Pieces SDK's
// ExportedDatabase); a collection is newline-delimited JSON, one record per line, each
// line starting with {"id":"<id>" and the lines sorted by id. The folder form holds one
// <collection>.jsonl per collection and an export.json with the server version.
//
// The records look like what a snippet manager keeps: assets with names, descriptions
// and timestamps; formats and fragments holding code in nine languages built from
// templates; chat messages with prose, lists and fenced code; annotations and
// summaries in prose; small tags, websites, persons and events. Records refer to each
// other by id. Formats, chat messages, fragments and annotations carry most bytes.
// Most records are 150 B to 4 KiB, a few formats are pasted files of up to 256 KiB.
// zstd compresses the whole 3.5 to 4 times, about as much as real code and prose.
//
// The output depends only on the seed and the size. Generation streams: it holds the
// ids of the records, not the records.
package gendb

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Options say what to generate.
type Options struct {
	Size    int64  // bytes of all collections together, about
	Seed    int64  // the same seed and size give the same bytes
	Version string // server version written to export.json; "11.2.0" when empty
}

// Stats describe generated data.
type Stats struct {
	Collections int   `json:"collections"`
	Records     int   `json:"records"`
	Bytes       int64 `json:"bytes"`
}

// DefaultVersion is the server version written when Options.Version is empty.
const DefaultVersion = "11.2.0"

// Database is the plan of a generated database: how many records each collection has,
// their ids and the size of each record's text. Records are rendered when written.
type Database struct {
	seed  uint64
	colls [numKinds]collection
}

type collection struct {
	kind     *kind
	salt     uint64
	ids      []uid    // sorted
	sizes    []uint32 // planned text bytes per record, in id order
	overhead int      // planned bytes of a record besides its text
	maxText  int
}

// New plans a database of about opts.Size bytes.
func New(opts Options) *Database {
	d := &Database{seed: uint64(opts.Seed)}
	over := overheads()
	want := targets(max(opts.Size, 0), over)
	for i := range kinds {
		k := &kinds[i]
		c := &d.colls[i]
		*c = collection{kind: k, salt: hashString(k.name), overhead: over[i], maxText: max(int(want[i]/4), 256)}
		r := newRNG(d.seed, c.salt, 1)
		var sum int64
		for k.render != nil && sum < want[i] && (k.maxRecs == 0 || len(c.sizes) < k.maxRecs) {
			p := min(drawSize(&r, k.sizes), c.maxText)
			n := int64(p + c.overhead)
			if sum+n/2 > want[i] {
				break
			}
			c.sizes = append(c.sizes, uint32(p))
			sum += n
		}
		c.ids = sortedIDs(newRNG(d.seed, c.salt, 2), len(c.sizes))
	}
	return d
}

// targets splits size over the collections by their shares; collections with a
// record limit give what they cannot use to the others.
func targets(size int64, over [numKinds]int) [numKinds]int64 {
	var t [numKinds]int64
	var capped, free, all float64
	for _, k := range kinds {
		all += k.share
	}
	for i, k := range kinds {
		want := k.share / all * float64(size)
		if k.maxRecs > 0 {
			most := float64(k.maxRecs) * float64(over[i]+meanSize(k.sizes))
			if want > most {
				capped += want - most
				want = most
			}
		} else {
			free += k.share
		}
		t[i] = int64(want)
	}
	for i, k := range kinds {
		if k.maxRecs == 0 && free > 0 {
			t[i] += int64(capped * k.share / free)
		}
	}
	return t
}

func meanSize(bs []bucket) int {
	var m float64
	for _, b := range bs {
		if b.hi > b.lo && b.lo > 0 {
			m += b.p * float64(b.hi-b.lo) / math.Log(float64(b.hi)/float64(b.lo))
		} else {
			m += b.p * float64(b.lo)
		}
	}
	return int(m)
}

// sortedIDs returns n distinct random ids in order.
func sortedIDs(r rng, n int) []uid {
	ids := make([]uid, 0, n)
	for len(ids) < n {
		for len(ids) < n {
			ids = append(ids, r.uid())
		}
		slices.SortFunc(ids, uid.compare)
		ids = slices.Compact(ids)
	}
	return ids
}

// overheads measures, per collection, the bytes of a record besides its main text:
// the mean over a fixed sample of the line length minus the planned text size.
var overheads = sync.OnceValue(func() [numKinds]int {
	var out [numKinds]int
	e := &enc{}
	for i := range kinds {
		k := &kinds[i]
		if k.render == nil {
			continue
		}
		const samples = 64
		r := newRNG(uint64(i), 99)
		var extra int
		for j := range samples {
			p := min(drawSize(&r, k.sizes), 2000)
			e.b = e.b[:0]
			e.r = newRNG(uint64(i), 100, uint64(j))
			e.record(k, uid{}, p)
			extra += len(e.b) - p
		}
		out[i] = extra / samples
	}
	return out
})

// Collections returns the names of the database's collections, empty ones included.
func (d *Database) Collections() []string {
	names := make([]string, 0, numKinds)
	for _, k := range kinds {
		names = append(names, k.name)
	}
	return names
}

// WriteCollection writes the records of the named collection to w, in id order.
func (d *Database) WriteCollection(w io.Writer, name string) (Stats, error) {
	for i := range d.colls {
		if kinds[i].name == name {
			return d.write(w, &d.colls[i])
		}
	}
	return Stats{}, fmt.Errorf("write collection %q: no such collection", name)
}

const flushAt = 1 << 20

func (d *Database) write(w io.Writer, c *collection) (Stats, error) {
	st := Stats{Collections: 1, Records: len(c.ids)}
	e := &enc{db: d, b: make([]byte, 0, flushAt+64<<10)}
	var planned int64
	for i, id := range c.ids {
		// Steer the text size so that the written bytes follow the plan: spread the
		// difference so far over the next records.
		want := int(c.sizes[i])
		diff := st.Bytes + int64(len(e.b)) - planned
		p := want - int(diff/int64(min(len(c.ids)-i, 16)))
		p = max(0, min(p, 2*want+512))
		planned += int64(want + c.overhead)
		e.r = newRNG(d.seed, c.salt, 3, uint64(i))
		e.record(c.kind, id, p)
		if len(e.b) >= flushAt {
			if _, err := w.Write(e.b); err != nil {
				return st, fmt.Errorf("write collection %s: %w", c.kind.name, err)
			}
			st.Bytes += int64(len(e.b))
			e.b = e.b[:0]
		}
	}
	if _, err := w.Write(e.b); err != nil {
		return st, fmt.Errorf("write collection %s: %w", c.kind.name, err)
	}
	st.Bytes += int64(len(e.b))
	return st, nil
}

// Generate writes the folder form of a database of about opts.Size bytes into dir,
// creating dir if needed and replacing the files it writes.
func Generate(dir string, opts Options) (Stats, error) {
	var st Stats
	if opts.Size <= 0 {
		return st, fmt.Errorf("generate: size %d is not positive", opts.Size)
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, fmt.Errorf("generate: %w", err)
	}
	meta := fmt.Appendf(nil, `{"version":%s,"schema":{"migration":0,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}}`+"\n",
		appendJSONString(nil, opts.Version))
	if err := os.WriteFile(filepath.Join(dir, "export.json"), meta, 0o644); err != nil {
		return st, fmt.Errorf("generate: %w", err)
	}
	d := New(opts)
	for _, name := range d.Collections() {
		cs, err := d.writeFile(filepath.Join(dir, name+".jsonl"), name)
		if err != nil {
			return st, fmt.Errorf("generate: %w", err)
		}
		st.Collections++
		st.Records += cs.Records
		st.Bytes += cs.Bytes
	}
	return st, nil
}

func (d *Database) writeFile(path, name string) (Stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return Stats{}, err
	}
	st, err := d.WriteCollection(f, name)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return st, err
}

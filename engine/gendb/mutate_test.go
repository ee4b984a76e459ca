package gendb

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// diff compares two reads of a database by record id.
func diff(before, after map[string]*collectionFile) (st MutationStats) {
	for name, old := range before {
		now := after[name]
		for id, line := range old.lines {
			nl, ok := now.lines[id]
			switch {
			case !ok:
				st.Deleted++
			case nl != line:
				st.Edited++
				st.ChangedBytes += int64(len(nl))
			}
		}
		for id, line := range now.lines {
			if _, ok := old.lines[id]; !ok {
				st.Inserted++
				st.ChangedBytes += int64(len(line))
			}
		}
		st.Bytes += now.bytes
	}
	return st
}

func TestMutate(t *testing.T) {
	for _, fraction := range []float64{0.01, 0.03, 0.3} {
		dir, _ := generate(t, 4<<20, 2)
		before := readFolder(t, dir)
		st, err := Mutate(dir, Mutation{Fraction: fraction, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		after := readFolder(t, dir)
		if got := diff(before, after); got != st {
			t.Fatalf("fraction %v: Mutate says %+v, the files show %+v", fraction, st, got)
		}
		total := 0
		for _, c := range before {
			total += len(c.ids)
		}
		k := int(math.Round(fraction * float64(total)))
		if st.Edited != (k+2)/3 || st.Deleted != (k+1)/3 || st.Inserted != k/3 {
			t.Errorf("fraction %v of %d records: %+v", fraction, total, st)
		}
		t.Logf("fraction %v: %+v", fraction, st)
		if fraction == 0.3 {
			// Uniform over records: each sizeable collection gets about its share.
			for name, c := range before {
				if len(c.ids) < 300 {
					continue
				}
				touched := 0
				for _, id := range c.ids {
					if after[name].lines[id] != c.lines[id] {
						touched++
					}
				}
				if share := float64(touched) / float64(len(c.ids)); share < 0.12 || share > 0.28 {
					t.Errorf("%s: %.2f of %d records edited or deleted, want about 0.2", name, share, len(c.ids))
				}
			}
		}
	}
}

func TestMutateNothing(t *testing.T) {
	dir, _ := generate(t, 1<<20, 4)
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	before := map[string][]byte{}
	var total int64
	for _, f := range files {
		before[f], _ = os.ReadFile(f)
		if filepath.Ext(f) == ".jsonl" {
			total += int64(len(before[f]))
		}
	}
	st, err := Mutate(dir, Mutation{Fraction: 0, Seed: 4})
	if err != nil || st != (MutationStats{Bytes: total}) {
		t.Fatalf("fraction 0: %+v, %v", st, err)
	}
	for _, f := range files {
		if b, _ := os.ReadFile(f); !bytes.Equal(b, before[f]) {
			t.Errorf("%s changed", f)
		}
	}
	for _, f := range []float64{-0.1, 1.5, math.NaN()} {
		if _, err := Mutate(dir, Mutation{Fraction: f}); err == nil {
			t.Errorf("fraction %v accepted", f)
		}
	}
	if _, err := Mutate(filepath.Join(dir, "missing"), Mutation{Fraction: 0.1}); err == nil {
		t.Error("missing folder accepted")
	}
}

func TestMutateDeterministic(t *testing.T) {
	a, _ := generate(t, 1<<20, 7)
	b, _ := generate(t, 1<<20, 7)
	for _, dir := range []string{a, b} {
		if _, err := Mutate(dir, Mutation{Fraction: 0.05, Seed: 8}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range kindNames() {
		x, _ := os.ReadFile(filepath.Join(a, name+".jsonl"))
		y, _ := os.ReadFile(filepath.Join(b, name+".jsonl"))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs after the same mutation", name)
		}
	}
}

// TestEditEveryRecord edits every record of a database three times over and checks
// that each edit keeps valid JSON and the id and changes the line.
func TestEditEveryRecord(t *testing.T) {
	dir, _ := generate(t, 1<<20, 10)
	r := newRNG(11)
	for name, c := range readFolder(t, dir) {
		var out bytes.Buffer
		for _, id := range c.ids {
			line := []byte(c.lines[id])
			for range 3 {
				next := edit(line, &r)
				if bytes.Equal(next, line) {
					t.Fatalf("%s/%s: edit changed nothing", name, id)
				}
				line = next
			}
			out.Write(line)
		}
		path := filepath.Join(dir, name+".jsonl")
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	readFolder(t, dir)
}

// TestMutateForeign changes a collection gendb did not write, whose last line lacks
// its newline.
func TestMutateForeign(t *testing.T) {
	dir := t.TempDir()
	data := "{\"id\":\"a\",\"name\":\"one\"}\n{\"id\":\"b\",\"text\":\"tw\\\"o\"}\n{\"id\":\"c\",\"n\":1}\n{\"id\":\"d\"}"
	if err := os.WriteFile(filepath.Join(dir, "things.jsonl"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := Mutate(dir, Mutation{Fraction: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Edited != 2 || st.Deleted != 1 || st.Inserted != 1 {
		t.Errorf("%+v", st)
	}
	readFolder(t, dir)
}

func BenchmarkMutate(b *testing.B) {
	dir, st := generate(b, 64<<20, 1)
	b.SetBytes(st.Bytes)
	seed := int64(0)
	for b.Loop() {
		seed++
		if _, err := Mutate(dir, Mutation{Fraction: 0.01, Seed: seed}); err != nil {
			b.Fatal(err)
		}
	}
}

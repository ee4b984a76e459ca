package gendb

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// records reads every collection of a folder as id -> line.
func records(tb testing.TB, dir string) map[string]map[string]string {
	tb.Helper()
	out := map[string]map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		recs := map[string]string{}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		prev := ""
		for sc.Scan() {
			line := sc.Text()
			var v struct{ ID string }
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				tb.Fatalf("%s: invalid JSON line: %v\n%.200s", name, err, line)
			}
			if !strings.HasPrefix(line, `{"id":"`+v.ID+`"`) {
				tb.Fatalf("%s: line does not start with its id: %.80s", name, line)
			}
			if v.ID <= prev {
				tb.Fatalf("%s: ids not sorted and unique: %q after %q", name, v.ID, prev)
			}
			prev = v.ID
			recs[v.ID] = line
		}
		f.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
		out[name] = recs
	}
	return out
}

func TestGenerate(t *testing.T) {
	for _, size := range []int64{1 << 20, 32 << 20} {
		if size > 1<<20 && testing.Short() {
			continue
		}
		dir := t.TempDir()
		st, err := Generate(dir, Options{Size: size, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if d := float64(st.Bytes-size) / float64(size); d < -0.02 || d > 0.05 {
			t.Fatalf("size %d: generated %d bytes (%.1f%% off)", size, st.Bytes, 100*d)
		}
		recs := records(t, dir)
		n := 0
		for _, r := range recs {
			n += len(r)
		}
		if n != st.Records || len(recs) != st.Collections {
			t.Fatalf("stats say %d records in %d collections, files hold %d in %d", st.Records, st.Collections, n, len(recs))
		}
		if size == 32<<20 {
			var all []byte
			for _, name := range []string{"formats", "assets", "conversationMessages"} {
				b, _ := os.ReadFile(filepath.Join(dir, name+".jsonl"))
				all = append(all, b...)
			}
			enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
			t.Logf("%d records, average %d bytes; zstd (fastest) ratio %.2f", st.Records, st.Bytes/int64(st.Records), float64(len(all))/float64(len(enc.EncodeAll(all, nil))))
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	Generate(a, Options{Size: 512 << 10, Seed: 5})
	Generate(b, Options{Size: 512 << 10, Seed: 5})
	for _, name := range []string{"formats.jsonl", "tags.jsonl", "export.json"} {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if !bytes.Equal(x, y) || len(x) == 0 {
			t.Fatalf("%s differs between two runs with one seed", name)
		}
	}
}

func TestMutate(t *testing.T) {
	dir := t.TempDir()
	if _, err := Generate(dir, Options{Size: 4 << 20, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	before := records(t, dir)
	st, err := Mutate(dir, Mutation{Fraction: 0.03, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	after := records(t, dir)
	var edited, inserted, deleted, total int
	var changed int64
	for name, old := range before {
		total += len(old)
		for id, line := range old {
			nl, ok := after[name][id]
			switch {
			case !ok:
				deleted++
			case nl != line:
				edited++
				changed += int64(len(nl) + 1)
				if len(nl) != len(line) {
					t.Errorf("edit changed the length of %s/%s", name, id)
				}
			}
		}
		for id, line := range after[name] {
			if _, ok := old[id]; !ok {
				inserted++
				changed += int64(len(line) + 1)
			}
		}
	}
	if edited != st.Edited || inserted != st.Inserted || deleted != st.Deleted || changed != st.ChangedBytes {
		t.Fatalf("stats %+v; files show edited %d inserted %d deleted %d changed %d bytes", st, edited, inserted, deleted, changed)
	}
	want := total * 3 / 100
	if got := edited + inserted + deleted; got < want-2 || got > want+2 {
		t.Fatalf("touched %d records of %d, want about %d", got, total, want)
	}
	if st, err := Mutate(dir, Mutation{Fraction: 0, Seed: 4}); err != nil || st.Edited+st.Inserted+st.Deleted != 0 {
		t.Fatalf("fraction 0 changed something: %+v %v", st, err)
	}
}

func BenchmarkGenerate(b *testing.B) {
	const size = 32 << 20
	b.SetBytes(size)
	for b.Loop() {
		if _, err := Generate(b.TempDir(), Options{Size: size, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

package gendb

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// collection is one collection file as read back: its lines, newline included, by id.
type collectionFile struct {
	ids   []string
	lines map[string]string
	bytes int64
}

// readFolder reads and checks every collection of a folder database: each line is a
// JSON object starting with {"id":"<id>", its id a string, the ids strictly increasing.
func readFolder(tb testing.TB, dir string) map[string]*collectionFile {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]*collectionFile{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		c := &collectionFile{lines: map[string]string{}, bytes: int64(len(data))}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			tb.Fatalf("%s: last line has no newline", name)
		}
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			line := data[:i+1]
			data = data[i+1:]
			var rec struct {
				ID *string `json:"id"`
			}
			if err := json.Unmarshal(line, &rec); err != nil {
				tb.Fatalf("%s: invalid JSON line: %v\n%.300s", name, err, line)
			}
			if rec.ID == nil {
				tb.Fatalf("%s: line without a string id: %.100s", name, line)
			}
			id := *rec.ID
			if !bytes.HasPrefix(line, []byte(`{"id":"`+id+`"`)) {
				tb.Fatalf("%s: line does not start with its id: %.100s", name, line)
			}
			if n := len(c.ids); n > 0 && c.ids[n-1] >= id {
				tb.Fatalf("%s: id %q after %q: not sorted or not unique", name, id, c.ids[n-1])
			}
			c.ids = append(c.ids, id)
			c.lines[id] = string(line)
		}
		out[name] = c
	}
	return out
}

func generate(tb testing.TB, size, seed int64) (string, Stats) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "db")
	st, err := Generate(dir, Options{Size: size, Seed: seed})
	if err != nil {
		tb.Fatal(err)
	}
	return dir, st
}

func TestGenerate(t *testing.T) {
	for _, size := range []int64{1 << 20, 32 << 20} {
		dir, st := generate(t, size, 1)
		if d := float64(st.Bytes-size) / float64(size); d < -0.03 || d > 0.03 {
			t.Errorf("size %d: generated %d bytes, %.1f%% off", size, st.Bytes, 100*d)
		}
		db := readFolder(t, dir)
		var records int
		var bytes int64
		for _, c := range db {
			records += len(c.ids)
			bytes += c.bytes
		}
		if len(db) != len(kinds) || st.Collections != len(kinds) || records != st.Records || bytes != st.Bytes {
			t.Errorf("size %d: stats %+v, folder has %d collections, %d records, %d bytes", size, st, len(db), records, bytes)
		}
		for _, name := range []string{"assets", "formats", "fragments", "tags", "conversationMessages", "annotations"} {
			if len(db[name].ids) == 0 {
				t.Errorf("size %d: no %s", size, name)
			}
		}
		if db["files"].bytes != 0 {
			t.Errorf("files is not empty")
		}
		meta, err := os.ReadFile(filepath.Join(dir, "export.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Version string
			Schema  struct {
				Migration int
				Semantic  string
			}
		}
		if err := json.Unmarshal(meta, &m); err != nil || m.Version != DefaultVersion || m.Schema.Semantic != "MAJOR_0_MINOR_0_PATCH_1" {
			t.Errorf("export.json %s: %+v %v", meta, m, err)
		}
	}
}

func TestGenerateSmall(t *testing.T) {
	for _, size := range []int64{1, 4 << 10, 100 << 10} {
		dir, st := generate(t, size, 3)
		readFolder(t, dir)
		if st.Bytes > size+size/10+2048 {
			t.Errorf("size %d: generated %d bytes", size, st.Bytes)
		}
	}
	if _, err := Generate(t.TempDir(), Options{Size: 0}); err == nil {
		t.Error("size 0 accepted")
	}
}

func TestDeterministic(t *testing.T) {
	a, _ := generate(t, 2<<20, 5)
	b, _ := generate(t, 2<<20, 5)
	c, _ := generate(t, 2<<20, 6)
	entries, _ := os.ReadDir(a)
	differ := 0
	for _, e := range entries {
		x, _ := os.ReadFile(filepath.Join(a, e.Name()))
		y, err := os.ReadFile(filepath.Join(b, e.Name()))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with one seed", e.Name())
		}
		z, _ := os.ReadFile(filepath.Join(c, e.Name()))
		if len(x) > 0 && !bytes.Equal(x, z) {
			differ++
		}
	}
	if differ < 20 {
		t.Errorf("another seed changed only %d files", differ)
	}
}

func TestWriteCollection(t *testing.T) {
	opts := Options{Size: 1 << 20, Seed: 9}
	dir := t.TempDir()
	if _, err := Generate(dir, opts); err != nil {
		t.Fatal(err)
	}
	d := New(opts)
	for _, name := range d.Collections() {
		var buf bytes.Buffer
		st, err := d.WriteCollection(&buf, name)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join(dir, name+".jsonl"))
		if !bytes.Equal(buf.Bytes(), want) || st.Bytes != int64(len(want)) || st.Records != bytes.Count(want, []byte("\n")) {
			t.Errorf("%s: streamed %d bytes (stats %+v), file has %d", name, buf.Len(), st, len(want))
		}
	}
	if _, err := d.WriteCollection(&bytes.Buffer{}, "nonsense"); err == nil {
		t.Error("unknown collection accepted")
	}
}

// TestShape logs the record size distribution and the compression ratio, and checks
// the distribution loosely: mostly 150 B to 4 KiB, a tail of big records, none past 256 KiB.
func TestShape(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 32 MiB")
	}
	dir, st := generate(t, 32<<20, 1)
	var sizes []int
	var all []byte
	for _, name := range kindNames() {
		data, err := os.ReadFile(filepath.Join(dir, name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			sizes = append(sizes, len(sc.Bytes())+1)
		}
	}
	slices.Sort(sizes)
	n := len(sizes)
	inside := 0
	for _, s := range sizes {
		if s >= 150 && s <= 4096 {
			inside++
		}
	}
	t.Logf("%d records, %d bytes; record bytes: p10 %d, p50 %d, p90 %d, p99 %d, p99.9 %d, max %d; %.0f%% within 150 B..4 KiB",
		n, st.Bytes, sizes[n/10], sizes[n/2], sizes[n*9/10], sizes[n*99/100], sizes[n*999/1000], sizes[n-1], 100*float64(inside)/float64(n))
	if float64(inside) < 0.85*float64(n) || sizes[n-1] > 256<<10 || sizes[n-1] < 32<<10 {
		t.Errorf("record sizes out of shape")
	}
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level))
		if err != nil {
			t.Fatal(err)
		}
		packed := 0
		for i := 0; i < len(all); i += 1 << 20 {
			packed += len(enc.EncodeAll(all[i:min(i+1<<20, len(all))], nil))
		}
		t.Logf("zstd %v, 1 MiB blocks: ratio %.2f", level, float64(len(all))/float64(packed))
	}
}

func kindNames() []string {
	var names []string
	for _, k := range kinds {
		names = append(names, k.name)
	}
	return names
}

// BenchmarkGenerate writes a fresh 64 MiB folder per round.
func BenchmarkGenerate(b *testing.B) {
	const size = 64 << 20
	dir := filepath.Join(b.TempDir(), "db")
	b.SetBytes(size)
	for b.Loop() {
		if _, err := Generate(dir, Options{Size: size, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkRender measures generation without the file system.
func BenchmarkRender(b *testing.B) {
	const size = 64 << 20
	b.SetBytes(size)
	for b.Loop() {
		d := New(Options{Size: size, Seed: 1})
		for _, name := range d.Collections() {
			if _, err := d.WriteCollection(discard{}, name); err != nil {
				b.Fatal(err)
			}
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

package chunk

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/restic/chunker"
)

func testParams(tb testing.TB) Params {
	tb.Helper()
	// A fixed irreducible polynomial keeps the tests exact.
	p := Params{Polynomial: chunker.Pol(0x3DA3358B4DC173), Seed: 42, Average: 1024, Max: 64 << 10}
	if err := p.Validate(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// split returns copies of the chunks of data.
func split(tb testing.TB, p Params, rd io.Reader) (chunks [][]byte, records int) {
	tb.Helper()
	c := New(rd, p)
	for {
		ch, err := c.Next()
		if err == io.EOF {
			return chunks, records
		}
		if err != nil {
			tb.Fatal(err)
		}
		if len(ch.Data) == 0 {
			tb.Fatal("empty chunk")
		}
		if len(ch.Data) > p.Max {
			tb.Fatalf("chunk of %d bytes exceeds max %d", len(ch.Data), p.Max)
		}
		chunks = append(chunks, bytes.Clone(ch.Data))
		records += ch.Records
	}
}

func records(rng *rand.Rand, n int, size func() int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		body := make([]byte, size())
		for j := range body {
			body[j] = 'a' + byte(rng.Intn(26))
		}
		out[i] = fmt.Appendf(nil, "{\"id\":\"%08d\",\"v\":\"%s\"}\n", i*10, body)
	}
	return out
}

func TestRoundTripAndRecordCount(t *testing.T) {
	p := testParams(t)
	rng := rand.New(rand.NewSource(1))
	binary := make([]byte, 300<<10)
	rng.Read(binary)
	noNewline := bytes.Repeat([]byte("x"), 200<<10)
	small := bytes.Join(records(rng, 2000, func() int { return 20 + rng.Intn(400) }), nil)
	withBig := bytes.Join([][]byte{small[:5000], bytes.Repeat([]byte("long line "), 30<<10), []byte("\n"), small[5000:]}, nil)
	cases := []struct {
		name    string
		data    []byte
		records int
	}{
		{"empty", nil, 0},
		{"one newline", []byte("\n"), 1},
		{"no trailing newline", []byte("a\nb"), 2},
		{"small records", small, 2000},
		{"record larger than max", withBig, 2001},
		{"no newline at all", noNewline, 1},
		{"binary", binary, bytes.Count(binary, []byte("\n")) + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, rd := range []io.Reader{bytes.NewReader(tc.data), iotest.OneByteReader(bytes.NewReader(tc.data)), iotest.DataErrReader(bytes.NewReader(tc.data))} {
				chunks, n := split(t, p, rd)
				if got := bytes.Join(chunks, nil); !bytes.Equal(got, tc.data) {
					t.Fatalf("chunks join to %d bytes, want %d", len(got), len(tc.data))
				}
				if n != tc.records {
					t.Fatalf("records = %d, want %d", n, tc.records)
				}
			}
		})
	}
}

func TestChunksEndOnRecordBoundaries(t *testing.T) {
	p := testParams(t)
	rng := rand.New(rand.NewSource(2))
	data := bytes.Join(records(rng, 5000, func() int { return 50 + rng.Intn(2000) }), nil)
	chunks, _ := split(t, p, bytes.NewReader(data))
	for i, ch := range chunks[:len(chunks)-1] {
		if ch[len(ch)-1] != '\n' {
			t.Fatalf("chunk %d does not end a record", i)
		}
	}
	avg := len(data) / len(chunks)
	if avg < p.Average/2 || avg > p.Average*2 {
		t.Fatalf("average chunk %d bytes, want about %d", avg, p.Average)
	}
}

func TestEditChangesOnlyItsChunk(t *testing.T) {
	p := testParams(t)
	rng := rand.New(rand.NewSource(3))
	recs := records(rng, 4000, func() int { return 50 + rng.Intn(600) })
	before, _ := split(t, p, bytes.NewReader(bytes.Join(recs, nil)))
	known := map[ID]bool{}
	for _, ch := range before {
		known[Hash(ch)] = true
	}
	// Edit one record, delete one, insert one.
	recs[1000] = []byte(`{"id":"00010000","v":"edited"}` + "\n")
	recs = append(recs[:2000], recs[2001:]...)
	recs = append(recs[:3000], append([][]byte{[]byte(`{"id":"00029995","v":"new"}` + "\n")}, recs[3000:]...)...)
	after, _ := split(t, p, bytes.NewReader(bytes.Join(recs, nil)))
	fresh := 0
	for _, ch := range after {
		if !known[Hash(ch)] {
			fresh++
		}
	}
	if fresh > 3 {
		t.Fatalf("%d new chunks after three changed records, want at most 3", fresh)
	}
}

// TestNarrowIDs: a 128-bit id keeps the hash's first 16 bytes, prints as 32 hex digits
// and parses back from them (and from its 64-digit form); a 256-bit id prints whole.
func TestNarrowIDs(t *testing.T) {
	full := Hash([]byte("a record"))
	id := full.Narrow()
	if !id.IsNarrow() || full.IsNarrow() || [16]byte(id[:16]) != [16]byte(full[:16]) {
		t.Fatalf("Narrow(%s) = %s", full, id)
	}
	if s := id.String(); len(s) != 32 || s != full.String()[:32] {
		t.Fatalf("a 128-bit id prints as %q", s)
	}
	if len(full.String()) != 64 {
		t.Fatalf("a 256-bit id prints as %q", full)
	}
	for _, s := range []string{id.String(), id.String() + strings.Repeat("0", 32)} {
		if got, err := ParseID(s); err != nil || got != id {
			t.Fatalf("ParseID(%q) = %s, %v", s, got, err)
		}
	}
	if _, err := ParseID(id.String()[:31]); err == nil {
		t.Fatal("31 hex digits parsed")
	}
}

func TestParseID(t *testing.T) {
	id := Hash([]byte("x"))
	got, err := ParseID(id.String())
	if err != nil || got != id {
		t.Fatalf("ParseID(%s) = %v, %v", id, got, err)
	}
	for _, bad := range []string{"", "zz", id.String()[:63], id.String() + "0"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	p := testParams(t)
	bad := []Params{
		{Polynomial: p.Polynomial, Average: 8, Max: p.Max},
		{Polynomial: p.Polynomial, Average: p.Average, Max: 1 << 30},
		{Polynomial: 4, Average: p.Average, Max: p.Max},
	}
	for _, b := range bad {
		if b.Validate() == nil {
			t.Errorf("Validate(%+v) accepted", b)
		}
	}
}

func BenchmarkChunker(b *testing.B) {
	p := testParams(b)
	p.Average = DefaultAverage
	rng := rand.New(rand.NewSource(4))
	data := bytes.Join(records(rng, 20000, func() int { return 100 + rng.Intn(3000) }), nil)
	b.SetBytes(int64(len(data)))
	c := New(nil, p)
	for b.Loop() {
		c.Reset(bytes.NewReader(data))
		for {
			ch, err := c.Next()
			if err == io.EOF {
				break
			}
			_ = Hash(ch.Data)
		}
	}
}

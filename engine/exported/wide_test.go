package exported

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// plainValues reads compact byte values from buf[i:] one at a time, the rules spelled
// out: one to three digits, no leading zero, at most 255, each followed by a comma. It
// returns the values and the index after each one's comma, up to the first that breaks
// a rule.
func plainValues(buf []byte, i int) (vals []byte, ends []int) {
	for {
		j := i
		for j < len(buf) && buf[j] >= '0' && buf[j] <= '9' {
			j++
		}
		l := j - i
		if l == 0 || l > 3 || l > 1 && buf[i] == '0' || j == len(buf) || buf[j] != ',' {
			return vals, ends
		}
		v, _ := strconv.Atoi(string(buf[i:j]))
		if v > 255 {
			return vals, ends
		}
		vals = append(vals, byte(v))
		ends = append(ends, j+1)
		i = j + 1
	}
}

// checkWide runs compactWide on buf from i and checks it against plainValues.
func checkWide(t *testing.T, buf []byte, i int) int {
	t.Helper()
	p := make([]byte, len(buf)+64)
	n, next := compactWide(p, buf, i)
	vals, ends := plainValues(buf, i)
	switch {
	case n > len(vals):
		t.Fatalf("compactWide read %d values from %q, only %d are right", n, buf[i:], len(vals))
	case !bytes.Equal(p[:n], vals[:n]):
		t.Fatalf("compactWide read %v from %q, want %v", p[:n], buf[i:], vals[:n])
	case n == 0 && next != i, n > 0 && next != ends[n-1]:
		t.Fatalf("compactWide stopped at %d after %d values of %q", next, n, buf[i:])
	}
	return n
}

// TestCompactWideReadsPlainValues: on compact arrays the wide path reads what the
// rules say, every value at once, and leaves anything else to the careful path.
func TestCompactWideReadsPlainValues(t *testing.T) {
	if !haveWide {
		t.Skip("no AVX-512 VBMI2: compactWide reads nothing, compact reads every value")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var clean bytes.Buffer
	clean.WriteString("[")
	for clean.Len() < 1<<16 {
		clean.WriteString(strconv.Itoa(rng.IntN(256)) + ",")
	}
	if n := checkWide(t, clean.Bytes(), 2); n < clean.Len()/5 { // at most 4 bytes a value
		t.Fatalf("compactWide read only %d values of %d bytes of plain values", n, clean.Len())
	}
	// Every kind of flaw, at every place in a block.
	flaws := []string{"256", "300", "999", "1000", "01", "00", "000", "012", ",", " ", "]", "-1", "1.5", "1e2", "\n", "x", "2555"}
	for _, flaw := range flaws {
		for at := 0; at < 80; at++ {
			buf := append([]byte("[,"), bytes.Repeat([]byte("7,"), at/2)...)
			if at%2 == 1 {
				buf = append(buf, "25,"...)
			}
			buf = append(buf, flaw...)
			buf = append(buf, ',')
			buf = append(buf, bytes.Repeat([]byte("199,"), 40)...)
			checkWide(t, buf, 2)
		}
	}
}

func FuzzCompactWide(f *testing.F) {
	f.Add([]byte("1,22,255,0,9,100,10,"))
	f.Add([]byte("256,01,1000,,1 ,]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Blow the input up to several blocks from an alphabet that mostly makes values.
		const alphabet = "0123456789,,,,0122555" + "9 ]-."
		buf := []byte("[,")
		for len(buf) < 300 && len(b) > 0 {
			for _, c := range b {
				buf = append(buf, alphabet[int(c)%len(alphabet)])
			}
		}
		checkWide(t, buf, 2)
	})
}

// TestDecodeFlawInLongArray: a flaw anywhere in a long compact array, where the wide
// path reads, is the same error at the same byte as anywhere else, and what is right
// around it decodes the same.
func TestDecodeFlawInLongArray(t *testing.T) {
	prefix := bytes.Repeat([]byte("104,101,108,108,111,"), 20) // 400 bytes of "hello"
	tests := []struct {
		flaw string // put after prefix and some values; "" ends the document there
		msg  string
	}{
		{"256,", "is 256: byte values are integers 0 to 255"},
		{"999,", "is 999: byte values are integers 0 to 255"},
		{"1000,", "is 1000: byte values are integers 0 to 255"},
		{"01,", "is 01: numbers may not have leading zeros"},
		{"-1,", "is -1: byte values are integers 0 to 255"},
		{"1.5,", "is 1.5: byte values are integers 0 to 255"},
		{"1e2,", "is 1e2: byte values are integers 0 to 255"},
		{",", "(an integer 0 to 255), found ','"},
		{`"a",`, "(an integer 0 to 255), found a string"},
		{"]", "found ']' (a trailing comma?)"},
		{"", "the document ends too early"},
	}
	for _, tt := range tests {
		for extra := range 70 { // the flaw at every place of a block
			doc := []byte(`{"version":"1","assets":[`)
			doc = append(doc, prefix...)
			doc = append(doc, bytes.Repeat([]byte("7,"), extra/2)...)
			if extra%2 == 1 {
				doc = append(doc, "42,"...)
			}
			at := len(doc)
			if tt.flaw == "" {
				_, _, err := decode(doc)
				var se *SyntaxError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("cut after %d bytes: %v", at, err)
				}
				continue
			}
			doc = append(doc, tt.flaw...)
			doc = append(doc, bytes.Repeat([]byte("1,"), 100)...)
			doc = append(doc, "2]}"...)
			_, _, err := decode(doc)
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset != int64(at) || se.Field != "assets" || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("flaw %q at byte %d: %v", tt.flaw, at, err)
			}
		}
	}
	// Whitespace is no flaw: the careful path reads it and the wide one goes on after.
	for extra := range 70 {
		doc := []byte(`{"version":"1","assets":[`)
		doc = append(doc, prefix...)
		doc = append(doc, bytes.Repeat([]byte("7,"), extra)...)
		doc = append(doc, " 9 ,\n"...)
		doc = append(doc, prefix...)
		doc = append(doc, "3]}"...)
		cols, _, err := decode(doc)
		if err != nil {
			t.Fatal(err)
		}
		want := append(append(append([]byte("hello"+strings.Repeat("hello", 19)), bytes.Repeat([]byte{7}, extra)...), 9), []byte(strings.Repeat("hello", 20))...)
		want = append(want, 3)
		if !bytes.Equal(cols["assets"], want) {
			t.Fatalf("whitespace after %d values: got %d bytes, want %d", extra, len(cols["assets"]), len(want))
		}
	}
}

package transport_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"cairn/transport"
)

// sized announces a size that may be wrong.
type sized struct {
	io.Reader
	size int64
}

func (s sized) Size() int64 { return s.size }

func TestReadAll(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	for _, tc := range []struct {
		name string
		rd   io.Reader
		want []byte
		err  bool
	}{
		{"plain", iotest.OneByteReader(bytes.NewReader(data)), data, false},
		{"section", io.NewSectionReader(bytes.NewReader(data), 10, 500), data[10:510], false},
		{"bytes", bytes.NewReader(data), data, false},
		{"empty", bytes.NewReader(nil), []byte{}, false},
		{"exact", sized{iotest.HalfReader(bytes.NewReader(data)), int64(len(data))}, data, false},
		{"unknown", sized{bytes.NewReader(data), -1}, data, false},
		{"short", sized{bytes.NewReader(data), int64(len(data)) + 1}, nil, true},
		{"nothing", sized{strings.NewReader(""), 3}, nil, true},
		{"long", sized{bytes.NewReader(data), int64(len(data)) - 1}, nil, true},
		{"error", sized{iotest.TimeoutReader(bytes.NewReader(data)), int64(len(data))}, nil, true},
	} {
		got, err := transport.ReadAll(tc.rd)
		if tc.err {
			if err == nil {
				t.Errorf("%s: read %d bytes, no error", tc.name, len(got))
			} else if err == io.EOF {
				t.Errorf("%s: io.EOF is not an error a caller sees", tc.name)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", tc.name, len(got), err, len(tc.want))
		}
	}
	_, err := transport.ReadAll(sized{strings.NewReader("ab"), 3})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a reader that ends early: %v, want io.ErrUnexpectedEOF", err)
	}
}

// endless is a body that never ends; it counts what was read of it.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestReadAllMax(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100)
	for _, tc := range []struct {
		name  string
		rd    io.Reader
		limit int64
		want  []byte // nil: ErrTooLarge
	}{
		{"under", iotest.OneByteReader(bytes.NewReader(data)), 2000, data},
		{"exact", iotest.HalfReader(bytes.NewReader(data)), 1000, data},
		{"sized exact", bytes.NewReader(data), 1000, data},
		{"over", iotest.OneByteReader(bytes.NewReader(data)), 999, nil},
		{"announced over", sized{strings.NewReader(""), 1 << 40}, 1000, nil},
		{"unknown size over", sized{bytes.NewReader(data), -1}, 10, nil},
	} {
		got, err := transport.ReadAllMax(tc.rd, tc.limit)
		if tc.want == nil {
			if !errors.Is(err, transport.ErrTooLarge) {
				t.Errorf("%s: %d bytes, %v; want ErrTooLarge", tc.name, len(got), err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", tc.name, len(got), err, len(tc.want))
		}
	}
	// A body without end is read one byte past the limit, and no further.
	e := &endless{}
	_, err := transport.ReadAllMax(e, 1<<20)
	if !errors.Is(err, transport.ErrTooLarge) || e.n != 1<<20+1 {
		t.Errorf("endless body: read %d bytes, %v; want %d bytes and ErrTooLarge", e.n, err, 1<<20+1)
	}
	// One that announces more than the limit is not read at all.
	e = &endless{}
	if _, err := transport.ReadAllMax(sized{e, 1 << 40}, 1<<20); !errors.Is(err, transport.ErrTooLarge) || e.n != 0 {
		t.Errorf("announced 1 TiB: read %d bytes, %v; want none and ErrTooLarge", e.n, err)
	}
}

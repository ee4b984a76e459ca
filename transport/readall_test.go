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

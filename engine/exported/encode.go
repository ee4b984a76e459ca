package exported

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// numbers holds "0,".."255," for the array hot path.
var numbers [256][]byte

func init() {
	for i := range numbers {
		numbers[i] = []byte(strconv.Itoa(i) + ",")
	}
}

// Encoder writes a document one collection at a time.
type Encoder struct {
	w       *bufio.Writer
	schemas map[string]json.RawMessage
	written []string
	err     error
	buf     []byte
}

// NewEncoder returns an encoder writing to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: bufio.NewWriterSize(w, 256<<10)} }

func (e *Encoder) key(name string) {
	if len(e.written) == 0 {
		e.w.WriteByte('{')
	} else {
		e.w.WriteByte(',')
	}
	e.written = append(e.written, name)
	e.w.WriteByte('"')
	e.w.WriteString(name)
	e.w.WriteString(`":`)
}

// WriteCollection writes one collection field from its bytes in the collection byte
// format; value sets are turned back into ExportedDatabaseFormats objects.
func (e *Encoder) WriteCollection(name string, r io.Reader) error {
	return e.writeCollection(name, r, e.schemas[name])
}

// SetValueSchemas gives the top-level schemas of the value sets, written with them.
func (e *Encoder) SetValueSchemas(m map[string]json.RawMessage) { e.schemas = m }

func (e *Encoder) writeCollection(name string, r io.Reader, schema json.RawMessage) error {
	if e.err != nil {
		return e.err
	}
	if !IsCollection(name) {
		return fmt.Errorf("exported database has no collection %q", name)
	}
	if slices.Contains(e.written, name) {
		return fmt.Errorf("collection %q written twice", name)
	}
	e.key(name)
	if IsValueSet(name) {
		e.err = e.valueSet(name, r, schema)
	} else {
		e.err = e.bytes(r)
	}
	return e.err
}

func (e *Encoder) bytes(r io.Reader) error {
	e.w.WriteByte('[')
	if cap(e.buf) < 64<<10 {
		e.buf = make([]byte, 64<<10)
	}
	buf := e.buf[:64<<10]
	first := true
	out := make([]byte, 0, 4*len(buf)+1)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			out = out[:0]
			for _, b := range buf[:n] {
				out = append(out, numbers[b]...)
			}
			if first {
				first = false
			} else {
				e.w.WriteByte(',')
			}
			e.w.Write(out[:len(out)-1]) // no comma after the last number of the piece
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	_, err := e.w.WriteString("]")
	return err
}

// valueSet writes {"iterable":[...],"schema":...} from canonical lines.
func (e *Encoder) valueSet(name string, r io.Reader, schema json.RawMessage) error {
	e.w.WriteString(`{"iterable":[`)
	br := bufio.NewReaderSize(r, 64<<10)
	first := true
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			var v valueLine
			if jerr := json.Unmarshal(b, &v); jerr != nil {
				return fmt.Errorf("collection %s line %d is not a value entry: %v", name, line, jerr)
			}
			if !first {
				e.w.WriteByte(',')
			}
			first = false
			id, _ := json.Marshal(v.ID)
			e.w.WriteString(`{"id":`)
			e.w.Write(id)
			e.w.WriteString(`,"raw":`)
			if err := e.bytes(bytes.NewReader(v.Raw)); err != nil {
				return err
			}
			if len(v.Schema) > 0 {
				e.w.WriteString(`,"schema":`)
				e.w.Write(v.Schema)
			}
			e.w.WriteByte('}')
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	e.w.WriteByte(']')
	if len(schema) > 0 {
		e.w.WriteString(`,"schema":`)
		e.w.Write(schema)
	}
	_, err := e.w.WriteString("}")
	return err
}

// Close writes the required fields not yet written (empty), the version and the
// schema, and ends the document.
func (e *Encoder) Close(m Meta) error {
	if e.err != nil {
		return e.err
	}
	for _, name := range Collections {
		if required(name) && !slices.Contains(e.written, name) {
			if err := e.writeCollection(name, bytes.NewReader(nil), m.ValueSchemas[name]); err != nil {
				return err
			}
		}
	}
	e.key("version")
	v, _ := json.Marshal(m.Version)
	e.w.Write(v)
	if len(m.Schema) > 0 {
		e.key("schema")
		e.w.Write(m.Schema)
	}
	e.w.WriteByte('}')
	e.err = e.w.Flush()
	return e.err
}

package exported

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

const (
	outSize = 256 << 10 // the encoder's output buffer
	inSize  = 64 << 10  // bytes read from a collection at a time
	b64Size = 64 << 10  // base64 characters decoded at a time; a multiple of 4
)

// numText[b] holds the bytes of the string strconv.Itoa(b)+"," ("0,".."255,") in a
// little-endian word, numLen[b] its length: one 4-byte store per byte value.
var numText, numLen = commaNumbers()

func commaNumbers() (text [256]uint32, length [256]uint8) {
	for i := range 256 {
		var b [4]byte
		s := strconv.Itoa(i) + ","
		copy(b[:], s)
		text[i] = binary.LittleEndian.Uint32(b[:])
		length[i] = uint8(len(s))
	}
	return text, length
}

// strict decodes the canonical base64 of value lines, refusing non-zero padding bits.
var strict = base64.StdEncoding.Strict()

// Encoder writes a document one collection at a time, as compact JSON.
type Encoder struct {
	w       io.Writer
	out     []byte
	err     error // sticky: the document is broken
	closed  bool
	members int    // members written, for commas
	written uint64 // bit i: fields[i] written
	more    bool   // the array being written has a value

	valueSchemas map[string]json.RawMessage // as given to SetValueSchemas
	used         map[string][]byte          // the canonical schema each value set was written with

	in, id, raw, schema, key, quads, dec []byte
}

// NewEncoder returns an encoder writing to w. Output is buffered (up to 256 KiB at a
// time); Close flushes it. The encoder does not close w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w,
		valueSchemas: map[string]json.RawMessage{}, used: map[string][]byte{}}
}

// SetValueSchemas gives the top-level schemas (EmbeddedModelSchema JSON) of the value sets
// written after it, by collection name, as Decode reports them in Meta.ValueSchemas.
// A value set's schema must be known when it is written: the object closes with it.
// A schema that is not valid makes WriteCollection (or Close) of that value set fail.
func (e *Encoder) SetValueSchemas(m map[string]json.RawMessage) {
	for name, raw := range m {
		e.valueSchemas[name] = raw
	}
}

// WriteCollection writes one collection field from its bytes in the collection byte
// format: a byte-array collection's bytes as they are, a value set's canonical lines
// turned back into an ExportedDatabaseFormats object (blank lines are skipped; the fields
// of a line may come in any order). Unknown names and names written before are errors.
func (e *Encoder) WriteCollection(name string, r io.Reader) error {
	i := collectionIndex(name)
	if i < 0 {
		return fmt.Errorf("exported: write collection: %q is not a collection of an ExportedDatabase", name)
	}
	return e.write(i, r)
}

// write writes collection fields[i] from r; a nil r is empty.
func (e *Encoder) write(i int, r io.Reader) error {
	switch {
	case e.err != nil:
		return e.err
	case e.closed:
		return errors.New("exported: write collection after Close")
	case e.written&(1<<i) != 0:
		return fmt.Errorf("exported: write collection: %q written twice", fields[i].name)
	}
	e.written |= 1 << i
	e.member(fields[i].name)
	var err error
	if fields[i].kind == kindValues {
		err = e.valueSet(fields[i].name, r)
	} else {
		err = e.bytes(r)
	}
	if err == nil {
		err = e.err
	}
	e.err = err
	return err
}

// member starts a member of the document.
func (e *Encoder) member(name string) {
	if e.members == 0 {
		e.out = append(e.out, '{')
	} else {
		e.out = append(e.out, ',')
	}
	e.members++
	e.out = append(e.out, '"')
	e.out = append(e.out, name...)
	e.out = append(e.out, '"', ':')
}

func (e *Encoder) flush() {
	if e.err == nil && len(e.out) > 0 {
		_, e.err = e.w.Write(e.out)
	}
	e.out = e.out[:0]
}

// reserve makes room for n more bytes in out, flushing first if out would grow past
// outSize.
func (e *Encoder) reserve(n int) {
	if len(e.out)+n > outSize && len(e.out) > 0 {
		e.flush()
	}
	e.out = slices.Grow(e.out, n)
}

// bytes writes an array of the bytes of r.
func (e *Encoder) bytes(r io.Reader) error {
	e.out = append(e.out, '[')
	e.more = false
	if r == nil { // empty
	} else if wt, ok := r.(io.WriterTo); ok { // a bytes.Reader, a file: no copy through e.in
		if _, err := wt.WriteTo(numberWriter{e}); err != nil {
			return fmt.Errorf("exported: read collection: %w", err)
		}
	} else {
		if e.in == nil {
			e.in = make([]byte, inSize)
		}
		for {
			n, err := r.Read(e.in)
			e.numbers(e.in[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("exported: read collection: %w", err)
			}
		}
	}
	e.out = append(e.out, ']')
	return nil
}

// numberWriter writes byte values into the open array of an Encoder.
type numberWriter struct{ e *Encoder }

func (w numberWriter) Write(p []byte) (int, error) {
	w.e.numbers(p)
	if w.e.err != nil {
		return 0, w.e.err
	}
	return len(p), nil
}

// numbers writes byte values into the open array: the encoder's hot path.
func (e *Encoder) numbers(data []byte) {
	for len(data) > 0 {
		e.reserve(min(4*len(data)+1, outSize/2))
		k := min(len(data), (cap(e.out)-len(e.out)-1)/4)
		if e.more {
			e.out = append(e.out, ',')
		}
		out := e.out[:cap(e.out)]
		j := len(e.out)
		for _, b := range data[:k] {
			binary.LittleEndian.PutUint32(out[j:], numText[b])
			j += int(numLen[b])
		}
		e.out = out[:j-1] // no comma after the last value
		e.more = true
		data = data[k:]
	}
}

// valueSet writes an ExportedDatabaseFormats object from canonical lines.
func (e *Encoder) valueSet(name string, r io.Reader) error {
	schema, err := canonicalSchema(e.valueSchemas[name])
	if err != nil {
		return fmt.Errorf("exported: schema of %s: %w", name, err)
	}
	e.used[name] = schema
	e.out = append(e.out, `{"iterable":[`...)
	line, first := 1, true
	var s *scanner
	if r != nil {
		s = newScanner(r, 64<<10)
	}
	for s != nil {
		c, ok := s.peek()
		if !ok {
			if s.rerr != io.EOF {
				return fmt.Errorf("exported: read collection %s: %w", name, s.rerr)
			}
			break
		}
		switch c {
		case ' ', '\t', '\r':
			s.i++
			continue
		case '\n':
			s.i++
			line++
			continue
		}
		if !first {
			e.out = append(e.out, ',')
		}
		first = false
		if err := e.valueLine(s); err != nil {
			return lineErr(name, line, err)
		}
		for { // the rest of the line
			c, ok := s.peek()
			if !ok {
				break
			}
			if c == ' ' || c == '\t' || c == '\r' {
				s.i++
				continue
			}
			if c == '\n' {
				s.i++
				line++
				break
			}
			return lineErr(name, line, s.errHere("expected the end of the line after a record, found %s (one record per line)", describe(c)))
		}
		if e.err != nil {
			return e.err
		}
	}
	e.out = append(e.out, ']')
	if schema != nil {
		e.out = append(e.out, `,"schema":`...)
		e.out = append(e.out, schema...)
	}
	e.out = append(e.out, '}')
	return nil
}

// lineErr reports a bad line of a value-set collection.
func lineErr(name string, line int, err error) error {
	var se *SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("exported: collection %s, line %d, byte %d: %s", name, line, se.Offset, se.Msg)
	}
	return fmt.Errorf("exported: collection %s, line %d: %w", name, line, err)
}

const lineShape = `a value record {"id": string, "raw": base64 string, "schema"?: {...}}`

// valueLine writes one iterable entry from the record at the scanner.
func (e *Encoder) valueLine(s *scanner) error {
	start := s.offset()
	empty, err := s.openObject(lineShape)
	if err != nil {
		return err
	}
	e.id, e.raw, e.schema = e.id[:0], e.raw[:0], e.schema[:0]
	var haveID, haveRaw, haveSchema, streamed bool
	for !empty {
		keyOff := s.offset()
		if e.key, err = s.key(e.key[:0]); err != nil {
			return err
		}
		c, err := s.next("a value")
		if err != nil {
			return err
		}
		switch string(e.key) {
		case "id":
			if haveID {
				return s.errAt(keyOff, `duplicate field "id"`)
			}
			haveID = true
			if c != '"' {
				return s.errHere("id must be a string, found %s", describe(c))
			}
			e.id, err = s.str(e.id, maxID, "id")
		case "raw":
			if haveRaw {
				return s.errAt(keyOff, `duplicate field "raw"`)
			}
			haveRaw = true
			if c != '"' {
				return s.errHere("raw must be a base64 string, found %s", describe(c))
			}
			if haveID { // the canonical order: stream raw
				streamed = true
				e.entryStart()
				err = e.base64(s, e.numbers)
				e.out = append(e.out, ']')
			} else {
				err = e.base64(s, func(b []byte) { e.raw = append(e.raw, b...) })
			}
		case "schema":
			if haveSchema {
				return s.errAt(keyOff, `duplicate field "schema"`)
			}
			haveSchema = true
			if c == 'n' {
				err = s.null()
				break
			}
			e.schema, err = s.schema(e.schema)
		default:
			return s.errAt(keyOff, "unknown field %q: expected %s", e.key, lineShape)
		}
		if err != nil {
			return err
		}
		if empty, err = s.afterMember("a value record"); err != nil {
			return err
		}
	}
	if !haveID || !haveRaw {
		return s.errAt(start, "expected %s", lineShape)
	}
	if !streamed {
		e.entryStart()
		e.numbers(e.raw)
		e.out = append(e.out, ']')
	}
	if len(e.schema) > 0 {
		e.out = append(e.out, `,"schema":`...)
		e.out = append(e.out, e.schema...)
	}
	e.out = append(e.out, '}')
	return nil
}

// entryStart writes an entry up to the '[' of its raw.
func (e *Encoder) entryStart() {
	e.reserve(len(e.id)*6 + 32)
	e.out = append(e.out, `{"id":`...)
	e.out, _ = appendString(e.out, e.id) // str produced it: valid
	e.out = append(e.out, `,"raw":[`...)
	e.more = false
}

var isBase64 = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=" {
		t[c] = true
	}
	return t
}()

// base64 reads the base64 string whose '"' is next and passes its bytes to emit, a piece
// at a time.
func (e *Encoder) base64(s *scanner, emit func([]byte)) error {
	if e.quads == nil {
		e.quads = make([]byte, 0, b64Size)
		e.dec = make([]byte, b64Size/4*3)
	}
	s.i++ // the opening quote
	q := e.quads[:0]
	var qOff int64 // offset of q[0]
	decode := func(final bool) error {
		if !final && bytes.IndexByte(q, '=') >= 0 {
			return s.errAt(qOff+int64(bytes.IndexByte(q, '=')), "raw has '=' padding before its end")
		}
		if final && len(q)%4 != 0 {
			return s.errHere("raw is not padded base64: its length is not a multiple of 4")
		}
		n, err := strict.Decode(e.dec, q)
		if err != nil {
			var ce base64.CorruptInputError
			if errors.As(err, &ce) {
				return s.errAt(qOff+int64(ce), "raw is not canonical base64 (standard alphabet, padded)")
			}
			return s.errAt(qOff, "raw is not base64: %v", err)
		}
		emit(e.dec[:n])
		q = q[:0]
		return nil
	}
	for {
		if s.i >= len(s.buf) && !s.fill(1) {
			return s.endErr("the closing '\"' of raw")
		}
		buf := s.buf
		j := s.i
		for j < len(buf) && isBase64[buf[j]] {
			j++
		}
		for s.i < j {
			if len(q) == 0 {
				qOff = s.offset()
			}
			k := min(j-s.i, cap(q)-len(q))
			q = append(q, buf[s.i:s.i+k]...)
			s.i += k
			if len(q) == cap(q) {
				if err := decode(false); err != nil {
					return err
				}
			}
		}
		if j == len(buf) {
			continue
		}
		switch c := buf[j]; c {
		case '"':
			err := decode(true)
			s.i++
			return err
		case '\\':
			return s.errHere("raw must be plain base64, without escapes")
		default:
			return s.errHere("raw has %s, which is not a base64 character", describe(c))
		}
	}
}

// Close writes the required fields not yet written (empty byte arrays, values as
// {"iterable":[]} with its schema from m.ValueSchemas or SetValueSchemas), the version,
// the schema if m has one, and the closing brace, and flushes. m.Present is not used.
// A schema in m.ValueSchemas for a value set already written must be the one it was
// written with.
func (e *Encoder) Close(m Meta) error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return errors.New("exported: Close called twice")
	}
	for name := range e.valueSchemas {
		if !IsValueSet(name) {
			return fmt.Errorf("exported: close: %q given to SetValueSchemas is not a value set", name)
		}
	}
	for name, raw := range m.ValueSchemas {
		i := collectionIndex(name)
		if i < 0 || fields[i].kind != kindValues {
			return fmt.Errorf("exported: close: %q in ValueSchemas is not a value set", name)
		}
		if e.written&(1<<i) == 0 {
			e.valueSchemas[name] = raw
			continue
		}
		c, err := canonicalSchema(raw)
		if err != nil {
			return fmt.Errorf("exported: close: schema of %s: %w", name, err)
		}
		if c != nil && !bytes.Equal(c, e.used[name]) {
			return fmt.Errorf("exported: close: %s was written with schema %q, Meta says %s (call SetValueSchemas before WriteCollection)", name, e.used[name], c)
		}
	}
	schema, err := canonicalSchema(m.Schema)
	if err != nil {
		return fmt.Errorf("exported: close: schema: %w", err)
	}
	version, ok := appendString(nil, []byte(m.Version))
	if !ok {
		return fmt.Errorf("exported: close: version %q is not valid UTF-8", m.Version)
	}
	for i, f := range fields {
		if f.required && (f.kind == kindBytes || f.kind == kindValues) && e.written&(1<<i) == 0 {
			if err := e.write(i, nil); err != nil {
				return err
			}
		}
	}
	e.member("version")
	e.out = append(e.out, version...)
	if schema != nil {
		e.member("schema")
		e.out = append(e.out, schema...)
	}
	e.out = append(e.out, '}')
	e.flush()
	e.closed = true
	return e.err
}

// canonicalSchema checks an EmbeddedModelSchema and returns its canonical form; nil for
// none (empty or null).
func canonicalSchema(raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	s := newScanner(bytes.NewReader(raw), 16)
	c, err := s.schema(nil)
	if err != nil {
		return nil, err
	}
	if _, ok := s.skipWS(); ok {
		return nil, s.errHere("data after the schema object")
	}
	return c, nil
}

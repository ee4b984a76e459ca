package exported

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
)

const (
	readSize = 128 << 10 // the decoder's bufio.Reader
	rawChunk = 48 << 10  // raw bytes base64-encoded at a time; a multiple of 3
)

// errClosed is returned by a collection's body read after its callback returned.
var errClosed = errors.New("exported: collection body read after the Decode callback returned")

// Decode reads a document as a stream and calls fn once per collection field, in document
// order, with a reader of that collection's bytes in the collection byte format: a
// byte-array field's bytes as they are, a value set's entries as canonical lines (see the
// package documentation). body is valid only until fn returns; if fn returns without
// reading everything, Decode reads and checks the rest. Memory does not grow with the
// arrays; an iterable entry whose "raw" comes before its "id" is held whole.
//
// Errors in the document are *SyntaxError, also when fn sees them through body; an error
// fn returns for its own reasons is returned as it is; read errors are wrapped.
// The Meta is complete only when the error is nil.
func Decode(r io.Reader, fn func(name string, body io.Reader) error) (Meta, error) {
	d := &decoder{s: newScanner(r, readSize), fn: fn}
	err := d.document()
	return d.meta, err
}

type decoder struct {
	s    *scanner
	fn   func(string, io.Reader) error
	meta Meta
	key  []byte
	tmp  []byte // raw bytes on their way from an entry's array to base64
	out  []byte // value lines waiting to be read
}

// document reads the top-level object.
func (d *decoder) document() error {
	s := d.s
	c, ok := s.skipWS()
	if !ok {
		if s.rerr != io.EOF {
			return s.readErr()
		}
		return s.errHere("the document is empty: expected an ExportedDatabase JSON object")
	}
	if c != '{' {
		return s.errHere("an ExportedDatabase document is a JSON object {...}; found %s", describe(c))
	}
	empty, err := s.openObject("an ExportedDatabase JSON object")
	if err != nil {
		return err
	}
	var seen uint64
	for !empty {
		keyOff := s.offset()
		if d.key, err = s.key(d.key[:0]); err != nil {
			return err
		}
		i, ok := fieldIndex[string(d.key)]
		if !ok {
			return unknownField(keyOff, string(d.key))
		}
		f := fields[i]
		if seen&(1<<i) != 0 {
			return errorf(keyOff, f.name, "duplicate field %q", f.name)
		}
		seen |= 1 << i
		s.field = f.name
		if err := d.member(f); err != nil {
			return err
		}
		s.field, s.entry, s.sub = "", -1, ""
		if empty, err = s.afterMember("the document"); err != nil {
			return err
		}
	}
	end := s.offset() - 1
	if c, ok := s.skipWS(); ok {
		return s.errHere("unexpected %s after the end of the document", describe(c))
	}
	if s.rerr != io.EOF {
		return s.readErr()
	}
	if seen&(1<<fieldIndex["version"]) == 0 {
		return errorf(end, "version", `missing required field "version"`)
	}
	return nil
}

func unknownField(off int64, name string) error {
	for _, f := range fields {
		if strings.EqualFold(f.name, name) {
			return errorf(off, name, "unknown field %q: did you mean %q? (field names are case-sensitive)", name, f.name)
		}
	}
	return errorf(off, name, "unknown field %q: the SDK's ExportedDatabase has no such field", name)
}

// member reads the value of field f.
func (d *decoder) member(f field) error {
	s := d.s
	c, err := s.next("the value of " + f.name)
	if err != nil {
		return err
	}
	if c == 'n' && !f.required {
		return s.null() // null is absent
	}
	switch f.kind {
	case kindBytes:
		if c != '[' {
			return s.errHere("%s must be an array of byte values (integers 0 to 255), found %s", f.name, describe(c))
		}
		s.i++
		d.meta.Present = append(d.meta.Present, f.name)
		return d.collection(f.name, &byteBody{s: s})
	case kindValues:
		return d.valueSet(f)
	case kindVersion:
		if c != '"' {
			return s.errHere("version must be a string, found %s", describe(c))
		}
		v, err := s.str(d.key[:0], maxVersion, "version")
		d.key = v
		d.meta.Version = string(v)
		return err
	case kindSchema:
		schema, err := s.schema(nil)
		d.meta.Schema = schema
		return err
	}
	panic("exported: unknown field kind")
}

// body is a collection reader handed to fn.
type body interface {
	io.Reader
	failed() error // the error reading met, if any
	drain() error  // reads the rest
	close()
}

// collection hands b to fn, then reads what fn left.
func (d *decoder) collection(name string, b body) error {
	err := d.fn(name, b)
	if ferr := b.failed(); ferr != nil && (err == nil || !errors.Is(err, ferr)) {
		err = ferr
	}
	if err == nil {
		err = b.drain()
	}
	b.close()
	return err
}

// byteBody reads a byte-array field.
type byteBody struct {
	s      *scanner
	a      byteArray
	err    error
	closed bool
}

func (b *byteBody) Read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, errClosed
	case b.err != nil:
		return 0, b.err
	case b.a.state == aDone:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	n, err := b.s.bytes(p, &b.a)
	b.err = err
	return n, err
}

func (b *byteBody) failed() error { return b.err }
func (b *byteBody) close()        { b.closed = true }

func (b *byteBody) drain() error {
	var buf [16 << 10]byte
	for {
		_, err := b.Read(buf[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// valueSet reads an ExportedDatabaseFormats field.
func (d *decoder) valueSet(f field) error {
	s := d.s
	shape := f.name + ` must be an object {"iterable": [...], "schema"?: {...}}`
	if c, _ := s.skipWS(); c != '{' {
		return s.errHere("%s, found %s", shape, describe(c))
	}
	d.meta.Present = append(d.meta.Present, f.name)
	start := s.offset()
	empty, err := s.openObject(shape)
	if err != nil {
		return err
	}
	var haveSchema, haveIterable bool
	for !empty {
		keyOff := s.offset()
		if d.key, err = s.key(d.key[:0]); err != nil {
			return err
		}
		c, err := s.next("a value")
		if err != nil {
			return err
		}
		switch string(d.key) {
		case "schema":
			if haveSchema {
				return s.errAt(keyOff, `duplicate field "schema" in %s`, f.name)
			}
			haveSchema = true
			s.sub = "schema"
			if c == 'n' {
				err = s.null()
				break
			}
			var schema []byte
			if schema, err = s.schema(nil); err == nil {
				if d.meta.ValueSchemas == nil {
					d.meta.ValueSchemas = map[string]json.RawMessage{}
				}
				d.meta.ValueSchemas[f.name] = schema
			}
		case "iterable":
			if haveIterable {
				return s.errAt(keyOff, `duplicate field "iterable" in %s`, f.name)
			}
			haveIterable = true
			s.sub = "iterable"
			if c != '[' {
				return s.errHere("%s.iterable must be an array of entries, found %s", f.name, describe(c))
			}
			s.i++
			s.sub = ""
			err = d.collection(f.name, d.newValueBody())
			s.entry = -1
		default:
			return s.errAt(keyOff, `unknown field %q in %s: an ExportedDatabaseFormats has "schema" and "iterable"`, d.key, f.name)
		}
		if err != nil {
			return err
		}
		s.sub = ""
		if empty, err = s.afterMember(f.name); err != nil {
			return err
		}
	}
	if !haveIterable {
		return s.errAt(start, `%s has no "iterable": it must be an object {"iterable": [...]}`, f.name)
	}
	return nil
}

// valueBody turns the entries of an iterable into canonical lines as it is read.
type valueBody struct {
	d      *decoder
	s      *scanner
	state  valueState
	out    []byte // line bytes not yet read
	pos    int
	err    error
	closed bool

	// the entry being read
	entryOff                               int64
	id, schema, raw                        []byte
	haveID, haveRaw, haveSchema, streamRaw bool
	arr                                    byteArray
	carry                                  int // raw bytes in tmp waiting to make a base64 group
}

type valueState uint8

const (
	vFirst  valueState = iota // after '[': an entry or ']'
	vEntry                    // an entry's '{'
	vKey                      // an entry's field name
	vRaw                      // inside a streamed "raw" array
	vMember                   // after an entry's field: ',' or '}'
	vNext                     // after an entry: ',' or ']'
	vDone
)

func (d *decoder) newValueBody() *valueBody {
	if d.tmp == nil {
		d.tmp = make([]byte, rawChunk)
	}
	return &valueBody{d: d, s: d.s, out: d.out[:0]}
}

func (v *valueBody) Read(p []byte) (int, error) {
	if v.closed {
		return 0, errClosed
	}
	for v.pos == len(v.out) {
		if v.err != nil {
			return 0, v.err
		}
		if v.state == vDone {
			return 0, io.EOF
		}
		v.out, v.pos = v.out[:0], 0
		if err := v.step(); err != nil {
			v.err = err
		}
	}
	n := copy(p, v.out[v.pos:])
	v.pos += n
	return n, nil
}

func (v *valueBody) failed() error { return v.err }

func (v *valueBody) close() {
	v.closed = true
	v.d.out = v.out[:0] // keep the buffer for the next value set
}

func (v *valueBody) drain() error {
	for v.err == nil && v.state != vDone {
		v.out, v.pos = v.out[:0], 0
		v.err = v.step()
	}
	return v.err
}

const entryShape = `an iterable entry is an object {"id": string, "raw": [bytes], "schema"?: {...}}`

// step reads the next token or piece of the iterable, appending to v.out.
func (v *valueBody) step() error {
	s := v.s
	switch v.state {
	case vFirst, vNext:
		c, err := s.next("an iterable entry or ']'")
		if err != nil {
			return err
		}
		switch {
		case c == ']':
			s.i++
			v.state = vDone
			return nil
		case v.state == vNext && c == ',':
			s.i++
			v.state = vEntry
			return nil
		case v.state == vFirst:
			v.state = vEntry
			return nil
		}
		return s.errHere("expected ',' or ']' after an iterable entry, found %s", describe(c))

	case vEntry:
		s.entry++
		s.sub = ""
		c, err := s.next("an iterable entry")
		if err != nil {
			return err
		}
		if c != '{' {
			return s.errHere("%s, found %s", entryShape, describe(c))
		}
		v.entryOff = s.offset()
		v.id, v.schema, v.raw = v.id[:0], v.schema[:0], v.raw[:0]
		v.haveID, v.haveRaw, v.haveSchema, v.streamRaw = false, false, false, false
		empty, err := s.openObject(entryShape)
		if err != nil {
			return err
		}
		if empty {
			return v.finish()
		}
		v.state = vKey
		return nil

	case vKey:
		keyOff := s.offset()
		key, err := s.key(v.d.key[:0])
		v.d.key = key
		if err != nil {
			return err
		}
		c, err := s.next("a value")
		if err != nil {
			return err
		}
		v.state = vMember
		switch string(key) {
		case "id":
			if v.haveID {
				return s.errAt(keyOff, `duplicate field "id" in an iterable entry`)
			}
			v.haveID = true
			s.sub = "id"
			if c != '"' {
				return s.errHere("an entry's id must be a string, found %s", describe(c))
			}
			v.id, err = s.str(v.id, maxID, "id")
			return err
		case "schema":
			if v.haveSchema {
				return s.errAt(keyOff, `duplicate field "schema" in an iterable entry`)
			}
			s.sub = "schema"
			if c == 'n' {
				v.haveSchema = true
				if err := s.null(); err != nil {
					return err
				}
				v.schema = v.schema[:0]
				return nil
			}
			v.haveSchema = true
			v.schema, err = s.schema(v.schema[:0])
			return err
		case "raw":
			if v.haveRaw {
				return s.errAt(keyOff, `duplicate field "raw" in an iterable entry`)
			}
			v.haveRaw = true
			s.sub = "raw"
			if c != '[' {
				return s.errHere("an entry's raw must be an array of byte values (integers 0 to 255), found %s", describe(c))
			}
			s.i++
			v.arr = byteArray{}
			if v.haveID { // the usual order: stream raw into the line
				v.streamRaw = true
				v.out = v.lineStart(v.out)
				v.carry = 0
				v.state = vRaw
				return nil
			}
			for v.arr.state != aDone { // raw before id: hold it
				if len(v.raw) == cap(v.raw) {
					v.raw = slices.Grow(v.raw, max(4<<10, len(v.raw)))
				}
				n, err := s.bytes(v.raw[len(v.raw):cap(v.raw)], &v.arr)
				v.raw = v.raw[:len(v.raw)+n]
				if err != nil {
					return err
				}
			}
			return nil
		}
		return s.errAt(keyOff, "unknown field %q in an iterable entry: %s", key, entryShape)

	case vRaw:
		tmp := v.d.tmp
		n, err := s.bytes(tmp[v.carry:], &v.arr)
		if err != nil {
			return err
		}
		n += v.carry
		if v.arr.state == aDone {
			v.out = base64.StdEncoding.AppendEncode(v.out, tmp[:n])
			v.out = append(v.out, '"')
			v.carry = 0
			v.state = vMember
			return nil
		}
		whole := n / 3 * 3
		v.out = base64.StdEncoding.AppendEncode(v.out, tmp[:whole])
		v.carry = copy(tmp, tmp[whole:n])
		return nil

	case vMember:
		s.sub = ""
		end, err := s.afterMember("an iterable entry")
		if err != nil {
			return err
		}
		if end {
			return v.finish()
		}
		v.state = vKey
		return nil
	}
	return nil
}

// lineStart appends the start of an entry's line, up to the opening quote of raw.
func (v *valueBody) lineStart(out []byte) []byte {
	out = append(out, `{"id":`...)
	out, _ = appendString(out, v.id) // str produced it: valid
	return append(out, `,"raw":"`...)
}

// finish completes the line of an entry whose '}' was just read.
func (v *valueBody) finish() error {
	s := v.s
	if !v.haveID || !v.haveRaw {
		missing := `"id"`
		if v.haveID {
			missing = `"raw"`
		} else if !v.haveRaw {
			missing = `"id" and "raw"`
		}
		return s.errAt(v.entryOff, "an iterable entry has no %s: %s", missing, entryShape)
	}
	if !v.streamRaw {
		v.out = v.lineStart(v.out)
		v.out = base64.StdEncoding.AppendEncode(v.out, v.raw)
		v.out = append(v.out, '"')
	}
	if len(v.schema) > 0 {
		v.out = append(v.out, `,"schema":`...)
		v.out = append(v.out, v.schema...)
	}
	v.out = append(v.out, '}', '\n')
	v.state = vNext
	return nil
}

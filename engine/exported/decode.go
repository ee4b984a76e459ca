package exported

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// maxRawValue bounds a schema or other small JSON value read whole.
const maxRawValue = 1 << 20

// scanner reads the document through a buffer, tracking the byte offset.
type scanner struct {
	r     io.Reader
	buf   []byte
	pos   int
	end   int
	base  int64 // offset of buf[0]
	err   error // read error, io.EOF at the end
	field string
}

func newScanner(r io.Reader) *scanner { return &scanner{r: r, buf: make([]byte, 256<<10)} }

func (s *scanner) offset() int64 { return s.base + int64(s.pos) }

func (s *scanner) fail(msg string, args ...any) error {
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	return &SyntaxError{Offset: s.offset(), Field: s.field, Msg: msg}
}

// fill reads more input; it returns false at the end or on a read error.
func (s *scanner) fill() bool {
	if s.err != nil {
		return false
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.base += int64(s.pos)
		s.end, s.pos = n, 0
	}
	for s.end < len(s.buf) {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	return true
}

// readErr turns the end of input into a syntax error and passes other errors on.
func (s *scanner) readErr(what string) error {
	if s.err == nil || s.err == io.EOF {
		return s.fail("unexpected end of document, expected %s", what)
	}
	return s.err
}

// next skips whitespace and returns the next byte without consuming it.
func (s *scanner) next(what string) (byte, error) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, nil
			}
		}
		if !s.fill() {
			return 0, s.readErr(what)
		}
	}
}

func (s *scanner) expect(c byte, what string) error {
	got, err := s.next(what)
	if err != nil {
		return err
	}
	if got != c {
		return s.fail("expected %s, found %s", what, quoteByte(got))
	}
	s.pos++
	return nil
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.Quote(string(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c), 16)
}

// rawValue reads one whole JSON value (object, array, string, number, literal) and
// returns its bytes.
func (s *scanner) rawValue(what string) ([]byte, error) {
	if _, err := s.next(what); err != nil {
		return nil, err
	}
	start := s.offset()
	var out []byte
	depth, inString, escaped := 0, false, false
	for {
		if s.pos == s.end && !s.fill() {
			if depth == 0 && !inString && len(out) > 0 {
				break
			}
			return nil, s.readErr(what)
		}
		c := s.buf[s.pos]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		} else {
			switch c {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				if depth == 0 {
					goto done
				}
				depth--
			case ',', ' ', '\t', '\n', '\r':
				if depth == 0 {
					goto done
				}
			}
		}
		out = append(out, c)
		s.pos++
		if len(out) > maxRawValue {
			return nil, s.fail("%s is larger than %d bytes", what, maxRawValue)
		}
		if depth == 0 && !inString && (c == '}' || c == ']' || c == '"' && len(out) > 1) {
			break
		}
	}
done:
	if !json.Valid(out) {
		return nil, &SyntaxError{Offset: start, Field: s.field, Msg: what + " is not valid JSON"}
	}
	return out, nil
}

// str reads a JSON string.
func (s *scanner) str(what string) (string, error) {
	c, err := s.next(what)
	if err != nil {
		return "", err
	}
	if c != '"' {
		return "", s.fail("%s must be a string, found %s", what, quoteByte(c))
	}
	raw, err := s.rawValue(what)
	if err != nil {
		return "", err
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", s.fail("%s: %v", what, err)
	}
	return v, nil
}

// object reads the members of an object whose '{' comes next, calling member for each
// key; member must consume the value.
func (s *scanner) object(what string, member func(key string) error) error {
	if err := s.expect('{', what+" object"); err != nil {
		return err
	}
	c, err := s.next("a key or }")
	if err != nil {
		return err
	}
	if c == '}' {
		s.pos++
		return nil
	}
	seen := map[string]bool{}
	for {
		keyAt := s.offset()
		key, err := s.str("a key")
		if err != nil {
			return err
		}
		if seen[key] {
			return &SyntaxError{Offset: keyAt, Field: s.field, Msg: "duplicate field " + strconv.Quote(key)}
		}
		seen[key] = true
		if err := s.expect(':', "':'"); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		c, err := s.next("',' or '}'")
		if err != nil {
			return err
		}
		s.pos++
		if c == '}' {
			return nil
		}
		if c != ',' {
			s.pos--
			return s.fail("expected ',' or '}', found %s", quoteByte(c))
		}
	}
}

// isNull consumes a null literal if one comes next.
func (s *scanner) isNull() (bool, error) {
	c, err := s.next("a value")
	if err != nil || c != 'n' {
		return false, err
	}
	raw, err := s.rawValue("null")
	if err != nil {
		return false, err
	}
	if string(raw) != "null" {
		return false, s.fail("unexpected %q", raw)
	}
	return true, nil
}

// byteArray reads a JSON array of integers 0..255, handing bytes out through Read.
type byteArray struct {
	s       *scanner
	started bool
	done    bool
	err     error
}

func (a *byteArray) Read(p []byte) (int, error) {
	if a.err != nil {
		return 0, a.err
	}
	if a.done {
		return 0, io.EOF
	}
	s := a.s
	n := 0
	if !a.started {
		a.started = true
		if err := s.expect('[', "an array of bytes"); err != nil {
			a.err = err
			return 0, err
		}
		c, err := s.next("a byte or ]")
		if err != nil {
			a.err = err
			return 0, err
		}
		if c == ']' {
			s.pos++
			a.done = true
			return 0, io.EOF
		}
	}
	for n < len(p) {
		// Fast path: a whole "ddd," is in the buffer.
		if s.end-s.pos < 8 {
			if !s.fill() && s.pos == s.end {
				a.err = s.readErr("a byte")
				return n, a.err
			}
		}
		v, err := a.number()
		if err != nil {
			a.err = err
			return n, err
		}
		p[n] = v
		n++
		c, err := s.next("',' or ']'")
		if err != nil {
			a.err = err
			return n, err
		}
		s.pos++
		if c == ']' {
			a.done = true
			return n, nil
		}
		if c != ',' {
			s.pos--
			a.err = s.fail("expected ',' or ']' in byte array, found %s", quoteByte(c))
			return n, a.err
		}
	}
	return n, nil
}

// number parses one integer 0..255 at the scanner's position (after whitespace).
func (a *byteArray) number() (byte, error) {
	s := a.s
	c, err := s.next("a byte")
	if err != nil {
		return 0, err
	}
	if c < '0' || c > '9' {
		if c == '-' {
			return 0, s.fail("byte values must be 0 to 255, found a negative number")
		}
		return 0, s.fail("expected a byte value (0 to 255), found %s", quoteByte(c))
	}
	v, digits := 0, 0
	for {
		if s.pos == s.end && !s.fill() {
			break
		}
		c := s.buf[s.pos]
		if c < '0' || c > '9' {
			if c == '.' || c == 'e' || c == 'E' {
				return 0, s.fail("byte values must be integers")
			}
			break
		}
		if digits == 1 && v == 0 {
			return 0, s.fail("numbers may not have leading zeros")
		}
		v = v*10 + int(c-'0')
		digits++
		s.pos++
		if v > 255 {
			return 0, s.fail("byte value out of range 0 to 255")
		}
	}
	return byte(v), nil
}

// drain reads what fn left of an array.
func (a *byteArray) drain() error {
	var buf [32 << 10]byte
	for {
		_, err := a.Read(buf[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Decode reads a document as a stream and calls fn once per collection field, in
// document order, with a reader of the collection's bytes. fn may stop reading early;
// the rest is drained and checked. Errors in the document are *SyntaxError.
func Decode(r io.Reader, fn func(name string, body io.Reader) error) (Meta, error) {
	s := newScanner(r)
	m := Meta{}
	haveVersion := false
	err := s.object("the document", func(key string) error {
		s.field = key
		defer func() { s.field = "" }()
		switch {
		case slices.Contains(byteFields, key):
			if null, err := s.isNull(); err != nil || null {
				return err
			}
			m.Present = append(m.Present, key)
			a := &byteArray{s: s}
			if err := fn(key, a); err != nil {
				if a.err != nil {
					return a.err
				}
				return err
			}
			return a.drain()
		case IsValueSet(key):
			if null, err := s.isNull(); err != nil || null {
				return err
			}
			m.Present = append(m.Present, key)
			return decodeValueSet(s, key, &m, fn)
		case key == "version":
			v, err := s.str("version")
			m.Version, haveVersion = v, err == nil
			return err
		case key == "schema":
			if null, err := s.isNull(); err != nil || null {
				return err
			}
			raw, err := schema(s)
			m.Schema = raw
			return err
		}
		return s.fail("unknown field %q", key)
	})
	if err != nil {
		return m, err
	}
	if c, err := s.next("the end"); err == nil {
		return m, s.fail("unexpected %s after the document", quoteByte(c))
	} else if s.err != io.EOF {
		return m, s.err
	}
	if !haveVersion {
		return m, &SyntaxError{Offset: s.offset(), Msg: `missing field "version"`}
	}
	return m, nil
}

// schema reads an EmbeddedModelSchema: {"migration": number, "semantic": string}.
func schema(s *scanner) (json.RawMessage, error) {
	at := s.offset()
	raw, err := s.rawValue("schema")
	if err != nil {
		return nil, err
	}
	var v struct {
		Migration *float64 `json:"migration"`
		Semantic  *string  `json:"semantic"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil || v.Migration == nil || v.Semantic == nil {
		return nil, &SyntaxError{Offset: at, Field: s.field, Msg: "schema must be {\"migration\": number, \"semantic\": string}"}
	}
	return raw, nil
}

// decodeValueSet reads an ExportedDatabaseFormats object and hands fn its entries as
// canonical lines, one entry in memory at a time.
func decodeValueSet(s *scanner, name string, m *Meta, fn func(string, io.Reader) error) error {
	haveIterable := false
	return s.object(name, func(key string) error {
		switch key {
		case "schema":
			if null, err := s.isNull(); err != nil || null {
				return err
			}
			raw, err := schema(s)
			if err != nil {
				return err
			}
			if m.ValueSchemas == nil {
				m.ValueSchemas = map[string]json.RawMessage{}
			}
			m.ValueSchemas[name] = raw
			return nil
		case "iterable":
			if haveIterable {
				return s.fail("duplicate iterable")
			}
			haveIterable = true
			vr := &valueReader{s: s}
			if err := fn(name, vr); err != nil {
				if vr.err != nil {
					return vr.err
				}
				return err
			}
			_, err := io.Copy(io.Discard, vr)
			return err
		}
		return s.fail("unknown field %q in %s", key, name)
	})
}

// valueReader turns iterable entries into canonical lines.
type valueReader struct {
	s       *scanner
	started bool
	done    bool
	line    []byte
	err     error
}

func (v *valueReader) Read(p []byte) (int, error) {
	for len(v.line) == 0 {
		if v.err != nil {
			return 0, v.err
		}
		if v.done {
			return 0, io.EOF
		}
		if err := v.nextEntry(); err != nil {
			v.err = err
			return 0, err
		}
	}
	n := copy(p, v.line)
	v.line = v.line[n:]
	return n, nil
}

func (v *valueReader) nextEntry() error {
	s := v.s
	if !v.started {
		v.started = true
		if err := s.expect('[', "the iterable array"); err != nil {
			return err
		}
		c, err := s.next("an entry or ]")
		if err != nil {
			return err
		}
		if c == ']' {
			s.pos++
			v.done = true
			return nil
		}
	} else {
		c, err := s.next("',' or ']'")
		if err != nil {
			return err
		}
		s.pos++
		if c == ']' {
			v.done = true
			return nil
		}
		if c != ',' {
			s.pos--
			return s.fail("expected ',' or ']' in iterable, found %s", quoteByte(c))
		}
	}
	var e valueLine
	haveID, haveRaw := false, false
	err := s.object("an iterable entry", func(key string) error {
		switch key {
		case "id":
			id, err := s.str("id")
			e.ID, haveID = id, err == nil
			return err
		case "raw":
			a := &byteArray{s: s}
			b, err := io.ReadAll(a)
			e.Raw, haveRaw = b, err == nil
			return err
		case "schema":
			if null, err := s.isNull(); err != nil || null {
				return err
			}
			raw, err := schema(s)
			e.Schema = raw
			return err
		}
		return s.fail("unknown field %q in an iterable entry", key)
	})
	if err != nil {
		return err
	}
	if !haveID || !haveRaw {
		return s.fail("an iterable entry needs both \"id\" and \"raw\"")
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	v.line = append(line, '\n')
	return nil
}

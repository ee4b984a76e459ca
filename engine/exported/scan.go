package exported

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// scanner is a hand-written JSON tokenizer over a bufio.Reader. It looks at the reader's
// buffer in place (Peek) and gives consumed bytes back in bulk (Discard), so the hot loops
// index a byte slice.
type scanner struct {
	br   *bufio.Reader
	buf  []byte // the reader's buffered bytes; buf[i:] is unread
	i    int
	off  int64 // input offset of buf[0]
	rerr error // the error that ended the input: io.EOF at a clean end

	// Where the scanner is, for errors: field, then iterable entry and member.
	field string
	entry int // index in an iterable, -1 outside one
	sub   string
}

func newScanner(r io.Reader, size int) *scanner {
	return &scanner{br: bufio.NewReaderSize(r, size), entry: -1}
}

func (s *scanner) offset() int64 { return s.off + int64(s.i) }

// fill makes at least n unread bytes available in buf, if the input has them, and
// reports whether it did. n must be small next to the reader's size.
func (s *scanner) fill(n int) bool {
	if len(s.buf)-s.i >= n {
		return true
	}
	if s.rerr != nil {
		return false
	}
	if s.i > 0 {
		s.br.Discard(s.i)
		s.off += int64(s.i)
		s.i = 0
	}
	_, err := s.br.Peek(n)
	s.buf, _ = s.br.Peek(s.br.Buffered())
	if err != nil {
		s.rerr = err
	}
	return len(s.buf) >= n
}

// path names the place being read, for errors.
func (s *scanner) path() string {
	p := s.field
	if s.entry >= 0 {
		p += ".iterable[" + strconv.Itoa(s.entry) + "]"
	}
	if s.sub != "" {
		if p != "" {
			p += "."
		}
		p += s.sub
	}
	return p
}

// errAt is a syntax error at offset off.
func (s *scanner) errAt(off int64, format string, args ...any) error {
	return errorf(off, s.path(), format, args...)
}

// errHere is a syntax error at the current offset.
func (s *scanner) errHere(format string, args ...any) error {
	return s.errAt(s.offset(), format, args...)
}

// endErr is the error for input that ends where more was expected: the read error
// itself, or a syntax error at the end of a document that is cut short.
func (s *scanner) endErr(expected string) error {
	if s.rerr != nil && s.rerr != io.EOF {
		return s.readErr()
	}
	return s.errHere("the document ends too early: expected %s (is the file truncated?)", expected)
}

// readErr wraps the error that ended the input early.
func (s *scanner) readErr() error {
	return fmt.Errorf("exported database: read: %w", s.rerr)
}

// skipWS skips JSON whitespace and returns the next byte without consuming it; false at
// the end of the input.
func (s *scanner) skipWS() (byte, bool) {
	for {
		for s.i < len(s.buf) {
			c := s.buf[s.i]
			if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
				return c, true
			}
			s.i++
		}
		if !s.fill(1) {
			return 0, false
		}
	}
}

// peek returns the next byte without skipping whitespace; false at the end.
func (s *scanner) peek() (byte, bool) {
	if s.i < len(s.buf) || s.fill(1) {
		return s.buf[s.i], true
	}
	return 0, false
}

// next skips whitespace and returns the next byte, or an error naming what was expected.
func (s *scanner) next(expected string) (byte, error) {
	c, ok := s.skipWS()
	if !ok {
		return 0, s.endErr(expected)
	}
	return c, nil
}

// expect consumes byte c after whitespace.
func (s *scanner) expect(c byte, expected string) error {
	got, err := s.next(expected)
	if err != nil {
		return err
	}
	if got != c {
		return s.errHere("expected %s, found %s", expected, describe(got))
	}
	s.i++
	return nil
}

// describe names what a value starting with c is, for messages.
func describe(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c >= 0x20 && c < 0x7f:
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c), 16)
}

// null consumes the literal null; the next byte is known to be 'n'.
func (s *scanner) null() error {
	off := s.offset()
	s.fill(4)
	if len(s.buf)-s.i < 4 || string(s.buf[s.i:s.i+4]) != "null" {
		return s.errAt(off, "invalid literal: expected null")
	}
	s.i += 4
	return nil
}

// afterMember consumes the ',' or '}' after an object member and reports whether the
// object ended.
func (s *scanner) afterMember(object string) (end bool, err error) {
	c, err := s.next("',' or '}'")
	if err != nil {
		return false, err
	}
	switch c {
	case ',':
		s.i++
		c, err = s.next("a field name")
		if err != nil {
			return false, err
		}
		if c != '"' {
			return false, s.errHere("expected a field name in double quotes after ',' in %s, found %s", object, describe(c))
		}
		return false, nil
	case '}':
		s.i++
		return true, nil
	}
	return false, s.errHere("expected ',' or '}' after a field of %s, found %s", object, describe(c))
}

// openObject consumes '{' and reports whether the object is empty (its '}' consumed too).
// Otherwise the next byte is the '"' of the first field name.
func (s *scanner) openObject(what string) (empty bool, err error) {
	c, err := s.next(what)
	if err != nil {
		return false, err
	}
	if c != '{' {
		return false, s.errHere("expected %s, found %s", what, describe(c))
	}
	s.i++
	c, err = s.next("a field name or '}'")
	if err != nil {
		return false, err
	}
	if c == '}' {
		s.i++
		return true, nil
	}
	if c != '"' {
		return false, s.errHere("expected a field name in double quotes, found %s", describe(c))
	}
	return false, nil
}

// key reads a field name and the ':' after it; the next byte is known to be '"'.
func (s *scanner) key(dst []byte) ([]byte, error) {
	k, err := s.str(dst, maxKey, "field name")
	if err != nil {
		return k, err
	}
	return k, s.expect(':', "':' after a field name")
}

// str reads a JSON string whose '"' is next and appends its value to dst: UTF-8, with a
// lone surrogate escape kept as its 3-byte (WTF-8) form. Invalid UTF-8 is an error.
func (s *scanner) str(dst []byte, max int, what string) ([]byte, error) {
	start := s.offset()
	s.i++ // the opening quote
	for {
		if s.i >= len(s.buf) && !s.fill(1) {
			return dst, s.endErr("the closing '\"' of a string")
		}
		buf := s.buf
		j := s.i
		for j < len(buf) {
			c := buf[j]
			if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				break
			}
			j++
		}
		dst = append(dst, buf[s.i:j]...)
		s.i = j
		if len(dst) > max {
			return dst, s.errAt(start, "the %s is longer than %d bytes", what, max)
		}
		if j == len(buf) {
			continue
		}
		switch c := buf[j]; {
		case c == '"':
			s.i++
			return dst, nil
		case c < 0x20:
			return dst, s.errHere("control character %s in a string: it must be escaped", describe(c))
		case c == '\\':
			var err error
			if dst, err = s.escape(dst); err != nil {
				return dst, err
			}
		default:
			s.fill(utf8.UTFMax)
			r, size := utf8.DecodeRune(s.buf[s.i:])
			if r == utf8.RuneError && size <= 1 {
				return dst, s.errHere("a string is not valid UTF-8")
			}
			dst = append(dst, s.buf[s.i:s.i+size]...)
			s.i += size
		}
	}
}

// escape decodes the escape sequence at the scanner's '\'.
func (s *scanner) escape(dst []byte) ([]byte, error) {
	s.fill(12) // room for a surrogate pair
	b := s.buf[s.i:]
	if len(b) < 2 {
		return dst, s.endErr("an escape sequence")
	}
	switch b[1] {
	case '"', '\\', '/':
		s.i += 2
		return append(dst, b[1]), nil
	case 'b':
		s.i += 2
		return append(dst, '\b'), nil
	case 'f':
		s.i += 2
		return append(dst, '\f'), nil
	case 'n':
		s.i += 2
		return append(dst, '\n'), nil
	case 'r':
		s.i += 2
		return append(dst, '\r'), nil
	case 't':
		s.i += 2
		return append(dst, '\t'), nil
	case 'u':
		r, ok := hex4(b[2:])
		if !ok {
			return dst, s.errHere(`invalid \u escape: expected four hex digits`)
		}
		s.i += 6
		if r >= 0xd800 && r < 0xdc00 && len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
			if lo, ok := hex4(b[8:]); ok && lo >= 0xdc00 && lo < 0xe000 {
				s.i += 6
				return utf8.AppendRune(dst, 0x10000+(r-0xd800)<<10+(lo-0xdc00)), nil
			}
		}
		if r >= 0xd800 && r < 0xe000 { // a lone surrogate: WTF-8
			return append(dst, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f), nil
		}
		return utf8.AppendRune(dst, r), nil
	}
	return dst, s.errHere("invalid escape sequence %s in a string", describe(b[1]))
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendString appends s as a JSON string in canonical escaping (see the package
// documentation). s is UTF-8 with lone surrogates in WTF-8; anything else is an error.
func appendString(dst, s []byte) ([]byte, bool) {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c >= 0x20:
				dst = append(dst, c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		if c == 0xed && i+2 < len(s) && s[i+1] >= 0xa0 && s[i+1] <= 0xbf && s[i+2] >= 0x80 && s[i+2] <= 0xbf {
			r := rune(c&0x0f)<<12 | rune(s[i+1]&0x3f)<<6 | rune(s[i+2]&0x3f)
			dst = append(dst, '\\', 'u', hex[r>>12], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
			i += 3
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return dst, false
		}
		dst = append(dst, s[i:i+size]...)
		i += size
	}
	return append(dst, '"'), true
}

// number reads a JSON number literal and appends it to dst as written.
func (s *scanner) number(dst []byte) ([]byte, error) {
	start := s.offset()
	n := len(dst)
	for {
		c, ok := s.peek()
		if !ok || !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		dst = append(dst, c)
		s.i++
		if len(dst)-n > maxNumber {
			return dst, s.errAt(start, "number longer than %d characters", maxNumber)
		}
	}
	if !validNumber(dst[n:]) {
		return dst, s.errAt(start, "%q is not a JSON number", dst[n:])
	}
	return dst, nil
}

// validNumber checks the JSON number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte) bool {
	i := 0
	digits := func() int {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

// schema reads an EmbeddedModelSchema object and appends its canonical form to dst:
// {"migration":<number as written>,"semantic":"<one of semantics>"}.
func (s *scanner) schema(dst []byte) ([]byte, error) {
	const shape = `a schema {"migration": number, "semantic": "UNKNOWN" or "MAJOR_0_MINOR_0_PATCH_1"}`
	start := s.offset()
	empty, err := s.openObject(shape)
	if err != nil {
		return dst, err
	}
	var key, migration, semantic []byte
	var haveMigration, haveSemantic bool
	for !empty {
		keyOff := s.offset()
		if key, err = s.key(key[:0]); err != nil {
			return dst, err
		}
		c, err := s.next("a value")
		if err != nil {
			return dst, err
		}
		switch string(key) {
		case "migration":
			if haveMigration {
				return dst, s.errAt(keyOff, `duplicate field "migration" in a schema`)
			}
			haveMigration = true
			if c != '-' && (c < '0' || c > '9') {
				return dst, s.errHere("a schema's migration must be a number, found %s", describe(c))
			}
			if migration, err = s.number(migration); err != nil {
				return dst, err
			}
		case "semantic":
			if haveSemantic {
				return dst, s.errAt(keyOff, `duplicate field "semantic" in a schema`)
			}
			haveSemantic = true
			if c != '"' {
				return dst, s.errHere("a schema's semantic must be a string, found %s", describe(c))
			}
			off := s.offset()
			if semantic, err = s.str(semantic, maxKey, "semantic version"); err != nil {
				return dst, err
			}
			if !known(semantic) {
				err := s.errAt(off, `unknown semantic version %q, newer than this build of cairn knows ("UNKNOWN" and "MAJOR_0_MINOR_0_PATCH_1"); update cairn`, semantic)
				if se, ok := err.(*SyntaxError); ok {
					se.Err = ErrNewerSchema
				}
				return dst, err
			}
		default:
			return dst, s.errAt(keyOff, "unknown field %q in a schema: expected %s", key, shape)
		}
		if empty, err = s.afterMember("a schema"); err != nil {
			return dst, err
		}
	}
	if !haveMigration || !haveSemantic {
		return dst, s.errAt(start, "incomplete schema: expected %s", shape)
	}
	dst = append(dst, `{"migration":`...)
	dst = append(dst, migration...)
	dst = append(dst, `,"semantic":"`...)
	dst = append(dst, semantic...)
	return append(dst, `"}`...), nil
}

func known(semantic []byte) bool {
	for _, v := range semantics {
		if string(semantic) == v {
			return true
		}
	}
	return false
}

// arrayState is where a byte-array scan stands.
type arrayState uint8

const (
	aFirst arrayState = iota // after '[': a value or ']'
	aValue                   // after ',': a value
	aSep                     // after a value: ',' or ']'
	aDone                    // after ']'
)

// byteArray is the state of one JSON array of byte values being read.
type byteArray struct {
	state arrayState
	count int64 // values read so far
	cool  int   // tokens to read carefully before trying compact again
}

// blockSlack is how many bytes compact needs after a block's start.
const blockSlack = 64 + 8

// compact reads compact byte values ("12,255,0,") from buf[i:] into p, 64 bytes of input at
// a time, while p has room for a block's worth (32 values) and buf has a whole block: it
// finds the non-digits of a block in one mask, then takes each value from the digits
// before its separator, so no step waits on the one before. It stops before anything
// else (the last value, whitespace, a bad value) and returns the values read, the index
// after the last comma, and whether it stopped for such a token rather than for room;
// the careful path takes it from there.
func compact(p, buf []byte, i int) (n, next int, stopped bool) {
	for len(p)-n >= 32 && len(buf)-i >= blockSlack {
		var mask uint64 // bit k: buf[i+k] is not a digit
		for k := 0; k < 64; k += 8 {
			x := binary.LittleEndian.Uint64(buf[i+k:]) ^ 0x3030303030303030 // digits become 0..9
			t := ((x + 0x7676767676767676) | x) & 0x8080808080808080        // high bit: not 0..9
			mask |= (t >> 7 * 0x0102040810204080 >> 56) << k
		}
		start := 0 // of the value being read, relative to i
		for mask != 0 {
			pos := bits.TrailingZeros64(mask)
			mask &= mask - 1
			l := pos - start
			w := binary.LittleEndian.Uint32(buf[i+start:]) ^ 0x30303030
			if uint(l-1) >= 3 || l > 1 && w&0xff == 0 || buf[i+pos] != ',' {
				return n, i + start, true
			}
			y := w << (8 * (3 - l))
			v := y>>16&0xff + y>>8&0xff*10 + y&0xff*100
			if v > 255 {
				return n, i + start, true
			}
			p[n] = byte(v)
			n++
			start = pos + 1
		}
		if start == 0 {
			return n, i, true
		}
		i += start
	}
	return n, i, false
}

// bytes parses the byte values of the array a, whose '[' is consumed, into p until p is
// full or the array ends. It is the decoder's hot path: compact runs ("12,255,0,") go
// through compact a block at a time; the careful loop below takes everything else
// (whitespace, the end of the window or the array, errors) a token at a time.
func (s *scanner) bytes(p []byte, a *byteArray) (int, error) {
	n := 0
	buf, i := s.buf, s.i
	for n < len(p) && a.state != aDone {
		if a.state != aSep && a.cool == 0 && len(buf)-i >= blockSlack && len(p)-n >= 32 {
			w, j := compactWide(p[n:], buf, i)
			if w > 0 {
				n += w
				i = j
				a.state = aValue
			}
			k, j, stopped := compact(p[n:], buf, i)
			if k > 0 {
				n += k
				i = j
				a.state = aValue
			}
			if stopped && w+k < 16 { // mostly not compact (pretty-printed?): rest the fast path a while
				a.cool = 256
			}
			if n == len(p) || len(buf)-i < 8 {
				continue
			}
		}
		if a.cool > 0 {
			a.cool--
		}
		if len(buf)-i < 8 { // near the end of the window: refill, keeping tokens whole
			s.i = i
			if !s.fill(8) && s.i == len(s.buf) {
				a.count += int64(n)
				return n, s.endErr("a byte value or ']'")
			}
			buf, i = s.buf, s.i
		}
		c := buf[i]
		if a.state == aSep {
			switch c {
			case ',':
				a.state = aValue
			case ']':
				a.state = aDone
			case ' ', '\n', '\r', '\t':
			default:
				s.i = i
				a.count += int64(n)
				return n, s.errHere("expected ',' or ']' after byte value %d, found %s", a.count-1, describe(c))
			}
			i++
			continue
		}
		d := c - '0'
		if d > 9 {
			switch {
			case c == ' ' || c == '\n' || c == '\r' || c == '\t':
				for i++; i < len(buf) && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'); i++ {
				}
				continue
			case c == ']' && a.state == aFirst:
				a.state = aDone
				i++
				continue
			}
			s.i = i
			a.count += int64(n)
			return n, s.badByte(buf, i, a.count)
		}
		start := i
		v := uint(d)
		i++
		if i < len(buf) && buf[i]-'0' <= 9 {
			if d == 0 {
				s.i = start
				a.count += int64(n)
				return n, s.badByte(buf, start, a.count)
			}
			v = v*10 + uint(buf[i]-'0')
			i++
			if i < len(buf) && buf[i]-'0' <= 9 {
				v = v*10 + uint(buf[i]-'0')
				i++
				if v > 255 || i < len(buf) && buf[i]-'0' <= 9 {
					s.i = start
					a.count += int64(n)
					return n, s.badByte(buf, start, a.count)
				}
			}
		}
		p[n] = byte(v)
		n++
		a.state = aSep
		if i < len(buf) {
			switch buf[i] {
			case ',':
				a.state = aValue
				i++
			case ']':
				a.state = aDone
				i++
			case '.', 'e', 'E':
				s.i = start
				a.count += int64(n) - 1
				return n - 1, s.badByte(buf, start, a.count)
			}
		}
	}
	s.i = i
	a.count += int64(n)
	return n, nil
}

// badByte explains why the value at buf[i] is not a byte value.
func (s *scanner) badByte(buf []byte, i int, index int64) error {
	j := i
	for j < len(buf) && j-i < 24 {
		c := buf[j]
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		j++
	}
	if j == i {
		if buf[i] == ']' {
			return s.errHere("expected byte value %d, found ']' (a trailing comma?)", index)
		}
		return s.errHere("expected byte value %d (an integer 0 to 255), found %s", index, describe(buf[i]))
	}
	text := string(buf[i:j])
	if buf[i] == '0' && j > i+1 && buf[i+1] >= '0' && buf[i+1] <= '9' {
		return s.errHere("byte value %d is %s: numbers may not have leading zeros", index, text)
	}
	return s.errHere("byte value %d is %s: byte values are integers 0 to 255, written without sign, fraction or exponent", index, text)
}

// Package chunk splits a collection's bytes into content-defined chunks and names
// them by their BLAKE3 hash (256 bits, or the first 128 in format 2 repositories).
//
// A collection is newline-delimited records. Plain content-defined chunking over such
// bytes cuts wherever the rolling hash says, so one edited record dirties a whole
// chunk of its neighbours; at the chunk sizes that keep the index small that is many
// times the record. cairn therefore cuts only between records, and decides whether
// to cut after a record from that record alone: the record's key (its "id" when the
// line starts with {"id":", otherwise the whole line) is hashed with a per-repository
// seed, and the cut is taken when the hash falls below a threshold proportional to the
// record's length. Chunks then average Params.Average bytes whatever the record sizes,
// and an edit, insert or delete changes only the chunk that holds the record: the
// boundaries of every other chunk depend on records that did not change.
//
// A record longer than Params.Max is split inside with Rabin CDC (restic/chunker) using
// the repository's random polynomial, so huge pasted files and binary data without
// newlines still deduplicate.
package chunk

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"

	"github.com/restic/chunker"
	"github.com/zeebo/blake3"

	"cairn/chunk/record"
)

// ID names a chunk: the BLAKE3-256 hash of its raw bytes. A repository of format 2
// and later stores ids of 128 bits, the hash's first NarrowSize bytes; in memory such
// an id keeps the rest zero (see Narrow), and it prints at its stored width.
type ID [32]byte

// NarrowSize is the width of the 128-bit ids of format 2 repositories.
const NarrowSize = 16

// Hash returns the ID of data.
func Hash(data []byte) ID { return ID(blake3.Sum256(data)) }

// Narrow returns the 128-bit form of id: its first NarrowSize bytes, the rest zero.
func (id ID) Narrow() ID {
	clear(id[NarrowSize:])
	return id
}

// IsNarrow reports whether id is a 128-bit id (its bytes past NarrowSize are zero).
// A 256-bit hash with 128 zero bits at its end does not occur in practice.
func (id ID) IsNarrow() bool { return id == id.Narrow() }

// String returns the ID in lowercase hex at its width: 32 digits for a 128-bit id,
// 64 otherwise.
func (id ID) String() string {
	if id.IsNarrow() {
		return hex.EncodeToString(id[:NarrowSize])
	}
	return hex.EncodeToString(id[:])
}

// Short returns the first eight hex digits, for messages.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// MarshalText implements encoding.TextMarshaler (lowercase hex, as String).
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	*id = v
	return err
}

// ParseID parses an ID of 64 hex digits, or a 128-bit one of 32.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) && len(s) != 2*NarrowSize {
		return id, fmt.Errorf("invalid chunk id %q: want %d or %d hex digits", s, 2*NarrowSize, 2*len(id))
	}
	if _, err := hex.Decode(id[:len(s)/2], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid chunk id %q: %w", s, err)
	}
	return id, nil
}

// Params are the chunking settings; they are kept in the repository config so that
// every backup into one repository cuts the same way.
type Params struct {
	Polynomial chunker.Pol `json:"polynomial"`
	Seed       uint64      `json:"seed"`    // keys the record hash that picks boundaries
	Average    int         `json:"average"` // target average chunk size in bytes
	Max        int         `json:"max"`     // largest chunk; longer records are split with Rabin CDC
}

// Default sizes, chosen on the generator's 1%-change workload (see BENCHMARKS.md).
const (
	DefaultAverage = 1 << 10
	DefaultMax     = 64 << 10
)

// Validate reports settings the chunker cannot work with.
func (p Params) Validate() error {
	switch {
	case p.Average < 64 || p.Average > 8<<20:
		return fmt.Errorf("chunk average %d out of range [64, 8 MiB]", p.Average)
	case p.Max < 4*p.Average || p.Max < 64<<10 || p.Max > 8<<20:
		return fmt.Errorf("chunk max %d out of range [max(4×average, 64 KiB), 8 MiB]", p.Max)
	case p.Polynomial == 0 || !p.Polynomial.Irreducible():
		return errors.New("chunk polynomial is not irreducible")
	}
	return nil
}

// NewParams picks a random polynomial and seed with the default sizes.
func NewParams(seed uint64) (Params, error) {
	pol, err := chunker.RandomPolynomial()
	if err != nil {
		return Params{}, fmt.Errorf("choose chunker polynomial: %w", err)
	}
	return Params{Polynomial: pol, Seed: seed, Average: DefaultAverage, Max: DefaultMax}, nil
}

// Chunk is one piece of a collection. Data is valid until the next call to Next.
type Chunk struct {
	Data    []byte
	Records int // records that start in this chunk
}

// Chunker cuts one collection. It is not safe for concurrent use; Reset reuses its buffers.
type Chunker struct {
	p   Params
	rd  io.Reader
	err error // sticky read error (io.EOF at the end)

	buf        []byte
	start, end int // buffered bytes are buf[start:end]; the current group starts at start
	group      int // length of the current group of whole records
	records    int // records in the current group
	scanned    int // bytes after start+group already known to hold no newline

	rabin    *chunker.Chunker
	rabinBuf []byte
	big      *recordReader // non-nil while a long record is being split
}

// New returns a chunker reading rd.
func New(rd io.Reader, p Params) *Chunker {
	c := &Chunker{p: p, buf: make([]byte, 4*p.Max)}
	c.Reset(rd)
	return c
}

// Reset starts a new collection, keeping the buffers.
func (c *Chunker) Reset(rd io.Reader) {
	c.rd, c.err = rd, nil
	c.start, c.end, c.group, c.records, c.scanned = 0, 0, 0, 0, 0
	c.big = nil
}

// Next returns the next chunk, or io.EOF after the last one.
func (c *Chunker) Next() (Chunk, error) {
	if c.big != nil {
		ch, err := c.nextBig()
		if err != io.EOF {
			return ch, err
		}
	}
	for {
		pos := c.start + c.group
		// Look for the end of the record that starts at pos.
		i := bytes.IndexByte(c.buf[pos+c.scanned:c.end], '\n')
		if i >= 0 {
			n := c.scanned + i + 1
			c.scanned = 0
			if c.group > 0 && c.group+n > c.p.Max {
				// The record does not fit: cut before it. Only long records reach here.
				return c.cut(), nil
			}
			if n > c.p.Max {
				return c.startBig()
			}
			rec := c.buf[pos : pos+n]
			c.group += n
			c.records++
			if c.boundary(rec) {
				return c.cut(), nil
			}
			continue
		}
		c.scanned = c.end - pos
		if c.scanned > c.p.Max {
			// A record longer than Max with no newline yet: flush what came before it.
			c.scanned = 0
			if c.group > 0 {
				return c.cut(), nil
			}
			return c.startBig()
		}
		if c.err != nil {
			// The last record has no newline.
			if c.end > pos {
				c.group += c.end - pos
				c.records++
				c.scanned = 0
			}
			if c.group > 0 {
				return c.cut(), nil
			}
			return Chunk{}, c.err
		}
		c.fill()
	}
}

// cut returns the current group as a chunk and starts a new one after it.
func (c *Chunker) cut() Chunk {
	ch := Chunk{Data: c.buf[c.start : c.start+c.group], Records: c.records}
	c.start += c.group
	c.group, c.records = 0, 0
	return ch
}

// fill compacts the buffer and reads more. It sets c.err at the end of input.
func (c *Chunker) fill() {
	if c.start > 0 {
		// The previous chunk returned by Next is no longer in use.
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	for c.end < len(c.buf) && c.err == nil {
		n, err := c.rd.Read(c.buf[c.end:])
		c.end += n
		if err != nil {
			c.err = err
		}
		if n > 0 {
			return
		}
	}
}

// boundary decides whether to cut after rec, from rec alone.
func (c *Chunker) boundary(rec []byte) bool {
	if len(rec) >= c.p.Average {
		return true
	}
	key, ok := record.Key(rec) // a record is known by its id, else by all its bytes
	if !ok {
		key = rec
	}
	h := keyedHash(c.p.Seed, key)
	// Cut with probability len(rec)/Average.
	threshold := uint64(float64(len(rec)) / float64(c.p.Average) * math.MaxUint64)
	return h < threshold
}

// keyedHash is a fast seeded 64-bit hash (a wyhash-style multiply-mix). It only picks
// chunk boundaries; chunk identity is BLAKE3.
func keyedHash(seed uint64, b []byte) uint64 {
	const m1, m2 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db
	h := seed ^ m1 ^ uint64(len(b))
	for len(b) >= 8 {
		h = mix(h^binary.LittleEndian.Uint64(b), m2)
		b = b[8:]
	}
	var tail [8]byte
	copy(tail[:], b)
	h = mix(h^binary.LittleEndian.Uint64(tail[:]), m2)
	return mix(h, m1)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// startBig begins splitting the record at the current position with Rabin CDC.
func (c *Chunker) startBig() (Chunk, error) {
	c.big = &recordReader{c: c, first: true}
	if c.rabin == nil {
		c.rabin = chunker.NewWithBoundaries(c.big, c.p.Polynomial, uint(c.p.Max/4), uint(c.p.Max))
		c.rabinBuf = make([]byte, c.p.Max)
	} else {
		c.rabin.ResetWithBoundaries(c.big, c.p.Polynomial, uint(c.p.Max/4), uint(c.p.Max))
	}
	// Average of about Max/2: the bits are counted beyond the minimum size.
	c.rabin.SetAverageBits(bits.Len(uint(c.p.Max/4)) - 1)
	ch, err := c.nextBig()
	if err == io.EOF {
		return c.Next()
	}
	return ch, err
}

func (c *Chunker) nextBig() (Chunk, error) {
	rc, err := c.rabin.Next(c.rabinBuf)
	if err == io.EOF {
		c.big = nil
		return Chunk{}, io.EOF
	}
	if err != nil {
		return Chunk{}, fmt.Errorf("split long record: %w", err)
	}
	ch := Chunk{Data: rc.Data}
	if c.big.first {
		ch.Records, c.big.first = 1, false
	}
	return ch, nil
}

// recordReader yields the bytes of one long record: what is buffered, then more from
// the underlying reader, up to and including its newline.
type recordReader struct {
	c     *Chunker
	done  bool // the newline (or the end of input) has been handed out
	first bool // no chunk of this record has been returned yet
}

func (r *recordReader) Read(p []byte) (int, error) {
	c := r.c
	if r.done {
		return 0, io.EOF
	}
	if c.start == c.end {
		c.start, c.end = 0, 0
		if c.err == nil {
			c.fill()
		}
		if c.start == c.end {
			if c.err != nil {
				r.done = true
				return 0, io.EOF
			}
			return 0, nil
		}
	}
	avail := c.buf[c.start:c.end]
	if i := bytes.IndexByte(avail, '\n'); i >= 0 {
		avail = avail[:i+1]
	}
	n := copy(p, avail)
	r.done = n == len(avail) && avail[n-1] == '\n'
	c.start += n
	return n, nil
}

package localdb

import (
	"bytes"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"

	"cairn/chunk/record"
)

// Reading ahead: while a large write parses and inserts one block of records, a
// goroutine of its own reads (decodes) the next, so an import uses two cores.
const (
	blockSize = 256 << 10
	blocks    = 4 // blocks in flight: reading ahead holds at most blocks*blockSize
)

// readBlocks calls fn with r's bytes a block at a time, in order. With ahead, r is read
// on a goroutine of its own while fn runs; readBlocks returns only after that goroutine
// has ended, so r is never read once readBlocks has returned. It returns fn's error or
// r's, nil at r's end.
func readBlocks(r io.Reader, ahead bool, fn func([]byte) error) error {
	if !ahead {
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if ferr := fn(buf[:n]); ferr != nil {
					return ferr
				}
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	type block struct {
		b   []byte
		err error // r's error after b: io.EOF at its end
	}
	full := make(chan block, blocks)
	free := make(chan []byte, blocks)
	stop := make(chan struct{})
	done := make(chan struct{})
	// The reader ends at r's end or first error, or once stop is closed.
	go func() {
		defer close(done)
		made := 0
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			default:
				if made < blocks {
					buf = make([]byte, blockSize)
					made++
					break
				}
				select {
				case buf = <-free:
				case <-stop:
					return
				}
			}
			n, err := io.ReadFull(r, buf)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			select {
			case full <- block{b: buf[:n], err: err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	for b := range full {
		if len(b.b) > 0 {
			if err := fn(b.b); err != nil {
				return err
			}
		}
		if b.err == io.EOF {
			return nil
		}
		if b.err != nil {
			return b.err
		}
		free <- b.b[:cap(b.b)]
	}
	return nil // not reached: the reader sends an error before it ends on its own
}

// arenaSize is the size of the buffers a batch's records are copied into.
const arenaSize = 1 << 20

// arena holds the records of one batch, one after another: bbolt keeps the values it is
// given until the transaction commits, after which the memory is reused.
type arena struct {
	buf   []byte
	start int // of the record being added
}

// add appends p to the record being added. A record that outgrows the buffer moves to
// a new one; records already ended stay where they are.
func (a *arena) add(p []byte) {
	if len(a.buf)+len(p) > cap(a.buf) {
		cur := len(a.buf) - a.start
		nb := make([]byte, cur, max(arenaSize, 2*(cur+len(p))))
		copy(nb, a.buf[a.start:])
		a.buf, a.start = nb, 0
	}
	a.buf = append(a.buf, p...)
}

// end ends the record being added and returns it.
func (a *arena) end() []byte {
	rec := a.buf[a.start:len(a.buf):len(a.buf)]
	a.start = len(a.buf)
	return rec
}

// reset makes the memory reusable; only after the transaction holding the records ended.
func (a *arena) reset() { a.buf, a.start = a.buf[:0], 0 }

// drop forgets the record being added, left unfinished by a collection that failed.
func (a *arena) drop() { a.buf = a.buf[:a.start] }

// collection is one collection being written: lines are cut from the blocks read,
// copied into the writer's arena, and put by id.
type collection struct {
	w       *Writer
	name    string
	b       *bolt.Bucket
	line    int    // of the record being cut, from 1
	last    []byte // the previous record's id
	ordered bool   // ids so far came in increasing order
}

func newCollection(w *Writer, name string, b *bolt.Bucket) *collection {
	c := &collection{w: w, name: name, b: b, line: 1, ordered: true}
	c.fill()
	return c
}

// fill packs pages full while ids come in order: a bulk load (an import of an export, a
// restore) appends at the end of the tree, where the half-empty pages that suit random
// inserts would only double the file.
func (c *collection) fill() {
	if c.ordered {
		c.b.FillPercent = 1.0
	} else {
		c.b.FillPercent = bolt.DefaultFillPercent
	}
}

// block cuts the records out of the next block of the collection's bytes.
func (c *collection) block(p []byte) error {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.w.arena.add(p)
			return nil
		}
		c.w.arena.add(p[:i])
		p = p[i+1:]
		if err := c.record(); err != nil {
			return err
		}
	}
	return nil
}

// end puts the last record, if the collection does not end with a newline.
func (c *collection) end() error { return c.record() }

// record puts the record just cut; empty lines are skipped.
func (c *collection) record() error {
	rec := c.w.arena.end()
	line := c.line
	c.line++
	if len(rec) == 0 {
		return nil
	}
	id, err := recordID(rec)
	if err != nil {
		return fmt.Errorf("collection %s record %d: %w", c.name, line, err)
	}
	if c.ordered && c.last != nil && bytes.Compare(id, c.last) <= 0 {
		c.ordered = false
		c.fill()
	}
	c.last = append(c.last[:0], id...)
	c.w.records++
	if err := c.b.Put(id, rec); err != nil {
		return fmt.Errorf("collection %s record %d: %w", c.name, line, err)
	}
	c.w.pending += int64(len(id) + len(rec))
	next, err := c.w.maybeCommit()
	if err != nil {
		return fmt.Errorf("collection %s: %w", c.name, err)
	}
	if next {
		if c.b, err = c.w.bucket(c.name); err != nil {
			return fmt.Errorf("collection %s: %w", c.name, err)
		}
		c.fill()
	}
	return nil
}

// recordID returns the id of a record that is a JSON object with a string "id", as
// record.ID does. A record that starts with an id without escapes, as Pieces and cairn
// write them, is checked in one pass and its id returned in place; the others go
// through record.ID.
func recordID(rec []byte) ([]byte, error) {
	if !validJSON(rec) {
		return nil, fmt.Errorf("not a JSON object: %w", ErrBadRecord)
	}
	if key, ok := record.Key(rec); ok && len(key) > 0 && len(key) <= record.MaxID && bytes.IndexByte(key, '\\') < 0 {
		return key, nil
	}
	id, err := record.ID(rec)
	if err != nil {
		return nil, err
	}
	return []byte(id), nil
}

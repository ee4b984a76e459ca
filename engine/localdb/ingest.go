package localdb

import (
	"bytes"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"

	"cairn/chunk/record"
)

// A large write runs on two goroutines: one reads the collection (decoding the
// document), cuts it into records and checks them, the other puts them into the tree
// and commits the batches. The records stay in the blocks they were read into until
// the batch holding them commits; then the blocks are read into again.
const (
	blockSize = 256 << 10
	readAhead = 4 // blocks read ahead of the writer
	// maxHeld is how many blocks a batch may hold: a batch commits when it holds that
	// many even if they carry less than batchBytes (blocks shortened by long lines), so
	// the reader always gets a block back.
	maxHeld = batchBytes/blockSize + 4
	// maxBlocks bounds the blocks of one collection's write: the batch's, those read
	// ahead, and the one being read.
	maxBlocks = maxHeld + readAhead + 2
)

// block holds whole record lines of a collection and where each record and its id are.
type block struct {
	buf  []byte
	recs []rec
	err  error // after recs: a bad record, r's error, or io.EOF at its end
}

type rec struct {
	id, val []byte // in buf, or id elsewhere when it had escapes or came later
	line    int
}

// blocks hands out block buffers, at most maxBlocks at a time when bounded, and takes
// back those whose batch committed.
type blocks struct {
	free  chan *block
	made  int
	bound bool
}

func newBlocks(bound bool) *blocks { return &blocks{free: make(chan *block, maxBlocks), bound: bound} }

// get returns an empty block with room for at least n bytes, waiting for one to come
// back when all are out; nil once stop is closed.
func (bs *blocks) get(n int, stop <-chan struct{}) *block {
	var b *block
	select {
	case b = <-bs.free:
	default:
		if !bs.bound || bs.made < maxBlocks {
			bs.made++
			b = &block{}
			break
		}
		select {
		case b = <-bs.free:
		case <-stop:
			return nil
		}
	}
	if b.buf == nil || cap(b.buf) < n {
		b.buf = make([]byte, max(blockSize, n))
	}
	b.buf, b.recs, b.err = b.buf[:cap(b.buf)], b.recs[:0], nil
	return b
}

// put takes back a block nothing refers to any more.
func (bs *blocks) put(b *block) {
	select {
	case bs.free <- b:
	default:
	}
}

// cutter cuts a collection's bytes into checked records, a block at a time.
type cutter struct {
	name  string
	r     io.Reader
	carry []byte // the start of a line that goes on in the next block
	line  int
	done  bool
}

// next reads the next block from the reader into b: whole lines, each record checked
// and its id found. It sets b.err at the end of r, at r's error or at a bad record.
func (c *cutter) next(b *block) {
	n := copy(b.buf, c.carry)
	m, err := io.ReadFull(c.r, b.buf[n:])
	n += m
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	data := b.buf[:n]
	end := n
	if err == nil { // the last line may go on in the next block
		end = bytes.LastIndexByte(data, '\n') + 1
	}
	c.carry = append(c.carry[:0], data[end:]...)
	for p := 0; p < end; c.line++ {
		e := end
		if i := bytes.IndexByte(data[p:end], '\n'); i >= 0 {
			e = p + i
		}
		if v := data[p:e:e]; len(v) > 0 {
			id, rerr := recordID(v)
			if rerr != nil {
				b.err = fmt.Errorf("collection %s record %d: %w", c.name, c.line, rerr)
				c.done = true
				return
			}
			b.recs = append(b.recs, rec{id: id, val: v, line: c.line})
		}
		p = e + 1
	}
	b.err = err
	c.done = err != nil
}

// need is the room the next block needs: the carried line and as much again.
func (c *cutter) need() int { return 2 * len(c.carry) }

// cut calls put with the blocks of r in order. With ahead, r is read and cut on a
// goroutine of its own while put runs; cut returns only after that goroutine has ended,
// so r is never read once cut has returned. It returns put's error, a bad record's or
// r's, nil at r's end.
func cut(c *cutter, bs *blocks, ahead bool, put func(*block) error) error {
	if !ahead {
		for !c.done {
			b := bs.get(c.need(), nil)
			c.next(b)
			if err := put(b); err != nil {
				return err
			}
			if b.err != io.EOF && b.err != nil {
				return b.err
			}
		}
		return nil
	}
	full := make(chan *block, readAhead)
	stop := make(chan struct{})
	done := make(chan struct{})
	// The reader ends after the block with r's end, r's error or a bad record, or
	// once stop is closed.
	go func() {
		defer close(done)
		for !c.done {
			b := bs.get(c.need(), stop)
			if b == nil {
				return
			}
			c.next(b)
			select {
			case full <- b:
			case <-stop:
				return
			}
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	for b := range full {
		if err := put(b); err != nil {
			return err
		}
		if b.err == io.EOF {
			return nil
		}
		if b.err != nil {
			return b.err
		}
	}
	return nil // not reached: the reader's last block carries an error
}

// collection is one collection being written.
type collection struct {
	w       *Writer
	name    string
	b       *bolt.Bucket
	last    []byte // the previous record's id
	ordered bool   // ids so far came in increasing order
}

func newCollection(w *Writer, name string, b *bolt.Bucket) *collection {
	c := &collection{w: w, name: name, b: b, ordered: true}
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

// block puts a block's records; the batch holds the block until it commits.
func (c *collection) block(b *block) error {
	if len(b.recs) == 0 { // the middle of a long line, or the end
		c.w.blocks.put(b)
		return nil
	}
	c.w.held = append(c.w.held, b)
	for _, r := range b.recs {
		if c.ordered && c.last != nil && bytes.Compare(r.id, c.last) <= 0 {
			c.ordered = false
			c.fill()
		}
		c.last = append(c.last[:0], r.id...)
		c.w.records++
		if err := c.b.Put(r.id, r.val); err != nil {
			return fmt.Errorf("collection %s record %d: %w", c.name, r.line, err)
		}
		c.w.pending += int64(len(r.id) + len(r.val))
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

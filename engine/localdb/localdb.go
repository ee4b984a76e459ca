// Package localdb is the daemon's local snippet database: an embedded bbolt store with
// one bucket per collection, records keyed by their id, values being the record's line
// (without its newline) in the collection byte format.
//
// Export streams a consistent read transaction; import merges in one write transaction
// (all or nothing); restore builds a new database file beside the live one and swaps it
// in, so a failed or cancelled restore leaves the original untouched.
package localdb

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"cairn/transport/local"

	"cairn/chunk"
)

// metaBucket holds the database version and schema; collection buckets are the rest.
var (
	metaBucket = []byte("\x00meta")
	versionKey = []byte("version")
	schemaKey  = []byte("schema")
	tagPrefix  = "tag:" // tag:<collection> = a random value replaced by every write to it
)

// DefaultVersion is the version a new, empty database reports.
const DefaultVersion = "1.0.0"

// ErrBadRecord means an imported record is not a JSON object with a string id.
var ErrBadRecord = errors.New("invalid record")

// DB is an open local database. Its methods are safe for concurrent use.
type DB struct {
	path string
	wmu  sync.Mutex   // held by a writer (merge, import, replace) from its start to its end
	mu   sync.RWMutex // held for reading by every transaction, for writing by the swap of a new file
	db   *bolt.DB
}

// Open opens or creates the database file at path.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open local database: %w", err)
	}
	db, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	removeLeftovers(path)
	return &DB{path: path, db: db}, nil
}

func openBolt(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open local database %s: %w", path, err)
	}
	return db, nil
}

// Path is the database file.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.db.Close()
}

// Meta is the database's version and schema.
type Meta struct {
	Version string
	Schema  json.RawMessage
}

func readMeta(tx *bolt.Tx) Meta {
	m := Meta{Version: DefaultVersion}
	if b := tx.Bucket(metaBucket); b != nil {
		if v := b.Get(versionKey); len(v) > 0 {
			m.Version = string(v)
		}
		if v := b.Get(schemaKey); len(v) > 0 {
			m.Schema = append(json.RawMessage(nil), v...)
		}
	}
	return m
}

func writeMeta(tx *bolt.Tx, m Meta) error {
	b, err := tx.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return err
	}
	if m.Version != "" {
		if err := b.Put(versionKey, []byte(m.Version)); err != nil {
			return err
		}
	}
	if len(m.Schema) > 0 {
		return b.Put(schemaKey, m.Schema)
	}
	return nil
}

// Tags returns each collection's change tag: a value that every write to the collection
// replaces. Collections written before tags existed have none.
func (d *DB) Tags() (map[string]string, error) {
	tags := map[string]string{}
	err := d.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(metaBucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(tagPrefix)); k != nil && bytes.HasPrefix(k, []byte(tagPrefix)); k, v = c.Next() {
			tags[string(k[len(tagPrefix):])] = string(v)
		}
		return nil
	})
	return tags, err
}

// Meta returns the database's version and schema.
func (d *DB) Meta() (Meta, error) {
	var m Meta
	err := d.view(func(tx *bolt.Tx) error {
		m = readMeta(tx)
		return nil
	})
	return m, err
}

// Stats counts what the database holds.
type Stats struct {
	Collections map[string]int `json:"collections"` // records per collection
	Records     int            `json:"records"`
	Bytes       int64          `json:"bytes"` // in the collection byte format
}

// Stats counts records and bytes.
func (d *DB) Stats() (Stats, error) {
	st := Stats{Collections: map[string]int{}}
	err := d.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if bytes.Equal(name, metaBucket) {
				return nil
			}
			n := 0
			err := b.ForEach(func(_, v []byte) error {
				n++
				st.Bytes += int64(len(v)) + 1
				return nil
			})
			st.Collections[string(name)] = n
			st.Records += n
			return err
		})
	})
	return st, err
}

func (d *DB) view(fn func(*bolt.Tx) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.db.View(fn)
}

// Read calls fn for each collection in name order with a reader of its bytes (records
// in id order, one per line), all from one consistent read transaction, and returns
// the database's metadata.
func (d *DB) Read(ctx context.Context, fn func(name string, r io.Reader) error) (Meta, error) {
	var m Meta
	err := d.view(func(tx *bolt.Tx) error {
		m = readMeta(tx)
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if bytes.Equal(name, metaBucket) {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			return fn(string(name), &bucketReader{ctx: ctx, c: b.Cursor()})
		})
	})
	return m, err
}

// bucketReader yields a bucket's values in key order, each followed by a newline.
type bucketReader struct {
	ctx     context.Context
	c       *bolt.Cursor
	started bool
	rest    []byte // unread part of the current value, newline included
	pending bool   // the current value's newline is still to be written
	n       int
}

func (r *bucketReader) Read(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		if len(r.rest) > 0 {
			n := copy(p[written:], r.rest)
			r.rest = r.rest[n:]
			written += n
			continue
		}
		if r.pending {
			p[written] = '\n'
			written++
			r.pending = false
			continue
		}
		var v []byte
		if !r.started {
			_, v = r.c.First()
			r.started = true
		} else {
			_, v = r.c.Next()
		}
		if v == nil {
			if written == 0 {
				return 0, io.EOF
			}
			return written, nil
		}
		if r.n++; r.n%4096 == 0 {
			if err := r.ctx.Err(); err != nil {
				return written, err
			}
		}
		r.rest, r.pending = v, true
	}
	return written, nil
}

// Writer receives collections inside one write transaction.
type Writer struct {
	tx      *bolt.Tx
	ndb     *bolt.DB // set when writing a new file: the transaction may then be committed in batches
	records int
	pending int64 // bytes put since the last batch commit
}

// batchBytes bounds the memory of a write into a new database file: bbolt keeps every
// page a transaction dirties until it commits.
const batchBytes = 8 << 20

// bucket returns the named bucket of the current transaction.
func (w *Writer) bucket(name string) (*bolt.Bucket, error) {
	return w.tx.CreateBucketIfNotExists([]byte(name))
}

// maybeCommit commits a batch of a new-file write and begins the next one.
func (w *Writer) maybeCommit() (bool, error) {
	if w.ndb == nil || w.pending < batchBytes {
		return false, nil
	}
	if err := w.tx.Commit(); err != nil {
		return false, err
	}
	tx, err := w.ndb.Begin(true)
	if err != nil {
		return false, err
	}
	w.tx, w.pending = tx, 0
	return true, nil
}

// Collection reads records (one per line) from r and upserts them by id.
func (w *Writer) Collection(name string, r io.Reader) error {
	if name == "" || bytes.Equal([]byte(name), metaBucket) {
		return fmt.Errorf("collection name %q: %w", name, ErrBadRecord)
	}
	b, err := w.bucket(name)
	if err != nil {
		return fmt.Errorf("collection %s: %w", name, err)
	}
	// A new tag for the collection, committed with the records or not at all: a backup
	// that finds the tag it recorded last time knows the collection is unchanged.
	var tag [16]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return err
	}
	mb, err := w.tx.CreateBucketIfNotExists(metaBucket)
	if err == nil {
		err = mb.Put([]byte(tagPrefix+name), []byte(hex.EncodeToString(tag[:])))
	}
	if err != nil {
		return fmt.Errorf("collection %s: %w", name, err)
	}
	return EachRecord(r, func(line int, rec []byte) error {
		id, err := recordID(rec)
		if err != nil {
			return fmt.Errorf("collection %s record %d: %w", name, line, err)
		}
		w.records++
		// bbolt keeps the slices until the commit; rec lives in a reused buffer.
		if err := b.Put(bytes.Clone(id), bytes.Clone(rec)); err != nil {
			return fmt.Errorf("collection %s record %d: %w", name, line, err)
		}
		w.pending += int64(len(id) + len(rec))
		if next, err := w.maybeCommit(); err != nil {
			return fmt.Errorf("collection %s: %w", name, err)
		} else if next {
			b, err = w.bucket(name)
			return err
		}
		return nil
	})
}

// SetMeta records the database version and schema.
func (w *Writer) SetMeta(m Meta) error { return writeMeta(w.tx, m) }

// Records is the number of records written so far.
func (w *Writer) Records() int { return w.records }

// EachRecord calls fn for every non-empty line of r (without its newline). Lines may be
// of any length.
func EachRecord(r io.Reader, fn func(line int, rec []byte) error) error {
	br := newLineReader(r)
	for line := 1; ; line++ {
		rec, err := br.next()
		if len(rec) > 0 {
			if ferr := fn(line, rec); ferr != nil {
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

// recordID returns the id of a record that is a JSON object with a string "id".
func recordID(rec []byte) ([]byte, error) {
	// Fast path: lines written by cairn and by Pieces start with the id.
	if key := chunk.RecordKey(rec); len(key) < len(rec) && bytes.IndexByte(key, '\\') < 0 && len(key) > 0 && json.Valid(rec) {
		return key, nil
	}
	var v struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal(rec, &v); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrBadRecord, err)
	}
	if v.ID == nil {
		return nil, fmt.Errorf("%w: no string \"id\"", ErrBadRecord)
	}
	if *v.ID == "" || len(*v.ID) > 1024 {
		return nil, fmt.Errorf("%w: id must be 1 to 1024 bytes", ErrBadRecord)
	}
	return []byte(*v.ID), nil
}

// Merge runs fn in one write transaction; records are upserted by id. If fn or the
// commit fails, the database is exactly as before.
func (d *DB) Merge(ctx context.Context, fn func(w *Writer) error) error {
	p, err := d.BeginMerge()
	if err != nil {
		return err
	}
	return p.run(ctx, fn)
}

// Replace builds a new database with fn and swaps it in for the current one. Until the
// swap the live database serves readers unchanged; if fn fails or ctx is cancelled the
// new file is removed and nothing changes.
func (d *DB) Replace(ctx context.Context, fn func(w *Writer) error) error {
	p, err := d.BeginReplace()
	if err != nil {
		return err
	}
	return p.run(ctx, fn)
}

// Pending is a merge or a replacement under way: write with its Writer, then Commit or
// Abort. Nothing is visible to readers before Commit.
type Pending struct {
	*Writer
	d    *DB
	ndb  *bolt.DB // the new database file of a replacement
	tmp  string
	done bool
}

func (p *Pending) run(ctx context.Context, fn func(w *Writer) error) error {
	if err := fn(p.Writer); err != nil {
		p.Abort()
		return err
	}
	return p.Commit(ctx)
}

// BeginMerge starts a merge into the live database in one transaction. Other writers
// wait until it ends.
func (d *DB) BeginMerge() (*Pending, error) {
	d.wmu.Lock()
	d.mu.RLock()
	tx, err := d.db.Begin(true)
	if err != nil {
		d.mu.RUnlock()
		d.wmu.Unlock()
		return nil, fmt.Errorf("begin merge: %w", err)
	}
	return &Pending{Writer: &Writer{tx: tx}, d: d}, nil
}

// BeginReplace starts building a replacement database beside the live one.
func (d *DB) BeginReplace() (*Pending, error) { return d.beginFile(false) }

// BeginImport starts a large merge: it works on a copy of the database, committed in
// batches so memory stays flat, and swaps the copy in on Commit. Other writers wait
// until it ends; readers see the live database meanwhile.
func (d *DB) BeginImport() (*Pending, error) { return d.beginFile(true) }

func (d *DB) beginFile(copyLive bool) (*Pending, error) {
	d.wmu.Lock()
	tmp := d.path + ".new"
	os.Remove(tmp)
	fail := func(err error) (*Pending, error) {
		os.Remove(tmp)
		d.wmu.Unlock()
		return nil, err
	}
	if copyLive {
		err := d.view(func(tx *bolt.Tx) error { return tx.CopyFile(tmp, 0o600) })
		if err != nil {
			return fail(fmt.Errorf("copy local database: %w", err))
		}
	}
	ndb, err := openBolt(tmp)
	if err != nil {
		return fail(err)
	}
	ndb.NoSync = true // synced once at commit
	tx, err := ndb.Begin(true)
	if err != nil {
		ndb.Close()
		return fail(fmt.Errorf("begin: %w", err))
	}
	return &Pending{Writer: &Writer{tx: tx, ndb: ndb}, d: d, ndb: ndb, tmp: tmp}, nil
}

// Abort discards everything written.
func (p *Pending) Abort() {
	if p.done {
		return
	}
	p.done = true
	defer p.d.wmu.Unlock()
	p.tx.Rollback()
	if p.ndb == nil {
		p.d.mu.RUnlock()
		return
	}
	p.ndb.Close()
	os.Remove(p.tmp)
}

// Commit makes the writes visible: a merge commits its transaction; a replacement is
// synced and swapped in for the live database, waiting for running readers to finish.
func (p *Pending) Commit(ctx context.Context) error {
	if p.done {
		return errors.New("commit after the end of a pending write")
	}
	if err := ctx.Err(); err != nil {
		p.Abort()
		return err
	}
	p.done = true
	d := p.d
	defer d.wmu.Unlock()
	if p.ndb == nil {
		defer d.mu.RUnlock()
		return p.tx.Commit()
	}
	err := p.tx.Commit()
	if err == nil {
		err = p.ndb.Sync()
	}
	if cerr := p.ndb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p.tmp)
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.db.Close(); err != nil {
		os.Remove(p.tmp)
		return fmt.Errorf("close local database for restore: %w", err)
	}
	if err := os.Rename(p.tmp, d.path); err != nil {
		os.Remove(p.tmp)
		d.db, _ = openBolt(d.path)
		return fmt.Errorf("swap restored database into place: %w", err)
	}
	_ = local.SyncDir(filepath.Dir(d.path))
	d.db, err = openBolt(d.path)
	return err
}

// lineReader splits a stream into lines of any length, reusing one buffer.
type lineReader struct {
	r   io.Reader
	buf []byte
	beg int
	end int
	err error
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: r, buf: make([]byte, 64<<10)} }

// next returns the next line without its newline; the slice is valid until the next call.
func (l *lineReader) next() ([]byte, error) {
	scanned := 0
	for {
		if i := bytes.IndexByte(l.buf[l.beg+scanned:l.end], '\n'); i >= 0 {
			line := l.buf[l.beg : l.beg+scanned+i]
			l.beg += scanned + i + 1
			return line, nil
		}
		scanned = l.end - l.beg
		if l.err != nil {
			line := l.buf[l.beg:l.end]
			l.beg = l.end
			return line, l.err
		}
		if l.beg > 0 {
			copy(l.buf, l.buf[l.beg:l.end])
			l.end -= l.beg
			l.beg = 0
		}
		if l.end == len(l.buf) {
			l.buf = append(l.buf, make([]byte, len(l.buf))...)
		}
		n, err := l.r.Read(l.buf[l.end:])
		l.end += n
		if err != nil {
			l.err = err
		}
	}
}

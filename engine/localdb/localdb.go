// Package localdb is the daemon's local snippet database: an embedded bbolt store with
// one bucket per collection, records keyed by their id, values being the record's line
// (without its newline) in the collection byte format.
//
// A small merge (Merge: the assets of one request) is one transaction on the live file;
// bbolt's readers keep the snapshot they began with meanwhile. Every large write (an
// import, a restore) builds a new file beside the live one, a copy of it or an empty
// one, and renames it into place on Commit, all or nothing. Each swap starts a new
// generation: a reader keeps the generation it began with until it ends (an export reads
// one consistent snapshot, and a slow client delays no import or restore), and an old
// file is closed when its last reader ends. Writers take turns; every wait for a turn
// ends when its context does.
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

	"cairn/chunk/record"
	"cairn/transport/local"
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

// Errors callers branch on.
var (
	// ErrBadRecord means an imported record is not a JSON object with a string id
	// (record.ErrInvalid).
	ErrBadRecord = record.ErrInvalid
	// ErrClosed means the database was closed.
	ErrClosed = errors.New("local database is closed")
)

// DB is an open local database. Its methods are safe for concurrent use.
type DB struct {
	path   string
	writer chan struct{} // holds a token while a writer runs, from its Begin to its Commit or Abort
	closed chan struct{} // closed by Close: writers waiting for their turn give up
	once   sync.Once

	mu  sync.Mutex
	cur *generation // the file readers start on; nil once closed
}

// generation is one database file, open while it is current or being read.
type generation struct {
	db      *bolt.DB
	refs    int    // running readers, plus one while current; guarded by DB.mu
	retired string // where a swap moved the file aside (Windows), removed once closed; guarded by DB.mu
}

// Open opens or creates the database file at path.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open local database: %w", err)
	}
	if err := finishSwap(path); err != nil {
		return nil, fmt.Errorf("open local database: %w", err)
	}
	db, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	removeLeftovers(path)
	return &DB{path: path, writer: make(chan struct{}, 1), closed: make(chan struct{}), cur: &generation{db: db, refs: 1}}, nil
}

// pageSize is the page size of the files Open, imports and restores create (an
// existing file keeps its own): records of a kilobyte or more leave a quarter of a 4 KiB
// page empty, and a bulk load writes a fifth fewer bytes with 64 KiB pages. bbolt
// writes each page of a commit with a system call of its own, and on the benchmark
// machine a write's cost barely depends on its size up to a MiB: with 256 KiB pages an
// import of 1 GiB through the API ran at 167-171 MB/s against 132-154 with 64 KiB, an
// export at 323 MB/s against 247-307, for 1.4 ms more per record merged on its own
// (BenchmarkMergeOneRecord: 3.4-3.7 ms against 2.1-2.4, a synced transaction each).
const pageSize = 256 << 10

func openBolt(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true, OpenFile: openFile, PageSize: pageSize})
	if err != nil {
		return nil, fmt.Errorf("open local database %s: %w", path, err)
	}
	return db, nil
}

// Path is the database file.
func (d *DB) Path() string { return d.path }

// Close closes the database. Readers still running finish on the file they began
// with, which is closed when the last of them ends; writers still waiting give up.
func (d *DB) Close() error {
	d.once.Do(func() { close(d.closed) })
	d.mu.Lock()
	g := d.cur
	d.cur = nil
	d.mu.Unlock()
	if g == nil {
		return nil
	}
	return d.release(g)
}

// acquire returns the current generation, held until release.
func (d *DB) acquire() (*generation, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur == nil {
		return nil, ErrClosed
	}
	d.cur.refs++
	return d.cur, nil
}

// release drops a hold on g and closes its file when nothing holds it any more.
func (d *DB) release(g *generation) error {
	d.mu.Lock()
	g.refs--
	last, retired := g.refs == 0, g.retired
	d.mu.Unlock()
	if !last {
		return nil
	}
	if err := g.db.Close(); err != nil {
		return fmt.Errorf("close local database: %w", err)
	}
	if retired != "" {
		os.Remove(retired) // or the next Open removes it
	}
	return nil
}

// install makes a newly written file the current generation; retired is where the
// swap moved the old generation's file, if it moved it aside.
func (d *DB) install(db *bolt.DB, retired string) error {
	d.mu.Lock()
	old := d.cur
	if old == nil {
		d.mu.Unlock()
		return db.Close()
	}
	old.retired = retired
	d.cur = &generation{db: db, refs: 1}
	d.mu.Unlock()
	d.release(old) // the new file is in place whether or not the old one closes cleanly
	return nil
}

// lockWriter waits for the writer's turn, until ctx is done or the database closed.
func (d *DB) lockWriter(ctx context.Context) error {
	select {
	case <-d.closed:
		return ErrClosed
	default:
	}
	select {
	case d.writer <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the local database's writer: %w", ctx.Err())
	case <-d.closed:
		return ErrClosed
	}
}

func (d *DB) unlockWriter() { <-d.writer }

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

// view runs fn in a read transaction of the current generation, which stays open
// until fn returns whatever writers do meanwhile.
func (d *DB) view(fn func(*bolt.Tx) error) error {
	g, err := d.acquire()
	if err != nil {
		return err
	}
	defer d.release(g)
	return g.db.View(fn)
}

// Read calls fn for each collection in name order with a reader of its bytes (records
// in id order, one per line), all from one consistent read transaction, and returns
// the database's metadata. Writers go on meanwhile: fn sees the database as it was
// when Read began.
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

// Writer receives collections: into a new database file, committed in batches that
// stay invisible to readers until the whole file is swapped in, or (Merge) in one
// transaction on the live file.
type Writer struct {
	tx      *bolt.Tx
	ndb     *bolt.DB // the new file; nil for a merge in one transaction
	records int
	pending int64    // bytes put since the last batch commit
	held    []*block // the blocks holding the records put since the last batch commit
	blocks  *blocks  // block buffers, reused once their batch committed
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
	if w.ndb == nil || w.pending < batchBytes && len(w.held) < maxHeld {
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
	// The block being put goes on into the next batch; the others are free.
	cur := w.held[len(w.held)-1]
	for _, b := range w.held[:len(w.held)-1] {
		w.blocks.put(b)
	}
	w.held = append(w.held[:0], cur)
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
	if w.blocks == nil {
		w.blocks = newBlocks(w.ndb != nil)
	}
	c := newCollection(w, name, b)
	return cut(&cutter{name: name, r: r, line: 1}, w.blocks, w.ndb != nil, c.block)
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

// Merge upserts records by id in one transaction on the live database file: if fn or
// the commit fails, or ctx ends first, the database is exactly as before. Readers keep
// the snapshot they began with. One transaction holds every page it dirties, so Merge
// is for small writes (the assets of one request); an import streams through
// BeginMerge instead. It waits for the writer before it, until ctx ends.
func (d *DB) Merge(ctx context.Context, fn func(w *Writer) error) error {
	if err := d.lockWriter(ctx); err != nil {
		return err
	}
	return d.mergeLocked(ctx, fn)
}

// mergeLocked runs fn in one transaction on the live file; the caller holds the writer
// lock, which it releases.
func (d *DB) mergeLocked(ctx context.Context, fn func(w *Writer) error) error {
	defer d.unlockWriter()
	g, err := d.acquire()
	if err != nil {
		return err
	}
	defer d.release(g)
	return g.db.Update(func(tx *bolt.Tx) error {
		if err := fn(&Writer{tx: tx}); err != nil {
			return err
		}
		return ctx.Err()
	})
}

// Replace builds a new database with fn and swaps it in for the current one. Until the
// swap the live database serves readers unchanged; if fn fails or ctx is cancelled the
// new file is removed and nothing changes.
func (d *DB) Replace(ctx context.Context, fn func(w *Writer) error) error {
	p, err := d.BeginReplace(ctx)
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

// BeginMerge starts a merge: it works on a copy of the database, committed in batches
// so memory stays flat, and swaps the copy in on Commit. It waits for the writer
// before it, until ctx ends; readers see the live database meanwhile.
func (d *DB) BeginMerge(ctx context.Context) (*Pending, error) { return d.beginFile(ctx, true) }

// BeginReplace starts building a replacement database beside the live one. It waits
// for the writer before it, until ctx ends.
func (d *DB) BeginReplace(ctx context.Context) (*Pending, error) { return d.beginFile(ctx, false) }

func (d *DB) beginFile(ctx context.Context, copyLive bool) (*Pending, error) {
	if err := d.lockWriter(ctx); err != nil {
		return nil, err
	}
	tmp := d.path + ".new"
	os.Remove(tmp)
	fail := func(err error) (*Pending, error) {
		os.Remove(tmp)
		d.unlockWriter()
		return nil, err
	}
	if copyLive {
		if err := d.copyTo(ctx, tmp); err != nil {
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
	return &Pending{Writer: &Writer{tx: tx, ndb: ndb}, d: d, tmp: tmp}, nil
}

// copyTo writes a consistent copy of the current generation to a new file; ctx ends
// it between writes.
func (d *DB) copyTo(ctx context.Context, name string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = d.view(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(ctxWriter{ctx: ctx, w: f})
		return err
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxWriter fails its writes once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Abort discards everything written.
func (p *Pending) Abort() {
	if p.done {
		return
	}
	p.done = true
	defer p.d.unlockWriter()
	p.tx.Rollback()
	p.ndb.Close()
	os.Remove(p.tmp)
}

// Commit makes the writes visible: the new file is synced and renamed over the live
// one, and becomes the generation new readers start on. Readers of the old file finish
// on it undisturbed; nothing waits for them.
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
	defer d.unlockWriter()
	// The last batch writes the free-page list, so that opening the new file below
	// reads it rather than walking every page of the file to rebuild it.
	p.ndb.NoFreelistSync = false
	err := p.tx.Commit()
	if err == nil {
		err = p.ndb.Sync()
	}
	if cerr := p.ndb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p.tmp)
		return fmt.Errorf("commit local database: %w", err)
	}
	select {
	case <-d.closed:
		os.Remove(p.tmp)
		return ErrClosed
	default:
	}
	// The old file stays open for its readers (swap_unix.go, swap_windows.go), and a
	// crash leaves one file or the other whole.
	retired, err := swapIn(p.tmp, d.path)
	if err != nil {
		os.Remove(p.tmp)
		return fmt.Errorf("swap the new local database into place: %w", err)
	}
	_ = local.SyncDir(filepath.Dir(d.path))
	ndb, err := openBolt(d.path)
	if err != nil {
		// Readers go on with the old generation until the next successful write.
		// Its file, if moved aside, is removed when it closes.
		d.mu.Lock()
		if d.cur != nil && d.cur.retired == "" {
			d.cur.retired = retired
		}
		d.mu.Unlock()
		return err
	}
	return d.install(ndb, retired)
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

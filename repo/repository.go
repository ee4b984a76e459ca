// Package repo is cairn's repository format: the config, packs of compressed chunks,
// index files and snapshot manifests, stored through a transport.Backend. The format
// is written down in FORMAT.md beside this file.
package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sync/errgroup"

	"cairn/chunk"
	"cairn/transport"
)

// Repository is an open repository. Saving chunks is safe for concurrent use; Flush
// makes everything saved so far durable (packs, then the index that names them).
type Repository struct {
	be      transport.Backend
	cfg     Config
	idx     *Index
	box     *box       // nil in an unencrypted repository
	master  *masterKey // nil in an unencrypted repository
	keyName string     // the key slot the repository was opened with
	limits  readLimits // bounds on the objects it reads

	marker *liveMarker  // this handle's marker in locks/, if any
	timing MarkerTiming // how markers are refreshed and judged
	proc   processInfo  // this process, as markers name it

	loadedIndex []string   // the index files the in-memory index was loaded from
	copied      indexLog   // while a prune repacks: the packs of the index files written (under mu)
	indexMu     sync.Mutex // one index file written at a time

	mu       sync.Mutex
	frame    *frameWriter          // the open frame
	pack     *packWriter           // the open pack
	inflight map[chunk.ID]struct{} // chunks in packs not yet uploaded
	unindex  indexFile             // packs uploaded since the last index file
	unindexN int                   // their chunks
	failed   error                 // set when a write failed; the handle must then be reopened

	uploads     sync.WaitGroup     // packs being uploaded
	uploadSlots chan struct{}      // bounds them
	uploadCtx   context.Context    // theirs: they outlive the call that started them
	stopUploads context.CancelFunc // cancels them when a Flush is cancelled

	lists     listCache
	listStore ListStore    // optional local copies of list chunks
	written   atomic.Int64 // bytes saved to the backend
	read      atomic.Int64 // bytes loaded from the backend
	// Buffers kept for reuse. Not sync.Pools: those are emptied by every collection,
	// and a backup collects several times a second, so its megabyte pack buffers were
	// allocated (and their pages faulted in) again and again.
	bufs   freeList[*[]byte]
	packs  freeList[*packWriter]
	frames freeList[*frameWriter]
}

// freeList keeps up to cap(c) idle values for reuse.
type freeList[T any] struct{ c chan T }

func newFreeList[T any](n int) freeList[T] { return freeList[T]{c: make(chan T, n)} }

func (l freeList[T]) get() (v T, ok bool) {
	select {
	case v = <-l.c:
		return v, true
	default:
		return v, false
	}
}

func (l freeList[T]) put(v T) {
	select {
	case l.c <- v:
	default:
	}
}

// An Option changes how Init creates or Open opens a repository.
type Option func(*options)

type options struct {
	password string
	kdf      KDFParams
	keys     *KeyCache
	marker   string
	timing   MarkerTiming
	limits   readLimits
	derive   deriveFunc // argon2id unless a test counts the calls
	pins     *Pins      // nil: nothing remembered
}

// WithKeyCache lets Open reuse master keys unlocked before in this process.
func WithKeyCache(c *KeyCache) Option { return func(o *options) { o.keys = c } }

// WithPassword gives the password of an encrypted repository: Init stores its first
// key slot with it (argon2id with kdf, DefaultKDF when kdf is zero); Open tries it
// against every key slot.
func WithPassword(password string, kdf KDFParams) Option {
	return func(o *options) {
		o.password = password
		if kdf != (KDFParams{}) {
			o.kdf = kdf
		}
	}
}

func collect(opts []Option) options {
	o := options{kdf: DefaultKDF, derive: argon2Key}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Init creates a repository in an empty location. A config with EncryptionXChaCha
// needs WithPassword: a random master key is made and its first key slot stored
// before the config, which is sealed with it. WithPins records the new repository as
// the one this client trusts at the location.
func Init(ctx context.Context, be transport.Backend, cfg Config, opts ...Option) (*Repository, error) {
	o := collect(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := be.Stat(ctx, transport.Handle{Kind: transport.Config}); err == nil {
		return nil, fmt.Errorf("init %s: a repository already exists there", be.Location())
	} else if !be.IsNotExist(err) {
		return nil, fmt.Errorf("init %s: %w", be.Location(), err)
	}
	var (
		mk      *masterKey
		k       *box
		keyName string
		err     error
	)
	if cfg.Encryption == EncryptionXChaCha {
		if o.password == "" {
			return nil, fmt.Errorf("init %s: %w", be.Location(), ErrPasswordNeeded)
		}
		if mk, err = newMasterKey(); err != nil {
			return nil, err
		}
		if k, err = newBox(mk); err != nil {
			return nil, err
		}
		if keyName, err = saveKeySlot(ctx, be, mk, o.password, o.kdf); err != nil {
			return nil, fmt.Errorf("init %s: %w", be.Location(), err)
		}
	}
	data, err := encodeConfig(k, cfg)
	if err != nil {
		return nil, err
	}
	if err := be.Save(ctx, transport.Handle{Kind: transport.Config}, data); err != nil {
		return nil, fmt.Errorf("init %s: save config: %w", be.Location(), err)
	}
	if o.pins != nil {
		// What was made here is what this client trusts from now on.
		if err := o.pins.save(be.Location(), cfg); err != nil {
			return nil, fmt.Errorf("init %s: the repository was created but cannot be remembered: %w", be.Location(), err)
		}
	}
	r := newRepository(be, cfg)
	r.box, r.master, r.keyName, r.limits = k, mk, keyName, o.limits
	return r, nil
}

// Open reads the config of an existing repository and loads its index. An encrypted
// repository needs WithPassword; given a password, Open refuses an unencrypted one
// (ErrRepositoryChanged), and with WithPins a repository other than the one pinned
// for the location, before it writes anything.
func Open(ctx context.Context, be transport.Backend, opts ...Option) (*Repository, error) {
	o := collect(opts)
	data, err := transport.LoadMax(ctx, be, transport.Handle{Kind: transport.Config}, o.limits.of(TypeConfig))
	if err != nil {
		if be.IsNotExist(err) {
			return nil, fmt.Errorf("open %s: %w", be.Location(), ErrNoRepository)
		}
		return nil, fmt.Errorf("open %s: %w", be.Location(), tooLarge(err))
	}
	var (
		mk      *masterKey
		k       *box
		keyName string
	)
	if len(data) > len(magic) && string(data[:len(magic)]) == magic && data[len(magic)] == envelopeSealed {
		if mk, keyName, err = unlockRepository(ctx, be, o); err != nil {
			return nil, fmt.Errorf("open %s: %w", be.Location(), err)
		}
		if k, err = newBox(mk); err != nil {
			return nil, err
		}
	}
	cfg, err := decodeConfig(k, data)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", be.Location(), err)
	}
	if (k != nil) != (cfg.Encryption == EncryptionXChaCha) {
		return nil, fmt.Errorf("open %s: config says encryption %q but is stored otherwise: %w", be.Location(), cfg.Encryption, ErrDamaged)
	}
	if err := o.trust(be.Location(), cfg); err != nil {
		return nil, fmt.Errorf("open %s: %w", be.Location(), err)
	}
	r := newRepository(be, cfg)
	r.box, r.master, r.keyName, r.limits = k, mk, keyName, o.limits
	r.timing = o.timing.withDefaults()
	if o.marker != "" {
		if err := r.writeMarker(ctx, o.marker); err != nil {
			return nil, err
		}
	}
	if err := r.LoadIndex(ctx); err != nil {
		r.Release(ctx)
		return nil, err
	}
	return r, nil
}

func newRepository(be transport.Backend, cfg Config) *Repository {
	uploadCtx, stopUploads := context.WithCancel(context.Background())
	return &Repository{be: be, cfg: cfg, idx: newIndex(), inflight: map[chunk.ID]struct{}{}, unindex: indexFile{},
		uploadCtx: uploadCtx, stopUploads: stopUploads,
		timing: MarkerTiming{}.withDefaults(), proc: currentProcess(),
		uploadSlots: make(chan struct{}, packUploads),
		bufs:        newFreeList[*[]byte](4),
		packs:       newFreeList[*packWriter](packUploads),
		frames:      newFreeList[*frameWriter](16)}
}

// Config returns the repository config.
func (r *Repository) Config() Config { return r.cfg }

// Location describes where the repository is.
func (r *Repository) Location() string { return r.be.Location() }

// Index returns the in-memory index.
func (r *Repository) Index() *Index { return r.idx }

// BytesWritten and BytesRead count the bytes moved through the backend so far.
func (r *Repository) BytesWritten() int64 { return r.written.Load() }

// BytesRead counts the bytes loaded from the backend so far.
func (r *Repository) BytesRead() int64 { return r.read.Load() }

func (r *Repository) save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := r.be.Save(ctx, h, data); err != nil {
		return fmt.Errorf("save %s: %w", h, err)
	}
	r.written.Add(int64(len(data)))
	return nil
}

// loadAll reads a whole object of at most limit bytes.
func (r *Repository) loadAll(ctx context.Context, h transport.Handle, limit int64) ([]byte, error) {
	data, err := transport.LoadMax(ctx, r.be, h, limit)
	if err != nil {
		if r.be.IsNotExist(err) {
			return nil, fmt.Errorf("load %s: %w", h, errors.Join(ErrNotFound, err))
		}
		return nil, fmt.Errorf("load %s: %w", h, tooLarge(err))
	}
	r.read.Add(int64(len(data)))
	return data, nil
}

// IndexFiles lists the names of the index files.
func (r *Repository) IndexFiles(ctx context.Context) ([]string, error) {
	var names []string
	err := r.be.List(ctx, transport.Index, func(fi transport.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list index files: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// LoadIndex reads every index file into memory. A file that vanishes meanwhile (a
// prune replaced it) makes it start over, once.
func (r *Repository) LoadIndex(ctx context.Context) error {
	err := r.loadIndex(ctx)
	if errors.Is(err, ErrNotFound) {
		err = r.loadIndex(ctx)
	}
	return err
}

func (r *Repository) loadIndex(ctx context.Context) error {
	names, err := r.IndexFiles(ctx)
	if err != nil {
		return err
	}
	idx := newIndex()
	load := &bulk{x: idx}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, name := range names {
		g.Go(func() error {
			data, err := r.loadAll(gctx, transport.Handle{Kind: transport.Index, Name: name}, r.limits.of(TypeIndex))
			if err != nil {
				return err
			}
			// Decrypted in place and parsed straight into table entries: no copy of
			// the file is made but the decompressed payload.
			b, err := openObjectInPlace(r.box, data, TypeIndex)
			if err == nil {
				err = walkIndex(b, load.addStored)
			}
			if err != nil {
				return fmt.Errorf("index %s: %w", name[:8], err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	load.finish()
	r.idx = idx
	r.loadedIndex = names
	return nil
}

// SaveResult says what SaveChunk did.
type SaveResult struct {
	New bool // the chunk was not in the repository
}

// SaveChunk stores a chunk unless the repository already has it. data is not kept.
func (r *Repository) SaveChunk(ctx context.Context, id chunk.ID, data []byte) (SaveResult, error) {
	return r.saveChunk(ctx, id, data, false, &r.frame, r.sealFrame)
}

// A Stream saves chunks into frames of its own and adds them to the open pack in one
// piece when closed. Goroutines that each store a run of consecutive chunks (the
// backup's workers, each with a batch of a collection) keep each run contiguous in
// frames and packs that way, so a restore reading a collection in order reads long
// runs of neighbouring frames instead of hopping between interleaved ones.
type Stream struct {
	r       *Repository
	frame   *frameWriter
	section []byte    // stored frames not yet in a pack
	refs    []BlobRef // their chunks, Frame relative to section
}

// NewStream returns a stream; Close it (or Flush the repository) to store its last frame.
func (r *Repository) NewStream() *Stream { return &Stream{r: r} }

// SaveChunk is Repository.SaveChunk into the stream's frames.
func (s *Stream) SaveChunk(ctx context.Context, id chunk.ID, data []byte) (SaveResult, error) {
	return s.r.saveChunk(ctx, id, data, false, &s.frame, s.sealFrame)
}

// sealFrame encodes a full frame into the stream's section.
func (s *Stream) sealFrame(_ context.Context, f *frameWriter) error {
	off := uint32(len(s.section))
	s.section = s.r.encodeFrame(f, s.section)
	for _, e := range f.entries {
		e.Frame, e.FrameLen = off, uint32(len(s.section))-off
		s.refs = append(s.refs, e)
	}
	s.r.recycle(f)
	return nil
}

// Close adds the stream's frames, the open one included, to the repository's open
// pack. The stream can be used again afterwards.
func (s *Stream) Close(ctx context.Context) error {
	s.r.mu.Lock()
	f := s.frame
	s.frame = nil
	s.r.mu.Unlock()
	if f != nil && len(f.entries) > 0 {
		s.sealFrame(ctx, f)
	}
	if len(s.refs) == 0 {
		return nil
	}
	err := s.r.addSection(ctx, s.section, s.refs)
	s.section, s.refs = s.section[:0], s.refs[:0]
	return err
}

// saveChunk adds a chunk to the open frame *open; force skips the index check
// (repacking copies chunks the index still lists in their old packs).
func (r *Repository) saveChunk(ctx context.Context, id chunk.ID, data []byte, force bool, open **frameWriter, seal func(context.Context, *frameWriter) error) (SaveResult, error) {
	r.mu.Lock()
	if r.failed != nil {
		r.mu.Unlock()
		return SaveResult{}, r.failed
	}
	_, busy := r.inflight[id]
	if busy || !force && r.idx.Has(id) {
		r.mu.Unlock()
		return SaveResult{}, nil
	}
	r.inflight[id] = struct{}{}
	var full *frameWriter
	if len(data) >= frameTarget {
		full = &frameWriter{}
		full.add(id, data)
	} else {
		if *open == nil {
			*open = r.newFrame()
		}
		(*open).add(id, data)
		if len((*open).raw) >= frameTarget {
			full, *open = *open, nil
		}
	}
	r.mu.Unlock()
	if full != nil {
		if err := seal(ctx, full); err != nil {
			return SaveResult{}, err
		}
	}
	return SaveResult{New: true}, nil
}

func (r *Repository) newFrame() *frameWriter {
	if f, ok := r.frames.get(); ok {
		f.raw, f.entries = f.raw[:0], f.entries[:0]
		return f
	}
	return &frameWriter{raw: make([]byte, 0, 2*frameTarget)}
}

// sealFrame compresses a frame, adds it to the open pack, and uploads the pack when
// it is full. Compression runs outside the lock, on the caller's goroutine.
func (r *Repository) sealFrame(ctx context.Context, f *frameWriter) error {
	buf, ok := r.bufs.get()
	if !ok {
		buf = new([]byte)
	}
	*buf = r.encodeFrame(f, (*buf)[:0])
	refs := f.entries
	for i := range refs {
		refs[i].Frame, refs[i].FrameLen = 0, uint32(len(*buf))
	}
	err := r.addSection(ctx, *buf, refs)
	r.bufs.put(buf)
	r.recycle(f)
	return err
}

func (r *Repository) recycle(f *frameWriter) {
	if cap(f.raw) <= 4*frameTarget {
		r.frames.put(f)
	}
}

// encodeFrame appends the stored form of f to dst: compressed, and sealed in an
// encrypted repository.
// The frame is compressed straight into dst and sealed where it lies.
func (r *Repository) encodeFrame(f *frameWriter, dst []byte) []byte {
	if r.box == nil {
		return f.seal(dst)
	}
	start := len(dst)
	dst = slices.Grow(dst, sealOverhead+1+len(f.raw)+len(f.raw)>>7+64)[:start+chacha20poly1305.NonceSizeX]
	dst = f.seal(dst)
	return r.box.sealAt(dst, start, nil)
}

// addSection appends stored frames (refs' Frame offsets relative to section) to the
// open pack in one piece, and uploads the pack when it is full.
func (r *Repository) addSection(ctx context.Context, section []byte, refs []BlobRef) error {
	r.mu.Lock()
	if r.pack == nil {
		r.pack = r.newPack()
	}
	r.pack.addSection(section, refs)
	var full *packWriter
	if r.pack.size() >= r.cfg.PackSize {
		full, r.pack = r.pack, nil
	}
	r.mu.Unlock()
	if full != nil {
		return r.uploadLater(ctx, full)
	}
	return nil
}

// packUploads is how many full packs upload at once while chunking goes on.
const packUploads = 2

// uploadLater uploads a full pack on its own goroutine, so hashing and compressing go
// on while it is written (and fsynced, or sent); it blocks while packUploads are
// already in flight. A failed upload makes the handle fail; Flush waits for all.
// The upload runs under the handle's upload context, not ctx: the caller's context
// may be a worker group's, which ends when the group does, long before the upload
// must; a cancelled Flush cancels the uploads (waitUploads).
func (r *Repository) uploadLater(ctx context.Context, p *packWriter) error {
	select {
	case r.uploadSlots <- struct{}{}:
	case <-ctx.Done():
		return r.fail(ctx.Err())
	}
	r.uploads.Add(1)
	go func() { // ends when the pack is stored or its upload fails
		defer r.uploads.Done()
		defer func() { <-r.uploadSlots }()
		r.uploadPack(r.uploadCtx, p) // failures are kept in r.failed
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// fail marks the handle unusable: chunks of a pack that did not arrive are neither
// indexed nor pending any more, so saving more through it could name lost data.
func (r *Repository) fail(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		r.failed = fmt.Errorf("repository handle unusable after a failed write, reopen it: %w", err)
	}
	return err
}

func (r *Repository) newPack() *packWriter {
	if p, ok := r.packs.get(); ok {
		p.buf = p.buf[:headerSize]
		p.entries = p.entries[:0]
		return p
	}
	return newPackWriter(r.cfg.PackSize, r.box)
}

// uploadPack saves a finished pack and indexes its chunks in memory.
func (r *Repository) uploadPack(ctx context.Context, p *packWriter) error {
	data, name := p.finish(r.box)
	if err := r.save(ctx, transport.Handle{Kind: transport.Data, Name: name.String()}, data); err != nil {
		return r.fail(err)
	}
	refs := slices.Clone(p.entries)
	r.idx.add(name, refs)
	r.mu.Lock()
	r.unindex[name] = refs
	r.unindexN += len(refs)
	for _, e := range refs {
		delete(r.inflight, e.ID)
	}
	var full indexFile
	if r.unindexN >= indexFileChunks {
		full, r.unindex, r.unindexN = r.unindex, indexFile{}, 0
	}
	r.mu.Unlock()
	r.packs.put(p)
	if full != nil {
		// A long backup writes its index as it goes: what it holds for the next index
		// file stays small, and a backup cut off later has less to adopt.
		return r.writeIndex(ctx, full)
	}
	return nil
}

// indexFileChunks is how many chunks of uploaded packs make an index file before
// Flush: about 0.8 MiB of entries.
var indexFileChunks = 1 << 14 // a variable for tests

// writeIndex writes an index file for packs taken from r.unindex, and puts them back
// there if it fails (the next Flush tries again).
func (r *Repository) writeIndex(ctx context.Context, f indexFile) error {
	r.indexMu.Lock()
	defer r.indexMu.Unlock()
	_, err := r.SaveIndex(ctx, f)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		for p, refs := range f {
			r.unindex[p] = refs
			r.unindexN += len(refs)
		}
		return err
	}
	r.copied.note(f)
	return nil
}

// waitUploads waits for the packs being uploaded. When ctx ends first, it cancels
// them, waits for them to stop, and fails the handle: what they carried may not have
// arrived.
func (r *Repository) waitUploads(ctx context.Context) error {
	done := make(chan struct{})
	go func() { // ends when the uploads do
		r.uploads.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		r.stopUploads()
		<-done
		return r.fail(ctx.Err())
	}
}

// Flush seals the open frame, uploads the open pack and writes an index file for every
// pack uploaded since the last flush. After Flush returns, every chunk saved before it
// is durable.
func (r *Repository) Flush(ctx context.Context) error {
	if err := r.waitUploads(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	if r.failed != nil {
		r.mu.Unlock()
		return r.failed
	}
	f := r.frame
	r.frame = nil
	r.mu.Unlock()
	if f != nil && len(f.entries) > 0 {
		if err := r.sealFrame(ctx, f); err != nil {
			return err
		}
	}
	r.mu.Lock()
	p := r.pack
	r.pack = nil
	r.mu.Unlock()
	if p != nil && len(p.entries) > 0 {
		if err := r.uploadPack(ctx, p); err != nil {
			return err
		}
	}
	// Sealing the last frame may have filled a pack that went to the uploaders: the
	// index file must wait for it too.
	if err := r.waitUploads(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	if r.failed != nil {
		r.mu.Unlock()
		return r.failed
	}
	pending := r.unindex
	r.unindex, r.unindexN = indexFile{}, 0
	r.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	return r.writeIndex(ctx, pending)
}

// SaveIndex writes an index file (more than one for more than maxIndexEntries chunks)
// and returns the name of the last.
func (r *Repository) SaveIndex(ctx context.Context, f indexFile) (ObjectID, error) {
	var name ObjectID
	for _, part := range splitIndex(f, maxIndexEntries) {
		data := encodeIndex(r.box, part)
		name = objectID(data)
		if err := r.save(ctx, transport.Handle{Kind: transport.Index, Name: name.String()}, data); err != nil {
			return name, err
		}
	}
	return name, nil
}

// LoadChunk returns the raw bytes of a chunk, verified against its id.
func (r *Repository) LoadChunk(ctx context.Context, id chunk.ID, dst []byte) ([]byte, error) {
	loc, ok := r.idx.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("chunk %s: %w", id.Short(), ErrNotFound)
	}
	stored, err := r.loadRange(ctx, loc.Pack, int(loc.FrameLen), int64(loc.Frame))
	if err != nil {
		return nil, err
	}
	raw, err := decodeFrame(r.box, stored, dst)
	if err == nil {
		raw, err = r.chunkOf(raw, id, loc.Offset, loc.Raw)
	}
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", loc.Pack.Short(), err)
	}
	return raw, nil
}

func (r *Repository) loadRange(ctx context.Context, pack ObjectID, length int, offset int64) ([]byte, error) {
	h := transport.Handle{Kind: transport.Data, Name: pack.String()}
	b, err := transport.LoadRange(ctx, r.be, h, length, offset)
	if err != nil {
		if r.be.IsNotExist(err) {
			return nil, fmt.Errorf("load %s: %w", h, errors.Join(ErrNotFound, err))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("load %s: pack is shorter than the index says: %w", h, ErrDamaged)
		}
		return nil, fmt.Errorf("load %s: %w", h, err)
	}
	r.read.Add(int64(len(b)))
	return b, nil
}

// maxRun bounds one read when loading consecutive chunks.
const maxRun = 8 << 20

// runsAhead is how many reads LoadChunks keeps in flight: on a remote repository the
// next runs download while this one is decoded.
const runsAhead = 4

// A run is one read of neighbouring frames of one pack, decoded on the goroutine that
// reads it.
type run struct {
	pack       ObjectID
	start, end uint32
	frames     []uint32 // offsets of its frames, in order
	decoded    [][]byte // frames[i] decoded
	err        error
	done       chan struct{}
}

// A segment is what the decoder does next: take in a run's frames (when run is not
// nil), then serve chunks first..first+n-1 from decoded frames.
type segment struct {
	run      *run
	first, n int
}

// recentFrames is how many decoded frames LoadChunks keeps, and maxRunFrames the most
// one read brings in. A collection restored after an incremental backup hops from an
// old pack to a changed chunk in a new one and back: a read of the old pack takes the
// frames needed after the detour too, and they wait here.
const (
	recentFrames = 32
	maxRunFrames = recentFrames / 2
	lookahead    = 1024 // chunks looked at to pick the frames a read brings in
)

type frameKey struct {
	pack  ObjectID
	frame uint32
}

// frameCache is a small LRU of decoded frames. The planner keeps one without the bytes
// and the decoder one with them; both do the same gets in the same order, so the
// planner knows which chunks need a read.
type frameCache struct {
	keys  [recentFrames]frameKey
	used  [recentFrames]uint64 // 0: empty
	raws  [recentFrames][]byte
	clock uint64
}

// get returns the slot holding k, marking it used, or the least recently used slot
// (now holding k) and false.
func (c *frameCache) get(k frameKey) (int, bool) {
	c.clock++
	lru := 0
	for i := range c.keys {
		if c.used[i] != 0 && c.keys[i] == k {
			c.used[i] = c.clock
			return i, true
		}
		if c.used[i] < c.used[lru] {
			lru = i
		}
	}
	c.keys[lru], c.used[lru] = k, c.clock
	return lru, false
}

// fetch reads the run and decodes its frames, on its own goroutine: reads in flight
// also decompress and decrypt in parallel.
func (r *Repository) fetch(ctx context.Context, rn *run) {
	data, err := r.loadRange(ctx, rn.pack, int(rn.end-rn.start), int64(rn.start))
	if err != nil {
		rn.err = err
		return
	}
	rn.decoded = make([][]byte, len(rn.frames))
	for i, f := range rn.frames {
		l, ok := r.frameLen(rn, i)
		if !ok {
			rn.err = fmt.Errorf("pack %s: frame %d: %w", rn.pack.Short(), f, ErrDamaged)
			return
		}
		if rn.decoded[i], err = decodeFrame(r.box, data[f-rn.start:f-rn.start+l], nil); err != nil {
			rn.err = fmt.Errorf("pack %s: %w", rn.pack.Short(), err)
			return
		}
	}
}

// frameLen is the stored length of the run's i-th frame: frames are back to back.
func (r *Repository) frameLen(rn *run, i int) (uint32, bool) {
	next := rn.end
	if i+1 < len(rn.frames) {
		next = rn.frames[i+1]
	}
	return next - rn.frames[i], next > rn.frames[i]
}

// planRuns walks ids in order, replaying the decoder's frame cache, and emits a
// segment for each read and the chunks served after it, until emit returns false.
func (r *Repository) planRuns(locs []Location, emit func(segment) bool) {
	var sim frameCache
	seg := segment{}
	for i, l := range locs {
		k := frameKey{l.Pack, l.Frame}
		if _, hit := sim.get(k); hit {
			seg.n++
			continue
		}
		// A read, starting at this frame: it also takes the frames right after it in
		// the pack that the next chunks need, detours to other packs notwithstanding.
		if seg.n > 0 || seg.run != nil {
			if !emit(seg) {
				return
			}
		}
		soon := map[uint32]uint32{} // frame offset -> stored length, of this pack
		for _, m := range locs[i:min(len(locs), i+lookahead)] {
			if m.Pack == l.Pack && m.Frame >= l.Frame {
				soon[m.Frame] = m.FrameLen
			}
		}
		rn := &run{pack: l.Pack, start: l.Frame, end: l.Frame + l.FrameLen, frames: []uint32{l.Frame}}
		for len(rn.frames) < maxRunFrames {
			n, ok := soon[rn.end]
			if !ok || rn.end-rn.start+n > maxRun {
				break
			}
			rn.frames = append(rn.frames, rn.end)
			rn.end += n
		}
		// The decoder takes the frames in (the first already counted by the miss
		// above), then serves chunk i, a hit.
		for _, f := range rn.frames[1:] {
			sim.get(frameKey{l.Pack, f})
		}
		sim.get(k)
		seg = segment{run: rn, first: i, n: 1}
	}
	if seg.n > 0 || seg.run != nil {
		emit(seg)
	}
}

// LoadChunks calls fn with the raw bytes of each chunk in ids, in order. Frames that
// sit next to each other in one pack are read together, up to runsAhead reads are in
// flight at once and decode their frames as they arrive, and the last recentFrames
// decoded frames are kept. data is valid only during fn.
func (r *Repository) LoadChunks(ctx context.Context, ids []chunk.ID, fn func(i int, data []byte) error) error {
	locs := make([]Location, len(ids))
	for i, id := range ids {
		l, ok := r.idx.Lookup(id)
		if !ok {
			return fmt.Errorf("chunk %s: %w", id.Short(), ErrNotFound)
		}
		locs[i] = l
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan segment, runsAhead)
	slots := make(chan struct{}, runsAhead)
	go func() {
		defer close(queue)
		r.planRuns(locs, func(seg segment) bool {
			if rn := seg.run; rn != nil {
				rn.done = make(chan struct{})
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return false
				}
				go func() {
					r.fetch(ctx, rn)
					close(rn.done)
				}()
			}
			select {
			case queue <- seg:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	var frames frameCache
	var chunks [][]byte
	var got []chunk.ID
	fail := func(err error) error {
		cancel()
		for seg := range queue { // let every read end before returning
			if seg.run != nil {
				<-seg.run.done
				<-slots
			}
		}
		return err
	}
	for seg := range queue {
		if rn := seg.run; rn != nil {
			<-rn.done
			<-slots
			if rn.err != nil {
				return fail(rn.err)
			}
			// The same gets as the planner's: the first frame (its miss), the frames
			// after it; the chunk that needed the read then hits like any other.
			for j, f := range rn.frames {
				slot, _ := frames.get(frameKey{rn.pack, f})
				frames.raws[slot] = rn.decoded[j]
			}
		}
		// The segment's chunks are cut out of their frames, hashed together and
		// compared with their ids before any is handed on.
		chunks = chunks[:0]
		for i := seg.first; i < seg.first+seg.n; i++ {
			l := locs[i]
			slot, hit := frames.get(frameKey{l.Pack, l.Frame})
			if !hit {
				frames.used[slot] = 0
				return fail(fmt.Errorf("load chunks: frame %d of pack %s was planned as decoded but is not", l.Frame, l.Pack.Short()))
			}
			raw := frames.raws[slot]
			if end := int(l.Offset) + int(l.Raw); end <= len(raw) {
				chunks = append(chunks, raw[l.Offset:end])
			} else {
				return fail(fmt.Errorf("pack %s: chunk %s lies past the end of its frame: %w", l.Pack.Short(), ids[i].Short(), ErrDamaged))
			}
		}
		got = slices.Grow(got[:0], len(chunks))[:len(chunks)]
		r.ChunkIDs(chunks, got)
		for k, data := range chunks {
			i := seg.first + k
			if got[k] != ids[i] {
				return fail(fmt.Errorf("pack %s: chunk %s: content does not match its id: %w", locs[i].Pack.Short(), ids[i].Short(), ErrDamaged))
			}
			if err := fn(i, data); err != nil {
				return fail(err)
			}
		}
	}
	return ctx.Err()
}

// SaveSnapshot writes a manifest. Call it after Flush, so that it never names
// chunks that are not durable.
func (r *Repository) SaveSnapshot(ctx context.Context, sn *Snapshot) error {
	if err := r.beforeCommit(ctx, sn); err != nil {
		return err
	}
	sn.Format = SnapshotFormat
	data, err := encodeSnapshot(r.box, sn)
	if err != nil {
		return err
	}
	name := objectID(data)
	if err := r.save(ctx, transport.Handle{Kind: transport.Snapshots, Name: name.String()}, data); err != nil {
		return err
	}
	sn.Name = name
	return r.afterCommit(ctx, sn)
}

// Snapshots loads every manifest, oldest first.
func (r *Repository) Snapshots(ctx context.Context) ([]*Snapshot, error) {
	var names []string
	if err := r.be.List(ctx, transport.Snapshots, func(fi transport.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	out := make([]*Snapshot, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, name := range names {
		g.Go(func() error {
			sn, err := r.loadSnapshot(gctx, name)
			if errors.Is(err, ErrNotFound) {
				return nil // removed since the listing (forget, or a backup moving to a free id)
			}
			out[i] = sn
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out = slices.DeleteFunc(out, func(sn *Snapshot) bool { return sn == nil })
	slices.SortFunc(out, func(a, b *Snapshot) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return bytes.Compare(a.Name[:], b.Name[:])
	})
	return out, nil
}

func (r *Repository) loadSnapshot(ctx context.Context, name string) (*Snapshot, error) {
	h := transport.Handle{Kind: transport.Snapshots, Name: name}
	data, err := r.loadAll(ctx, h, r.limits.of(TypeSnapshot))
	if err != nil {
		return nil, err
	}
	if objectID(data).String() != name {
		return nil, fmt.Errorf("snapshot %s: content does not match its name: %w", name[:8], ErrDamaged)
	}
	sn, err := decodeSnapshot(r.box, data)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", name[:8], err)
	}
	sn.Name = objectID(data)
	return sn, nil
}

// RemoveSnapshot deletes a manifest. Its chunks stay until prune.
func (r *Repository) RemoveSnapshot(ctx context.Context, sn *Snapshot) error {
	h := transport.Handle{Kind: transport.Snapshots, Name: sn.Name.String()}
	if err := r.be.Remove(ctx, h); err != nil {
		return fmt.Errorf("remove snapshot %s: %w", sn.ID, err)
	}
	return nil
}

package engine

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"cairn/engine/exported"
	"cairn/repo"
	"cairn/transport/local"
)

// Sink is where a restore writes a database. Nothing is visible at the destination
// until Commit; Abort leaves it as it was.
type Sink interface {
	// Begin is called first, with the metadata of the database being restored.
	Begin(meta Meta) error
	// Collection calls fn with a writer for one collection's bytes.
	Collection(name string, fn func(w io.Writer) error) error
	// Commit makes the restored database visible.
	Commit() error
	// Abort discards everything written.
	Abort()
}

// ConcurrentSink is a Sink that can write more than one collection at a time: Restore
// then calls Collection from several goroutines at once, each for another name.
type ConcurrentSink interface {
	Sink
	// ConcurrentCollections reports whether Collection may run concurrently.
	ConcurrentCollections() bool
}

// restoreParallel is how many collections Restore writes at once into a sink that
// allows it: each has its own goroutine verifying and writing its chunks (and its own
// reads in flight), which keeps two cores busy where one collection keeps one.
const restoreParallel = 2

// RestoreOptions describe one restore.
type RestoreOptions struct {
	Collections []string // restore only these; all when empty
	Progress    Progress
}

// Restore writes a snapshot into sink, verifying every chunk against its id. When it
// fails and a prune has meanwhile taken it for crashed (its lock is gone), it fails
// with repo.ErrLockLost: the packs it misses were deleted under it, the repository
// is not damaged. A restore that wrote everything is complete whatever happened to its
// lock: every chunk it wrote matched its id.
func Restore(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, sink Sink, opt RestoreOptions) (err error) {
	defer func() {
		if err != nil {
			sink.Abort()
		}
	}()
	err = restore(ctx, r, sn, sink, opt)
	if err != nil && ctx.Err() == nil {
		if merr := r.CheckLock(ctx); errors.Is(merr, repo.ErrLockLost) {
			return fmt.Errorf("restore %s: %w (it failed with: %v)", sn.ID, merr, err)
		}
	}
	return err
}

func restore(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, sink Sink, opt RestoreOptions) error {
	prog := orNoProgress(opt.Progress)
	start := time.Now()
	if len(opt.Collections) > 0 {
		want := map[string]bool{}
		for _, c := range opt.Collections {
			want[c] = true
		}
		// Only the chosen collections' lists are read: one damaged elsewhere does not
		// stop the others from restoring.
		only := *sn
		only.Collections = nil
		found := map[string]bool{}
		for _, c := range sn.Collections {
			if want[c.Name] {
				only.Collections = append(only.Collections, c)
				found[c.Name] = true
			}
		}
		for _, name := range opt.Collections {
			if !found[name] {
				return fmt.Errorf("restore %s: no collection %q in the snapshot", sn.ID, name)
			}
		}
		sn = &only
	}
	parallel := 1
	if cs, ok := sink.(ConcurrentSink); ok && cs.ConcurrentCollections() && uniqueNames(sn.Collections) {
		parallel = restoreParallel
	}
	cols := sn.Collections
	if parallel > 1 {
		cols = largestFirst(cols)
	}
	// The lists are loaded in a few passes up front. Restored side by side, into a
	// sink that shows nothing before Commit, each is decoded and checked by the
	// goroutine restoring its collection, so the first collection starts while the
	// others' lists are still being read; one at a time (into a sink that may stream,
	// an HTTP response say), all are checked before the sink gets a byte.
	if err := r.PrefetchSnapshotLists(ctx, sn); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	resolved := make([]repo.ResolvedCollection, len(cols))
	if parallel == 1 {
		for i, c := range cols {
			var err error
			if resolved[i], err = r.ResolveCollection(ctx, sn, c); err != nil {
				return fmt.Errorf("restore: %w", err)
			}
		}
	}
	if err := sink.Begin(SnapshotMeta(sn)); err != nil {
		return fmt.Errorf("restore %s: %w", sn.ID, err)
	}
	var total int64
	for _, c := range sn.Collections {
		total += c.Bytes
	}
	// done counts the bytes written so far, of every collection: with collections
	// restored side by side it is the sum of their progress.
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i, c := range cols {
		if gctx.Err() != nil {
			break // a collection failed: start no more
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err // another collection failed while this one waited for its turn
			}
			rc := resolved[i]
			resolved[i] = repo.ResolvedCollection{} // its ids are let go with the goroutine
			if parallel > 1 {
				var err error
				if rc, err = r.ResolveCollection(gctx, sn, c); err != nil {
					return fmt.Errorf("restore: %w", err)
				}
			}
			err := sink.Collection(c.Name, func(w io.Writer) error {
				var n int64
				reported := -1 // the last block of 256 chunks progress was reported in
				// The chunks come in spans of neighbours in a frame, written as they
				// lie there: a write per span, not a copy per chunk.
				err := r.LoadChunkSpans(gctx, rc.Chunks, func(first, k int, data []byte) error {
					if err := gctx.Err(); err != nil {
						return err
					}
					if _, err := w.Write(data); err != nil {
						return err
					}
					n += int64(len(data))
					d := done.Add(int64(len(data)))
					if block := (first + k - 1) / 256; block != reported {
						reported = block
						prog.Report(Event{Phase: PhaseRestore, Collection: c.Name, BytesDone: d, BytesTotal: total, Elapsed: time.Since(start)})
					}
					return nil
				})
				if err == nil && n != c.Bytes {
					err = fmt.Errorf("restored %d bytes, manifest says %d: %w", n, c.Bytes, repo.ErrDamaged)
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("restore %s collection %s: %w", sn.ID, c.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("restore %s: %w", sn.ID, err)
	}
	if err := sink.Commit(); err != nil {
		return fmt.Errorf("restore %s: %w", sn.ID, err)
	}
	prog.Report(Event{Phase: PhaseDone, BytesDone: done.Load(), BytesTotal: total, Elapsed: time.Since(start)})
	return nil
}

// largestFirst returns the collections largest first, for restoring side by side:
// the small ones then fill in around the large, and the restore does not end with one
// large collection on one core while the other has nothing left to do.
func largestFirst(cols []repo.Collection) []repo.Collection {
	cols = slices.Clone(cols)
	slices.SortStableFunc(cols, func(a, b repo.Collection) int { return cmp.Compare(b.Bytes, a.Bytes) })
	return cols
}

// uniqueNames reports whether no two collections share a name: a manifest that repeats
// one is restored one collection after the other, the later copy replacing the earlier
// as it always did, never two writes of one file at once.
func uniqueNames(cs []repo.Collection) bool {
	seen := make(map[string]bool, len(cs))
	for _, c := range cs {
		if seen[c.Name] {
			return false
		}
		seen[c.Name] = true
	}
	return true
}

// SnapshotMeta returns the source metadata a snapshot recorded.
func SnapshotMeta(sn *repo.Snapshot) Meta {
	m := Meta{Version: sn.Version, Schema: sn.Schema}
	if len(sn.Meta) > 0 {
		var full Meta
		if json.Unmarshal(sn.Meta, &full) == nil {
			m.Exported = full.Exported
		}
	}
	return m
}

// restoreTemp starts the names of the temporary files and folders restores write
// beside their targets. They are held while in use (see local.MkdirTemp), so a restore
// removes those that earlier restores, killed, left beside its target.
const restoreTemp = ".cairn-restore-"

// removeRestoreLeftovers removes what killed restores left in dir; best effort.
func removeRestoreLeftovers(dir string) { local.RemoveLeftovers(dir, restoreTemp) }

// FolderSink restores into a new folder of <collection>.jsonl files. It writes into
// a temporary folder beside the target and renames it into place on Commit.
//
// Each file is written under a temporary name and renamed to its own once complete;
// its writeback to disk starts as it is written, every writebackEvery bytes, and it
// is synced in the background once it is complete, while the next collections are
// restored. Commit waits for those syncs, then syncs the temporary folder, renames
// that into place and syncs the folder holding it. Collections may be written
// concurrently.
type FolderSink struct {
	dir, tmp string
	release  func() // lets go of tmp
	meta     Meta

	syncs fileSyncs // of the complete files in tmp

	mu      sync.Mutex
	writers []*bufio.Writer // done with, for the next files: a restore writes one per collection
}

// NewFolderSink prepares a restore into dir, which must not exist or be empty.
func NewFolderSink(dir string) (*FolderSink, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("restore target %s is not empty", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("restore target: %w", err)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("restore target: %w", err)
	}
	removeRestoreLeftovers(parent)
	tmp, release, err := local.MkdirTemp(parent, restoreTemp)
	if err != nil {
		return nil, fmt.Errorf("restore target: %w", err)
	}
	return &FolderSink{dir: dir, tmp: tmp, release: release}, nil
}

// Begin implements Sink.
func (s *FolderSink) Begin(meta Meta) error { s.meta = meta; return nil }

// ConcurrentCollections implements ConcurrentSink: every collection is its own file.
func (s *FolderSink) ConcurrentCollections() bool { return true }

// Collection implements Sink.
func (s *FolderSink) Collection(name string, fn func(io.Writer) error) error {
	if !safeName(name) {
		return fmt.Errorf("collection name %q cannot be a file name", name)
	}
	return s.writeFile(filepath.Join(s.tmp, name+".jsonl"), fn)
}

// Commit implements Sink.
func (s *FolderSink) Commit() error {
	defer s.release()
	err := s.writeFile(filepath.Join(s.tmp, folderMetaFile), func(w io.Writer) error {
		return json.NewEncoder(w).Encode(Meta{Version: s.meta.Version, Schema: s.meta.Schema})
	})
	if err != nil {
		return err
	}
	// Most files were synced while the others were restored: this waits for the rest.
	if err := s.syncs.wait(); err != nil {
		return fmt.Errorf("sync restored file: %w", err)
	}
	if err := local.SyncDir(s.tmp); err != nil {
		return fmt.Errorf("sync restored folder: %w", err)
	}
	_ = os.Remove(s.dir) // an empty target folder
	if err := os.Rename(s.tmp, s.dir); err != nil {
		return fmt.Errorf("move restored folder into place: %w", err)
	}
	if err := local.SyncDir(filepath.Dir(filepath.Clean(s.dir))); err != nil {
		return fmt.Errorf("sync the folder holding the restored folder: %w", err)
	}
	return nil
}

// Abort implements Sink.
func (s *FolderSink) Abort() {
	_ = s.syncs.wait()
	os.RemoveAll(s.tmp)
	s.release()
}

// writeFile writes a file through a temporary name in its folder, renamed once fn
// returned and the bytes are handed to the OS; the file's writeback starts then and
// its sync, in the background (Commit waits for it).
func (s *FolderSink) writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	bw := s.writer(&writebackFile{f: f})
	err = fn(bw)
	if err == nil {
		err = bw.Flush()
	}
	s.done(bw)
	if err == nil {
		startWriteback(f) // the rest
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	s.syncs.start(path)
	return nil
}

// writer returns a buffered writer onto w, of fileBuffer bytes: chunks that come alone
// are written in pieces that large, and a span of chunks larger than it goes to the
// file without a copy (bufio writes it directly, once what it holds is written).
func (s *FolderSink) writer(w io.Writer) *bufio.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.writers); n > 0 {
		bw := s.writers[n-1]
		s.writers = s.writers[:n-1]
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, fileBuffer)
}

// fileBuffer is the size of FolderSink's buffered writers.
const fileBuffer = 256 << 10

// done hands a writer from writer back.
func (s *FolderSink) done(bw *bufio.Writer) {
	bw.Reset(nil)
	s.mu.Lock()
	s.writers = append(s.writers, bw)
	s.mu.Unlock()
}

// syncFile flushes the file at path to disk. It is opened for writing, which Windows
// needs to flush a file.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ExportedSink restores into an ExportedDatabase JSON file, written to a temporary
// file beside it, synced, renamed into place on Commit, and the folder synced, so the
// file survives a crash once Commit returns.
type ExportedSink struct {
	meta    Meta
	path    string
	f       *os.File
	bw      *bufio.Writer
	enc     *exported.Encoder
	syncDir func(dir string) error // local.SyncDir
}

// NewExportedSink prepares a restore into the file at path.
func NewExportedSink(path string) (*ExportedSink, error) {
	removeRestoreLeftovers(filepath.Dir(path))
	f, err := local.CreateTemp(filepath.Dir(path), restoreTemp+"*.json")
	if err != nil {
		return nil, fmt.Errorf("restore target: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	return &ExportedSink{path: path, f: f, bw: bw, enc: exported.NewEncoder(bw), syncDir: local.SyncDir}, nil
}

// NewExportedWriter returns a sink that encodes onto w (an HTTP response, say); Commit
// finishes the document and Abort does nothing.
func NewExportedWriter(w io.Writer) *ExportedSink {
	return &ExportedSink{enc: exported.NewEncoder(w)}
}

// Begin implements Sink.
func (s *ExportedSink) Begin(meta Meta) error {
	s.meta = meta
	if meta.Exported != nil {
		s.enc.SetValueSchemas(meta.Exported.ValueSchemas)
	}
	return nil
}

// Collection implements Sink.
func (s *ExportedSink) Collection(name string, fn func(io.Writer) error) error {
	return pipe(fn, func(r io.Reader) error { return s.enc.WriteCollection(name, r) })
}

// Commit implements Sink.
func (s *ExportedSink) Commit() error {
	em := exported.Meta{Version: s.meta.Version, Schema: s.meta.Schema}
	if s.meta.Exported != nil {
		em = *s.meta.Exported
		em.Version, em.Schema = s.meta.Version, s.meta.Schema
	}
	if err := s.enc.Close(em); err != nil {
		s.Abort()
		return err
	}
	if s.f == nil {
		return nil
	}
	if err := s.bw.Flush(); err != nil {
		s.Abort()
		return err
	}
	if err := s.f.Sync(); err != nil {
		s.Abort()
		return err
	}
	if err := local.Rename(s.f, s.path); err != nil {
		os.Remove(s.f.Name())
		return fmt.Errorf("move restored file into place: %w", err)
	}
	if err := s.syncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("sync the folder holding the restored file: %w", err)
	}
	return nil
}

// Abort implements Sink.
func (s *ExportedSink) Abort() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}

func safeName(name string) bool {
	if name == "" || len(name) > 200 || name == "." || name == ".." {
		return false
	}
	for _, c := range name {
		if c == '/' || c == '\\' || c == 0 {
			return false
		}
	}
	return true
}

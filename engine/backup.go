package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"cairn/chunk"
	"cairn/repo"
)

// BackupOptions describe one backup.
type BackupOptions struct {
	Kind       string   // repo.KindDatabase (default) or repo.KindAssets
	Tags       []string //
	DeviceName string
	Platform   string
	Parent     string // version_timestamp of the parent; empty picks the newest snapshot of the same kind
	ID         string // the snapshot's id, when the caller must know it before the end; made from the version and the start time when empty
	Progress   Progress
	Now        func() time.Time // the clock; time.Now when nil
	Workers    int              // hashing and compressing goroutines; GOMAXPROCS when 0
	ReadAll    bool             // read every collection, even those whose tag says unchanged
}

func (o BackupOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Backup reads src, stores every chunk the repository lacks, and writes a snapshot
// manifest after the packs and index it needs are durable.
func Backup(ctx context.Context, r *repo.Repository, src Source, opt BackupOptions) (*repo.Snapshot, error) {
	start := opt.now()
	prog := orNoProgress(opt.Progress)
	if opt.Kind == "" {
		opt.Kind = repo.KindDatabase
	}
	existing, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	var parent *repo.Snapshot
	for _, s := range existing {
		if opt.Parent == "" && s.Kind == opt.Kind || s.ID == opt.Parent {
			parent = s
		}
	}
	if opt.Parent != "" && parent == nil {
		return nil, fmt.Errorf("backup: parent %s: %w", opt.Parent, repo.ErrNotFound)
	}
	written0, read0 := r.BytesWritten(), r.BytesRead()
	// Packs an interrupted backup left behind count as stored: resume, don't resend.
	if _, err := r.AdoptOrphans(ctx); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if parent != nil {
		ids := make([]chunk.ID, len(parent.Collections))
		for i, c := range parent.Collections {
			ids[i] = c.List
		}
		if err := r.PrefetchLists(ctx, ids); err != nil {
			return nil, fmt.Errorf("backup: parent %s: %w", parent.ID, err)
		}
	}
	b := &backup{r: r, prog: prog, start: start, workers: opt.Workers, parent: parent}
	if t, ok := src.(Tagger); ok && !opt.ReadAll {
		if b.tags, err = t.CollectionTags(ctx); err != nil {
			return nil, fmt.Errorf("backup %s: %w", src.Describe(), err)
		}
	}
	if b.workers <= 0 {
		b.workers = runtime.GOMAXPROCS(0)
	}
	meta, err := src.Read(ctx, func(name string, rd io.Reader) error {
		return b.collection(ctx, name, rd)
	})
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", src.Describe(), err)
	}
	prog.Report(Event{Phase: PhaseFlush, BytesDone: b.totals.RawBytes, Elapsed: time.Since(start)})
	if err := r.Flush(ctx); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	sn := &repo.Snapshot{
		Version:     meta.Version,
		Time:        start.UTC(),
		DeviceName:  opt.DeviceName,
		Platform:    opt.Platform,
		Tags:        opt.Tags,
		Kind:        opt.Kind,
		Source:      src.Describe(),
		Schema:      meta.Schema,
		Collections: b.cols,
	}
	if meta.Exported != nil {
		if sn.Meta, err = json.Marshal(meta); err != nil {
			return nil, err
		}
	}
	// Ids are version_timestamp in milliseconds; two backups in one millisecond get
	// the next free one.
	ids := map[string]bool{}
	for _, s := range existing {
		ids[s.ID] = true
	}
	t := start
	if opt.ID != "" {
		if ids[opt.ID] {
			return nil, fmt.Errorf("backup: snapshot %s already exists", opt.ID)
		}
		if err := repo.ValidSnapshotID(opt.ID); err != nil {
			return nil, err
		}
		sn.ID = opt.ID
		ms, _ := strconv.ParseInt(opt.ID[strings.LastIndexByte(opt.ID, '_')+1:], 10, 64)
		t = time.UnixMilli(ms)
	} else {
		for sn.ID = repo.SnapshotID(meta.Version, t); ids[sn.ID]; sn.ID = repo.SnapshotID(meta.Version, t) {
			t = t.Add(time.Millisecond)
		}
	}
	sn.Timestamp = t.UnixMilli()
	if parent != nil {
		sn.Parent = parent.ID
	}
	sn.Totals = b.totals
	sn.Totals.StoredBytes = r.BytesWritten() - written0
	sn.Totals.BytesSent = sn.Totals.StoredBytes
	sn.Totals.BytesReceived = r.BytesRead() - read0
	sn.Totals.DurationMilli = opt.now().Sub(start).Milliseconds()
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if opt.ID == "" {
		if err := uniqueID(ctx, r, sn); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	prog.Report(Event{Phase: PhaseDone, BytesDone: b.totals.RawBytes, NewBytes: b.totals.NewRawBytes, Elapsed: time.Since(start)})
	return sn, nil
}

type backup struct {
	r       *repo.Repository
	prog    Progress
	start   time.Time
	workers int
	parent  *repo.Snapshot
	tags    map[string]string // the source's change tags, taken before reading
	cols    []repo.Collection
	totals  repo.Totals
	chunker *chunk.Chunker
	pool    sync.Pool
}

// batch carries consecutive chunks between the pipeline stages: one channel send
// per batch instead of per chunk keeps both cores busy with small chunks.
type batch struct {
	seq   int    // index of the first chunk in the collection
	data  []byte // the chunks, back to back
	ends  []int  // end offset of each chunk in data
	ids   []chunk.ID
	isNew []bool
}

const batchBytes = 256 << 10

func (b *backup) getBatch(seq int) *batch {
	if v, ok := b.pool.Get().(*batch); ok {
		v.seq, v.data, v.ends, v.ids, v.isNew = seq, v.data[:0], v.ends[:0], v.ids[:0], v.isNew[:0]
		return v
	}
	return &batch{seq: seq, data: make([]byte, 0, batchBytes+64<<10)}
}

// collection chunks one collection: this goroutine cuts, workers hash and store, and
// a collector puts the ids back in order. All of them end before it returns.
func (b *backup) collection(ctx context.Context, name string, rd io.Reader) error {
	tag := b.tags[name]
	if b.parent != nil && tag != "" {
		for _, pc := range b.parent.Collections {
			if pc.Name == name && pc.Tag == tag {
				// Unchanged since the parent: its entry, list and chunks stand as they are.
				l, err := b.r.LoadList(ctx, pc.List, nil)
				if err != nil {
					return fmt.Errorf("parent %s: %w", b.parent.ID, err)
				}
				if len(l.Chunks) != pc.Count {
					return fmt.Errorf("parent %s collection %s: list has %d chunks, manifest says %d: %w", b.parent.ID, name, len(l.Chunks), pc.Count, repo.ErrDamaged)
				}
				b.totals.RawBytes += pc.Bytes
				b.totals.Records += pc.Records
				b.totals.ChunksReused += int64(pc.Count)
				b.totals.CollectionsUnchanged++
				b.cols = append(b.cols, pc)
				b.prog.Report(Event{Phase: PhaseBackup, Collection: name, BytesDone: b.totals.RawBytes, NewBytes: b.totals.NewRawBytes, Elapsed: time.Since(b.start)})
				return nil
			}
		}
	}
	params := b.r.Config().Chunking
	if b.chunker == nil {
		b.chunker = chunk.New(rd, params)
	} else {
		b.chunker.Reset(rd)
	}
	col := repo.Collection{Name: name}
	ids := []chunk.ID{} // the collection's chunk ids, in order, until they are in its list chunk
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan *batch, 2*b.workers)
	results := make(chan *batch, 2*b.workers)

	var wg sync.WaitGroup
	for range b.workers {
		wg.Add(1)
		g.Go(func() error {
			defer wg.Done()
			st := b.r.NewStream()
			var chunks [][]byte
			for bt := range jobs {
				chunks = chunks[:0]
				start := 0
				for _, end := range bt.ends {
					chunks = append(chunks, bt.data[start:end])
					start = end
				}
				bt.ids = slices.Grow(bt.ids[:0], len(chunks))[:len(chunks)]
				b.r.ChunkIDs(chunks, bt.ids)
				for k, data := range chunks {
					res, err := st.SaveChunk(gctx, bt.ids[k], data)
					if err != nil {
						return err
					}
					bt.isNew = append(bt.isNew, res.New)
				}
				// A batch's new chunks end in frames of their own: a restore reads
				// them in order without going back to a frame shared with another batch.
				if err := st.Close(gctx); err != nil {
					return err
				}
				select {
				case results <- bt:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		wg.Wait()
		close(results)
		return nil
	})
	var newBytes, done int64
	g.Go(func() error {
		for bt := range results {
			need := bt.seq + len(bt.ids)
			for len(ids) < need {
				ids = append(ids, chunk.ID{})
			}
			start := 0
			for k, id := range bt.ids {
				ids[bt.seq+k] = id
				n := int64(bt.ends[k] - start)
				start = bt.ends[k]
				done += n
				if bt.isNew[k] {
					newBytes += n
					b.totals.ChunksNew++
				} else {
					b.totals.ChunksReused++
				}
			}
			b.pool.Put(bt)
			b.prog.Report(Event{Phase: PhaseBackup, Collection: name, BytesDone: b.totals.RawBytes + done, NewBytes: b.totals.NewRawBytes + newBytes, Elapsed: time.Since(b.start)})
		}
		return nil
	})
	// The producer runs here; it closes jobs on every path so the workers end.
	err := func() error {
		defer close(jobs)
		send := func(bt *batch) error {
			select {
			case jobs <- bt:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		bt := b.getBatch(0)
		for seq := 0; ; seq++ {
			ch, err := b.chunker.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("read collection %s: %w", name, err)
			}
			col.Records += int64(ch.Records)
			col.Bytes += int64(len(ch.Data))
			bt.data = append(bt.data, ch.Data...)
			bt.ends = append(bt.ends, len(bt.data))
			if len(bt.data) >= batchBytes {
				if err := send(bt); err != nil {
					return err
				}
				bt = b.getBatch(seq + 1)
			}
		}
		if len(bt.ends) > 0 {
			return send(bt)
		}
		return nil
	}()
	// A worker's error cancels gctx, so the producer may only have seen the cancel.
	if werr := g.Wait(); werr != nil && (err == nil || errors.Is(err, context.Canceled) && ctx.Err() == nil) {
		err = werr
	}
	if err != nil {
		return err
	}
	// The chunk list, as a delta against the parent's list of this collection.
	var base *repo.List
	if b.parent != nil {
		for _, pc := range b.parent.Collections {
			if pc.Name == name {
				l, err := b.r.LoadList(ctx, pc.List, nil)
				if err != nil {
					return fmt.Errorf("parent %s: %w", b.parent.ID, err)
				}
				base = &l
			}
		}
	}
	list, err := b.r.SaveList(ctx, ids, base)
	if err != nil {
		return err
	}
	// The ids are in the list chunk now and are not kept: memory does not grow with the
	// collections done (Repository.Resolve reads them again when needed).
	col.List, col.Count, col.Tag = list.ID, len(ids), tag
	b.totals.RawBytes += col.Bytes
	b.totals.NewRawBytes += newBytes
	b.totals.Records += col.Records
	b.cols = append(b.cols, col)
	return nil
}

// uniqueID settles a clash of snapshot ids: two backups of the same database version
// started in the same millisecond (two processes) pick the same version_timestamp.
// Each backup lists the manifests after writing its own; the one that sees another
// manifest with its id moves to a later free millisecond (a new manifest, then the old
// one removed) and looks again. Of two clashing backups, the one that lists last
// always sees the other, so at least one moves, whatever the timing (a backup that
// listed before the other wrote has already returned and keeps its id). When both see
// each other, both move; a random step of 1 to 4 ms keeps them from meeting again.
func uniqueID(ctx context.Context, r *repo.Repository, sn *repo.Snapshot) error {
	for range 1000 {
		list, err := r.Snapshots(ctx)
		if err != nil {
			return err
		}
		ids, clash := map[string]bool{}, false
		for _, o := range list {
			ids[o.ID] = true
			if o.ID == sn.ID && o.Name != sn.Name {
				clash = true
			}
		}
		if !clash {
			return nil
		}
		old := *sn
		t := time.UnixMilli(sn.Timestamp)
		for ids[sn.ID] {
			t = t.Add(time.Duration(1+rand.IntN(4)) * time.Millisecond)
			sn.ID, sn.Timestamp = repo.SnapshotID(sn.Version, t), t.UnixMilli()
		}
		if err := r.SaveSnapshot(ctx, sn); err != nil {
			return err
		}
		if err := r.RemoveSnapshot(ctx, &old); err != nil {
			return err
		}
	}
	return fmt.Errorf("snapshot id %s: no free id found", sn.ID)
}

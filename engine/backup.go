package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
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
	Progress   Progress
	Now        func() time.Time // the clock; time.Now when nil
	Workers    int              // hashing and compressing goroutines; GOMAXPROCS when 0
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
	b := &backup{r: r, prog: prog, start: start, workers: opt.Workers, parent: parent}
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
	for sn.ID = repo.SnapshotID(meta.Version, t); ids[sn.ID]; sn.ID = repo.SnapshotID(meta.Version, t) {
		t = t.Add(time.Millisecond)
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
	prog.Report(Event{Phase: PhaseDone, BytesDone: b.totals.RawBytes, NewBytes: b.totals.NewRawBytes, Elapsed: time.Since(start)})
	return sn, nil
}

type backup struct {
	r       *repo.Repository
	prog    Progress
	start   time.Time
	workers int
	parent  *repo.Snapshot
	cols    []repo.Collection
	totals  repo.Totals
	chunker *chunk.Chunker
	pool    sync.Pool
}

type chunkJob struct {
	seq  int
	data *[]byte
}

type chunkResult struct {
	seq int
	id  chunk.ID
	raw int
	new bool
}

// collection chunks one collection: this goroutine cuts, workers hash and store, and
// a collector puts the ids back in order. All of them end before it returns.
func (b *backup) collection(ctx context.Context, name string, rd io.Reader) error {
	params := b.r.Config().Chunking
	if b.chunker == nil {
		b.chunker = chunk.New(rd, params)
	} else {
		b.chunker.Reset(rd)
	}
	col := repo.Collection{Name: name, Chunks: []chunk.ID{}}
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan chunkJob, 2*b.workers)
	results := make(chan chunkResult, 2*b.workers)

	var wg sync.WaitGroup
	for range b.workers {
		wg.Add(1)
		g.Go(func() error {
			defer wg.Done()
			for j := range jobs {
				data := *j.data
				id := chunk.Hash(data)
				res, err := b.r.SaveChunk(gctx, id, data)
				b.pool.Put(j.data)
				if err != nil {
					return err
				}
				select {
				case results <- chunkResult{seq: j.seq, id: id, raw: len(data), new: res.New}:
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
		for res := range results {
			for len(col.Chunks) <= res.seq {
				col.Chunks = append(col.Chunks, chunk.ID{})
			}
			col.Chunks[res.seq] = res.id
			done += int64(res.raw)
			if res.new {
				newBytes += int64(res.raw)
				b.totals.ChunksNew++
			} else {
				b.totals.ChunksReused++
			}
			if res.seq%256 == 0 {
				b.prog.Report(Event{Phase: PhaseBackup, Collection: name, BytesDone: b.totals.RawBytes + done, NewBytes: b.totals.NewRawBytes + newBytes, Elapsed: time.Since(b.start)})
			}
		}
		return nil
	})
	// The producer runs here; it closes jobs on every path so the workers end.
	err := func() error {
		defer close(jobs)
		for seq := 0; ; seq++ {
			ch, err := b.chunker.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read collection %s: %w", name, err)
			}
			col.Records += int64(ch.Records)
			col.Bytes += int64(len(ch.Data))
			buf, _ := b.pool.Get().(*[]byte)
			if buf == nil {
				buf = new([]byte)
			}
			*buf = append((*buf)[:0], ch.Data...)
			select {
			case jobs <- chunkJob{seq: seq, data: buf}:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
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
	list, err := b.r.SaveList(ctx, col.Chunks, base)
	if err != nil {
		return err
	}
	col.List, col.Count = list.ID, len(col.Chunks)
	b.totals.RawBytes += col.Bytes
	b.totals.NewRawBytes += newBytes
	b.totals.Records += col.Records
	b.cols = append(b.cols, col)
	return nil
}

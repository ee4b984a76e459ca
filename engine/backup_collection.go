package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"cairn/chunk"
	"cairn/repo"
)

// backup is one backup's state while it reads the source's collections.
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
	batches *batchPool
	streams []*repo.Stream // one per worker, kept from one collection to the next with their buffers
}

// batch carries consecutive chunks between the pipeline stages: one channel send
// per batch instead of per chunk keeps both cores busy with small chunks. A batch's
// new chunks end in frames of their own (repo.Stream.SaveRun), so a batch is about a
// frame long: the frames are full, and a restore reads a collection's frames in
// order without going back to one shared with another batch.
type batch struct {
	seq   int    // index of the first chunk in the collection
	data  []byte // the chunks, back to back (scratch once saved)
	ends  []int  // end offset of each chunk in data
	ids   []chunk.ID
	isNew []bool
}

// minBatchBytes is the smallest batch, whatever the repository's frame target: below
// it the channel sends and the locks per batch start to cost.
const minBatchBytes = 256 << 10

// batchPool hands out the backup's batches: at most cap(free) of them exist, so the
// bytes in flight between the stages are bounded by that many batches, however fast
// the source reads. The cutter takes them (get) and the collector gives them back (put).
type batchPool struct {
	free  chan *batch
	made  int // batches allocated so far, at most cap(free)
	bytes int // a batch is sent once it holds this many bytes
}

// newBatchPool returns a pool of n batches of about size bytes.
func newBatchPool(n, size int) *batchPool {
	return &batchPool{free: make(chan *batch, n), bytes: size}
}

// get returns an idle batch starting at chunk seq, a new one while fewer than the
// pool's bound exist, or waits for one to come back. Only the cutter calls it.
func (p *batchPool) get(ctx context.Context, seq int) (*batch, error) {
	var bt *batch
	select {
	case bt = <-p.free:
	default:
		if p.made < cap(p.free) {
			p.made++
			// Room for the chunk that crosses the bound.
			bt = &batch{data: make([]byte, 0, p.bytes+64<<10)}
			break
		}
		select {
		case bt = <-p.free:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	bt.seq, bt.data, bt.ends, bt.ids, bt.isNew = seq, bt.data[:0], bt.ends[:0], bt.ids[:0], bt.isNew[:0]
	return bt, nil
}

// put gives a batch back; the pool never holds more than it made.
func (p *batchPool) put(bt *batch) { p.free <- bt }

// collection backs up one collection: the parent's entry when its tag says it is
// unchanged, else its chunks stored and its chunk list written.
func (b *backup) collection(ctx context.Context, name string, rd io.Reader) error {
	tag := b.tags[name]
	if reused, err := b.reuseUnchanged(ctx, name, tag); reused || err != nil {
		return err
	}
	col, ids, newBytes, err := b.storeChunks(ctx, name, rd)
	if err != nil {
		return err
	}
	if err := b.writeList(ctx, &col, ids); err != nil {
		return err
	}
	col.Tag = tag
	b.totals.RawBytes += col.Bytes
	b.totals.NewRawBytes += newBytes
	b.totals.Records += col.Records
	b.cols = append(b.cols, col)
	return nil
}

// reuseUnchanged takes the parent's entry for a collection whose change tag is the
// parent's: its list and chunks stand as they are, and the source is not read. It
// reports whether it did.
func (b *backup) reuseUnchanged(ctx context.Context, name, tag string) (bool, error) {
	if b.parent == nil || tag == "" {
		return false, nil
	}
	i := slices.IndexFunc(b.parent.Collections, func(pc repo.Collection) bool { return pc.Name == name && pc.Tag == tag })
	if i < 0 {
		return false, nil
	}
	pc := b.parent.Collections[i]
	l, err := b.r.LoadList(ctx, pc.List, nil)
	if err != nil {
		return false, fmt.Errorf("parent %s: %w", b.parent.ID, err)
	}
	if len(l.Chunks) != pc.Count {
		return false, fmt.Errorf("parent %s collection %s: list has %d chunks, manifest says %d: %w", b.parent.ID, name, len(l.Chunks), pc.Count, repo.ErrDamaged)
	}
	b.totals.RawBytes += pc.Bytes
	b.totals.Records += pc.Records
	b.totals.ChunksReused += int64(pc.Count)
	b.totals.CollectionsUnchanged++
	b.cols = append(b.cols, pc)
	b.prog.Report(Event{Phase: PhaseBackup, Collection: name, BytesDone: b.totals.RawBytes, NewBytes: b.totals.NewRawBytes, Elapsed: time.Since(b.start)})
	return true, nil
}

// storeChunks chunks one collection and stores the chunks the repository lacks: this
// goroutine cuts (cut), workers hash and store (save), and a collector puts the ids
// back in order (gather). All of them end before it returns. It returns the
// collection with its records and bytes, its chunk ids in order, and the bytes of its
// new chunks.
func (b *backup) storeChunks(ctx context.Context, name string, rd io.Reader) (repo.Collection, []chunk.ID, int64, error) {
	if b.chunker == nil {
		b.chunker = chunk.New(rd, b.r.Config().Chunking)
	} else {
		b.chunker.Reset(rd)
	}
	col := repo.Collection{Name: name}
	ids := make([]chunk.ID, 0, b.expectedChunks(name, rd))
	if b.batches == nil {
		// One batch being cut and one per worker: the collector gives each back as soon
		// as it has its ids, and cutting a batch takes a fraction of the time a worker
		// takes to compress one, so the cutter has the next one ready when a worker asks.
		// The channels hold every batch there is, so sends on them never wait.
		n := b.workers + 1
		b.batches = newBatchPool(n, max(minBatchBytes, b.r.FrameTarget()))
	}
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan *batch, cap(b.batches.free))
	results := make(chan *batch, cap(b.batches.free))
	var wg sync.WaitGroup
	for len(b.streams) < b.workers {
		b.streams = append(b.streams, b.r.NewStream())
	}
	for i := range b.workers {
		wg.Add(1)
		g.Go(func() error {
			defer wg.Done()
			return b.save(gctx, b.streams[i], jobs, results)
		})
	}
	g.Go(func() error {
		wg.Wait()
		close(results)
		return nil
	})
	var newBytes int64
	g.Go(func() error {
		newBytes = b.gather(name, &ids, results)
		return nil
	})
	err := b.cut(gctx, name, &col, jobs)
	// A worker's error cancels gctx, so the producer may only have seen the cancel.
	if werr := g.Wait(); werr != nil && (err == nil || errors.Is(err, context.Canceled) && ctx.Err() == nil) {
		err = werr
	}
	if err != nil {
		// Batches a failed worker held never came back: the next collection, if any,
		// starts a pool of its own.
		b.batches = nil
	}
	return col, ids, newBytes, err
}

// Bounds on the room expectedChunks reserves for a collection's ids: a parent's
// count comes from a manifest, which may lie (32 MiB of ids at most), and a file of
// long records has far fewer chunks than its size says (8 MiB).
const (
	maxParentChunks = 1 << 20
	maxSizedChunks  = 1 << 18
)

// expectedChunks guesses how many chunks a collection has, so that its ids are not
// copied again and again as they grow: the parent's count and a sixteenth more, or
// when the source is a file and the parent lacks the collection, the file's size over
// the average chunk size.
func (b *backup) expectedChunks(name string, rd io.Reader) int {
	if b.parent != nil {
		for _, pc := range b.parent.Collections {
			if pc.Name == name && pc.Count > 0 {
				return min(pc.Count+pc.Count/16, maxParentChunks)
			}
		}
	}
	if f, ok := rd.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return int(min(fi.Size()/int64(max(1, b.r.Config().Chunking.Average)), maxSizedChunks))
		}
	}
	return 0
}

// cut reads the collection through the chunker and sends its chunks to the workers in
// batches, counting the collection's records and bytes. It closes jobs on every path
// so the workers end.
func (b *backup) cut(ctx context.Context, name string, col *repo.Collection, jobs chan<- *batch) error {
	defer close(jobs)
	send := func(bt *batch) error {
		select {
		case jobs <- bt:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	bt, err := b.batches.get(ctx, 0)
	if err != nil {
		return err
	}
	for seq := 0; ; seq++ {
		ch, err := b.chunker.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.batches.put(bt)
			return fmt.Errorf("read collection %s: %w", name, err)
		}
		col.Records += int64(ch.Records)
		col.Bytes += int64(len(ch.Data))
		bt.data = append(bt.data, ch.Data...)
		bt.ends = append(bt.ends, len(bt.data))
		if len(bt.data) >= b.batches.bytes {
			if err := send(bt); err != nil {
				b.batches.put(bt)
				return err
			}
			if bt, err = b.batches.get(ctx, seq+1); err != nil {
				return err
			}
		}
	}
	if len(bt.ends) > 0 {
		if err := send(bt); err != nil {
			b.batches.put(bt)
			return err
		}
		return nil
	}
	b.batches.put(bt)
	return nil
}

// save is one worker: it hashes each batch's chunks, stores those the repository
// lacks through its stream st, and passes the batch on to the collector. It ends when
// jobs is closed or ctx ends.
func (b *backup) save(ctx context.Context, st *repo.Stream, jobs <-chan *batch, results chan<- *batch) error {
	var chunks [][]byte
	for bt := range jobs {
		chunks = chunks[:0]
		start := 0
		for _, end := range bt.ends {
			chunks = append(chunks, bt.data[start:end])
			start = end
		}
		n := len(chunks)
		bt.ids = slices.Grow(bt.ids[:0], n)[:n]
		b.r.ChunkIDs(chunks, bt.ids)
		bt.isNew = slices.Grow(bt.isNew[:0], n)[:n]
		// The batch's new chunks end in frames of their own: a restore reads them in
		// order without going back to a frame shared with another batch.
		if err := st.SaveRun(ctx, bt.data, bt.ends, bt.ids, bt.isNew); err != nil {
			return err
		}
		if err := st.Close(ctx); err != nil {
			return err
		}
		select {
		case results <- bt:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// gather puts each batch's ids in their place in ids, counts new and reused chunks,
// and reports progress. It ends when results is closed and returns the bytes of the
// new chunks.
func (b *backup) gather(name string, ids *[]chunk.ID, results <-chan *batch) int64 {
	var newBytes, done int64
	for bt := range results {
		if need := bt.seq + len(bt.ids); len(*ids) < need {
			*ids = append(*ids, make([]chunk.ID, need-len(*ids))...)
		}
		start := 0
		for k, id := range bt.ids {
			(*ids)[bt.seq+k] = id
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
		b.batches.put(bt)
		b.prog.Report(Event{Phase: PhaseBackup, Collection: name, BytesDone: b.totals.RawBytes + done, NewBytes: b.totals.NewRawBytes + newBytes, Elapsed: time.Since(b.start)})
	}
	return newBytes
}

// writeList saves the collection's chunk list, as a delta against the parent's list
// of the same collection. The ids are not kept past it: they are in the list chunk
// now, so memory does not grow with the collections done (Repository.Resolve reads
// them again when needed).
func (b *backup) writeList(ctx context.Context, col *repo.Collection, ids []chunk.ID) error {
	var base *repo.List
	if b.parent != nil {
		for _, pc := range b.parent.Collections {
			if pc.Name == col.Name {
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
	col.List, col.Count = list.ID, len(ids)
	return nil
}

package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"cairn/chunk"
	"cairn/repo"
)

// packFindings are what reading one pack found: its problems and its bad chunks.
type packFindings struct {
	problems []Problem
	bad      []chunk.ID
}

// toRead lists the stored packs the index names that check reads: all of them, or
// those the subset picks.
func (c *checker) toRead() []repo.ObjectID {
	var stored []repo.ObjectID
	for _, p := range c.packs {
		if _, ok := c.stored[p]; ok { // a missing one is reported already
			stored = append(stored, p)
		}
	}
	if c.opt.Subset.IsZero() {
		return stored
	}
	rnd := c.opt.Rand
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return c.opt.Subset.pick(stored, c.stored, rnd)
}

// readData loads the given packs and verifies each of their chunks. Packs are read
// one per processor at a time (decoding and hashing on every core; a third in flight
// on two cores was no faster, locally or through rest-server, and held 4 MiB more of
// pack and its frames); their findings are added in pack order.
func (c *checker) readData(ctx context.Context, packs []repo.ObjectID) error {
	read0 := c.r.BytesRead()
	results := make([]packFindings, len(packs))
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range packs {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			if err := c.readPack(gctx, p, &results[i]); err != nil {
				return err
			}
			c.prog.Report(Event{Phase: PhaseCheck, ItemsDone: done.Add(1), ItemsTotal: int64(len(packs)), BytesDone: c.r.BytesRead() - read0, Elapsed: time.Since(c.start)})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, f := range results {
		c.res.Errors = append(c.res.Errors, f.problems...)
		markAll(c.bad, f.bad)
	}
	c.res.PacksRead = len(packs)
	c.res.BytesRead = c.r.BytesRead() - read0
	return nil
}

// readPack loads pack p and verifies the chunks the index places in it, recording
// what is wrong in out. It returns an error only when the pack cannot be read for a
// reason other than damage. The chunks are those of the pack's own table that the
// index places in this pack; when the table does not name every one the index does
// (or cannot be read), the rest come from a pass over the index.
//
// Where the table's ids were found by hashing the chunks (format 3), a ref whose id
// the index places exactly where the ref lies is verified already: the bytes at the
// index's location hash to the index's id. Those are not decoded and hashed again;
// every other chunk the index places in p is verified at the index's location.
func (c *checker) readPack(ctx context.Context, p repo.ObjectID, out *packFindings) error {
	data, refs, err := c.r.LoadPack(ctx, p)
	if err != nil {
		if !repo.IsDamage(err) {
			return err
		}
		out.problems = append(out.problems, Problem{Kind: ProblemPack, Pack: p.String(), Message: err.Error()})
		if data == nil {
			out.bad = c.idsIn(map[repo.ObjectID]bool{p: true})[p]
			return nil
		}
	}
	hashed := c.r.TableIDsHashed()
	toVerify := c.inPack[p] // every chunk, unless the table's ids were hashed
	if hashed {
		toVerify = 0
	}
	ids := make([]chunk.ID, 0, toVerify)
	locs := make([]repo.Location, 0, toVerify)
	seen := make(map[chunk.ID]bool, c.inPack[p]) // a table may name a chunk twice
	verified := 0
	add := func(id chunk.ID) {
		if loc, ok := c.r.Index().Lookup(id); ok && loc.Pack == p && !seen[id] {
			seen[id] = true
			ids, locs = append(ids, id), append(locs, loc)
		}
	}
	for _, ref := range refs {
		if !hashed {
			add(ref.ID)
			continue
		}
		loc, ok := c.r.Index().Lookup(ref.ID)
		if ok && loc.Pack == p && !seen[ref.ID] && loc.Frame == ref.Frame && loc.FrameLen == ref.FrameLen && loc.Offset == ref.Offset && loc.Raw == ref.Raw {
			seen[ref.ID] = true
			verified++
		}
	}
	if verified+len(ids) < c.inPack[p] {
		for _, id := range c.idsIn(map[repo.ObjectID]bool{p: true})[p] {
			add(id)
		}
	}
	for k, err := range c.r.VerifyChunks(data, ids, locs) {
		if err != nil {
			out.problems = append(out.problems, Problem{Kind: ProblemChunk, Pack: p.String(), Chunk: ids[k].String(), Message: fmt.Sprintf("pack %s: %v", p.Short(), err)})
			out.bad = append(out.bad, ids[k])
		}
	}
	return nil
}

package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"cairn/chunk"
	"cairn/repo"
)

// CheckOptions tune check.
type CheckOptions struct {
	ReadData bool       // load every pack and re-hash every chunk
	Subset   Subset     // or load only these packs (not with ReadData)
	Rand     *rand.Rand // draws a random Subset; nil for a randomly seeded one
	Progress Progress
}

// Damage names the snapshots and collections that a damaged or missing chunk hurts.
type Damage struct {
	Snapshot   string `json:"snapshot"`
	Collection string `json:"collection"`
	Chunks     int    `json:"chunks"` // damaged chunks the collection needs
}

// CheckResult lists every problem found. It is clean when Errors is empty.
type CheckResult struct {
	Snapshots   int       `json:"snapshots"`
	Packs       int       `json:"packs"`
	Chunks      int       `json:"chunks"`
	ReadData    bool      `json:"read_data"`        // packs were read: all, or a Subset
	Subset      string    `json:"subset,omitempty"` // the subset read, as given (N/T, P%, bytes)
	PacksRead   int       `json:"packs_read"`
	BytesRead   int64     `json:"bytes_read"`
	Errors      []Problem `json:"errors"`   // damage
	Warnings    []Problem `json:"warnings"` // odd but harmless
	Damaged     []Damage  `json:"damaged"`
	UnusedPacks int       `json:"unused_packs"` // packs no index names (left by an interrupted backup)
	// PendingPacks are packs a prune took off the index; a later prune deletes them.
	PendingPacks int `json:"pending_packs"`
}

// OK reports whether nothing is wrong.
func (c *CheckResult) OK() bool { return len(c.Errors) == 0 }

func (c *CheckResult) fail(p Problem) { c.Errors = append(c.Errors, p) }

// Check verifies the repository: every snapshot's chunks are indexed, every indexed
// pack exists with a plausible size, and with ReadData every chunk decodes and hashes
// to its id. It returns an error only when it cannot run at all, or with
// repo.ErrLockLost when, at its end, its lock is gone: a prune took it for crashed
// and may have deleted packs under it, so what it found says nothing about the
// repository (even a clean result is not reported then).
func Check(ctx context.Context, r *repo.Repository, opt CheckOptions) (*CheckResult, error) {
	if !opt.Subset.IsZero() {
		if err := opt.Subset.Validate(); err != nil {
			return nil, fmt.Errorf("check: %w", err)
		}
		if opt.ReadData {
			return nil, fmt.Errorf("check: read all data or a subset, not both: %w", ErrSubset)
		}
	}
	res, err := check(ctx, r, opt)
	if ctx.Err() == nil {
		if merr := r.CheckLock(ctx); errors.Is(merr, repo.ErrLockLost) {
			return nil, fmt.Errorf("check: %w", merr)
		} else if merr != nil && err == nil && !res.OK() {
			return nil, fmt.Errorf("check found errors but cannot tell whether a prune removed packs under it: %w", merr)
		}
	}
	return res, err
}

// checker is one check's state: what it loaded, and the chunks found bad so far.
type checker struct {
	r       *repo.Repository
	opt     CheckOptions
	prog    Progress
	start   time.Time
	res     *CheckResult
	snaps   []*repo.Snapshot
	stored  map[repo.ObjectID]int64 // the packs in storage, with their sizes
	inPack  map[repo.ObjectID]int   // how many chunks the index places in each pack
	packEnd map[repo.ObjectID]int64 // the end of each pack's last frame, by the index
	packs   []repo.ObjectID         // the packs the index names, in order
	bad     map[chunk.ID]bool       // chunks missing or damaged
	broken  []Damage                // collections whose list cannot be read
	lists   map[chunk.ID]int        // lists read so far, with the chunks each needs that the index lacks
}

// check runs the steps in order; a step that finds the repository too damaged to go
// on (no manifests or no index) ends it with the result so far.
func check(ctx context.Context, r *repo.Repository, opt CheckOptions) (*CheckResult, error) {
	c := &checker{
		r: r, opt: opt, prog: orNoProgress(opt.Progress), start: time.Now(),
		res: &CheckResult{ReadData: opt.ReadData || !opt.Subset.IsZero(), Subset: opt.Subset.String(), Errors: []Problem{}, Warnings: []Problem{}, Damaged: []Damage{}},
		bad: map[chunk.ID]bool{},
	}
	if ok, err := c.load(ctx); !ok || err != nil {
		if err != nil {
			return nil, err
		}
		return c.res, nil
	}
	c.mapIndex()
	if err := c.checkPacks(ctx); err != nil {
		return nil, err
	}
	if err := c.checkLists(ctx); err != nil {
		return nil, err
	}
	c.r.ForgetLists()
	if c.res.ReadData {
		if err := c.readData(ctx, c.toRead()); err != nil {
			return nil, err
		}
	}
	damaged, err := c.damage(ctx)
	if err != nil {
		return nil, err
	}
	c.res.Damaged = append(c.broken, damaged...)
	return c.res, nil
}

// load reads the manifests, then the index as it is now, so that it covers every
// snapshot just read, even one a backup finished meanwhile. It reports false when
// either is damaged (recorded as a problem): nothing else can be checked then.
func (c *checker) load(ctx context.Context) (bool, error) {
	snaps, err := c.r.Snapshots(ctx)
	if err != nil {
		if repo.IsDamage(err) {
			c.res.fail(Problem{Kind: ProblemSnapshot, Message: err.Error()})
			return false, nil
		}
		return false, err
	}
	c.snaps = snaps
	c.res.Snapshots = len(snaps)
	if err := c.r.LoadIndexFromStorage(ctx); err != nil { // every file, not a local copy of the index
		if repo.IsDamage(err) {
			c.res.fail(Problem{Kind: ProblemIndex, Message: err.Error()})
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// mapIndex counts the index's chunks by pack and finds where each pack must end. The
// chunks' ids are not grouped by pack here (32 bytes each, the index over again):
// reading a pack takes them from the pack's own table (check_data.go), and a pack
// found missing or damaged from the index (idsIn).
func (c *checker) mapIndex() {
	c.inPack, c.packEnd = map[repo.ObjectID]int{}, map[repo.ObjectID]int64{}
	c.r.Index().Each(func(_ chunk.ID, loc repo.Location) {
		c.inPack[loc.Pack]++
		c.packEnd[loc.Pack] = max(c.packEnd[loc.Pack], int64(loc.Frame)+int64(loc.FrameLen))
		c.res.Chunks++
	})
	c.res.Packs = len(c.inPack)
	c.packs = make([]repo.ObjectID, 0, len(c.inPack))
	for p := range c.inPack {
		c.packs = append(c.packs, p)
	}
	slices.SortFunc(c.packs, func(a, b repo.ObjectID) int { return bytes.Compare(a[:], b[:]) })
}

// checkPacks compares the packs in storage with those the index names: every indexed
// pack must be there and as long as its last frame's end. Packs the index does not
// name are counted: pending (a prune deletes them later) or unused (a warning).
func (c *checker) checkPacks(ctx context.Context) error {
	pending, err := c.r.PendingPacks(ctx)
	if err != nil {
		return err
	}
	if c.stored, err = c.r.Packs(ctx); err != nil {
		return err
	}
	lost := map[repo.ObjectID]bool{}
	for _, p := range c.packs {
		size, end := c.stored[p], c.packEnd[p]
		_, ok := c.stored[p]
		switch {
		case !ok:
			c.res.fail(Problem{Kind: ProblemPack, Pack: p.String(), Message: fmt.Sprintf("pack %s is missing (%d chunks)", p.Short(), c.inPack[p])})
			lost[p] = true
		case size < end:
			c.res.fail(Problem{Kind: ProblemPack, Pack: p.String(), Message: fmt.Sprintf("pack %s is %d bytes, the index needs %d", p.Short(), size, end)})
			lost[p] = true
		}
	}
	for _, ids := range c.idsIn(lost) {
		markAll(c.bad, ids)
	}
	for p := range c.stored {
		if _, ok := c.inPack[p]; !ok {
			if pending[p] {
				c.res.PendingPacks++
			} else {
				c.res.UnusedPacks++
			}
		}
	}
	if c.res.UnusedPacks > 0 {
		c.res.Warnings = append(c.res.Warnings, Problem{Kind: ProblemPack, Message: fmt.Sprintf("%d packs are not in the index (left by an interrupted backup; the next backup adopts what they hold)", c.res.UnusedPacks)})
	}
	return nil
}

// needs calls fn with the chunks collection i of snapshot sn needs, its list chunks
// included. A list that cannot be read for damage is reported as such (IsDamage).
func (c *checker) needs(ctx context.Context, col *repo.Collection, fn func(ids []chunk.ID)) error {
	var chain []chunk.ID
	l, err := c.r.LoadList(ctx, col.List, func(id chunk.ID) { chain = append(chain, id) })
	if err != nil {
		return err
	}
	fn(chain)
	fn(l.Chunks)
	return nil
}

// checkLists reads every snapshot's chunk lists, one at a time (a list shared by
// several snapshots once), and finds the chunks they need that the index does not
// have. A list that cannot be read damages its collection. Lists are not kept: their
// chunk ids, a snapshot's worth each, would make the check's memory grow with the
// number of snapshots.
func (c *checker) checkLists(ctx context.Context) error {
	c.lists = map[chunk.ID]int{}
	for _, sn := range c.snaps {
		missing := 0
		for i := range sn.Collections {
			col := &sn.Collections[i]
			n, seen := c.lists[col.List]
			if !seen {
				err := c.needs(ctx, col, func(ids []chunk.ID) {
					for _, id := range ids {
						if !c.r.Index().Has(id) {
							n++
							c.bad[id] = true
						}
					}
				})
				if err != nil {
					if !repo.IsDamage(err) {
						return err
					}
					c.res.fail(Problem{Kind: ProblemCollection, Snapshot: sn.ID, Collection: col.Name, Message: fmt.Sprintf("snapshot %s collection %s: %v", sn.ID, col.Name, err)})
					c.broken = append(c.broken, Damage{Snapshot: sn.ID, Collection: col.Name, Chunks: 1})
					continue
				}
				c.lists[col.List] = n
			}
			missing += n
		}
		if missing > 0 {
			c.res.fail(Problem{Kind: ProblemSnapshot, Snapshot: sn.ID, Message: fmt.Sprintf("snapshot %s needs %d chunks the index does not have", sn.ID, missing)})
		}
	}
	return nil
}

// idsIn returns the chunks the index places in each of packs, in one pass over it.
func (c *checker) idsIn(packs map[repo.ObjectID]bool) map[repo.ObjectID][]chunk.ID {
	out := map[repo.ObjectID][]chunk.ID{}
	if len(packs) == 0 {
		return out
	}
	c.r.Index().Each(func(id chunk.ID, loc repo.Location) {
		if packs[loc.Pack] {
			out[loc.Pack] = append(out[loc.Pack], id)
		}
	})
	return out
}

func markAll(bad map[chunk.ID]bool, ids []chunk.ID) {
	for _, id := range ids {
		bad[id] = true
	}
}

// damage lists, per snapshot and collection, how many bad chunks it needs, reading
// the lists again (only when some chunk is bad), each list once.
func (c *checker) damage(ctx context.Context) ([]Damage, error) {
	out := []Damage{}
	if len(c.bad) == 0 {
		return out, nil
	}
	badIn := map[chunk.ID]int{}
	for _, sn := range c.snaps {
		for i := range sn.Collections {
			col := &sn.Collections[i]
			if _, ok := c.lists[col.List]; !ok {
				continue // unreadable: already among c.broken
			}
			n, seen := badIn[col.List]
			if !seen {
				err := c.needs(ctx, col, func(ids []chunk.ID) {
					for _, id := range ids {
						if c.bad[id] {
							n++
						}
					}
				})
				if err != nil {
					return nil, err
				}
				badIn[col.List] = n
			}
			if n > 0 {
				out = append(out, Damage{Snapshot: sn.ID, Collection: col.Name, Chunks: n})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Snapshot < out[j].Snapshot })
	return out, nil
}

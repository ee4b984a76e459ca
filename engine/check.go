package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"cairn/chunk"
	"cairn/repo"
)

// CheckOptions tune check.
type CheckOptions struct {
	ReadData bool // load every pack and re-hash every chunk
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
	Snapshots   int      `json:"snapshots"`
	Packs       int      `json:"packs"`
	Chunks      int      `json:"chunks"`
	ReadData    bool     `json:"read_data"`
	BytesRead   int64    `json:"bytes_read"`
	Errors      []string `json:"errors"`
	Warnings    []string `json:"warnings"`
	Damaged     []Damage `json:"damaged"`
	UnusedPacks int      `json:"unused_packs"` // packs no index names (left by an interrupted backup)
	// PendingPacks are packs a prune took off the index; a later prune deletes them.
	PendingPacks int `json:"pending_packs"`
}

// OK reports whether nothing is wrong.
func (c *CheckResult) OK() bool { return len(c.Errors) == 0 }

// Check verifies the repository: every snapshot's chunks are indexed, every indexed
// pack exists with a plausible size, and with ReadData every chunk decodes and hashes
// to its id. It returns an error only when it cannot run at all, or with
// repo.ErrMarkerLost when, at its end, its marker is gone: a prune took it for crashed
// and may have deleted packs under it, so what it found says nothing about the
// repository (even a clean result is not reported then).
func Check(ctx context.Context, r *repo.Repository, opt CheckOptions) (*CheckResult, error) {
	res, err := check(ctx, r, opt)
	if ctx.Err() == nil {
		if merr := r.CheckMarker(ctx); errors.Is(merr, repo.ErrMarkerLost) {
			return nil, fmt.Errorf("check: %w", merr)
		} else if merr != nil && err == nil && !res.OK() {
			return nil, fmt.Errorf("check found errors but cannot tell whether a prune removed packs under it: %w", merr)
		}
	}
	return res, err
}

func check(ctx context.Context, r *repo.Repository, opt CheckOptions) (*CheckResult, error) {
	prog := orNoProgress(opt.Progress)
	start := time.Now()
	res := &CheckResult{ReadData: opt.ReadData, Errors: []string{}, Warnings: []string{}, Damaged: []Damage{}}
	snaps, err := r.Snapshots(ctx)
	if err != nil {
		if repo.IsDamage(err) {
			res.Errors = append(res.Errors, err.Error())
			return res, nil
		}
		return nil, err
	}
	res.Snapshots = len(snaps)
	// The index as it is now, so that it covers every snapshot just read, even one a
	// backup finished meanwhile.
	if err := r.LoadIndex(ctx); err != nil {
		if repo.IsDamage(err) {
			res.Errors = append(res.Errors, err.Error())
			return res, nil
		}
		return nil, err
	}
	pending, err := r.PendingPacks(ctx)
	if err != nil {
		return nil, err
	}
	stored, err := r.Packs(ctx)
	if err != nil {
		return nil, err
	}
	bad := map[chunk.ID]bool{}
	byPack := map[repo.ObjectID][]chunk.ID{}
	packEnd := map[repo.ObjectID]int64{}
	r.Index().Each(func(id chunk.ID, loc repo.Location) {
		byPack[loc.Pack] = append(byPack[loc.Pack], id)
		packEnd[loc.Pack] = max(packEnd[loc.Pack], int64(loc.Frame)+int64(loc.FrameLen))
		res.Chunks++
	})
	res.Packs = len(byPack)
	packs := make([]repo.ObjectID, 0, len(byPack))
	for p := range byPack {
		packs = append(packs, p)
	}
	slices.SortFunc(packs, func(a, b repo.ObjectID) int { return bytes.Compare(a[:], b[:]) })
	for _, p := range packs {
		size, ok := stored[p]
		switch {
		case !ok:
			res.Errors = append(res.Errors, fmt.Sprintf("pack %s is missing (%d chunks)", p.Short(), len(byPack[p])))
			markAll(bad, byPack[p])
		case size < packEnd[p]:
			res.Errors = append(res.Errors, fmt.Sprintf("pack %s is %d bytes, the index needs %d", p.Short(), size, packEnd[p]))
			markAll(bad, byPack[p])
		}
	}
	for p := range stored {
		if _, ok := byPack[p]; !ok {
			if pending[p] {
				res.PendingPacks++
			} else {
				res.UnusedPacks++
			}
		}
	}
	if res.UnusedPacks > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d packs are not in the index (left by an interrupted backup; the next backup adopts what they hold)", res.UnusedPacks))
	}
	// Resolve every snapshot's lists; a list that cannot be read damages its collection.
	// needs[s][i] are the chunks collection i of snapshot s needs: its list chunks
	// (checked like data) and the chunks they name.
	var broken []Damage
	needs := make([][][]chunk.ID, len(snaps))
	for s, sn := range snaps {
		needs[s] = make([][]chunk.ID, len(sn.Collections))
		for i, c := range sn.Collections {
			var chain []chunk.ID
			l, err := r.LoadList(ctx, c.List, func(id chunk.ID) { chain = append(chain, id) })
			if err != nil {
				if !repo.IsDamage(err) {
					return nil, err
				}
				res.Errors = append(res.Errors, fmt.Sprintf("snapshot %s collection %s: %v", sn.ID, c.Name, err))
				broken = append(broken, Damage{Snapshot: sn.ID, Collection: c.Name, Chunks: 1})
				continue
			}
			needs[s][i] = append(chain, l.Chunks...)
		}
	}
	for s, sn := range snaps {
		missing := 0
		for _, need := range needs[s] {
			for _, id := range need {
				if !r.Index().Has(id) {
					missing++
					bad[id] = true
				}
			}
		}
		if missing > 0 {
			res.Errors = append(res.Errors, fmt.Sprintf("snapshot %s needs %d chunks the index does not have", sn.ID, missing))
		}
	}
	if opt.ReadData {
		read0 := r.BytesRead()
		// Packs are read and verified a few at a time (decoding and hashing on every
		// core); their findings are added in pack order.
		type found struct {
			errs []string
			bad  []chunk.ID
		}
		results := make([]found, len(packs))
		var done atomic.Int64
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(runtime.GOMAXPROCS(0) + 1)
		for i, p := range packs {
			if _, ok := stored[p]; !ok {
				continue
			}
			g.Go(func() error {
				if err := gctx.Err(); err != nil {
					return err
				}
				out := &results[i]
				data, _, err := r.LoadPack(gctx, p)
				if err != nil {
					if !repo.IsDamage(err) {
						return err
					}
					out.errs = append(out.errs, err.Error())
					if data == nil {
						out.bad = byPack[p]
						return nil
					}
				}
				ids := byPack[p]
				locs := make([]repo.Location, len(ids))
				for k, id := range ids {
					locs[k], _ = r.Index().Lookup(id)
				}
				for k, err := range r.VerifyChunks(data, ids, locs) {
					if err != nil {
						out.errs = append(out.errs, fmt.Sprintf("pack %s: %v", p.Short(), err))
						out.bad = append(out.bad, ids[k])
					}
				}
				prog.Report(Event{Phase: PhaseCheck, ItemsDone: done.Add(1), ItemsTotal: int64(len(packs)), BytesDone: r.BytesRead() - read0, Elapsed: time.Since(start)})
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for _, f := range results {
			res.Errors = append(res.Errors, f.errs...)
			markAll(bad, f.bad)
		}
		res.BytesRead = r.BytesRead() - read0
	}
	res.Damaged = append(broken, damageOf(snaps, needs, bad)...)
	return res, nil
}

func markAll(bad map[chunk.ID]bool, ids []chunk.ID) {
	for _, id := range ids {
		bad[id] = true
	}
}

// damageOf lists, per snapshot and collection, how many bad chunks it needs.
func damageOf(snaps []*repo.Snapshot, needs [][][]chunk.ID, bad map[chunk.ID]bool) []Damage {
	out := []Damage{}
	if len(bad) == 0 {
		return out
	}
	for s, sn := range snaps {
		for i, c := range sn.Collections {
			n := 0
			for _, id := range needs[s][i] {
				if bad[id] {
					n++
				}
			}
			if n > 0 {
				out = append(out, Damage{Snapshot: sn.ID, Collection: c.Name, Chunks: n})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Snapshot < out[j].Snapshot })
	return out
}

package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"cairn/transport"
)

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
	r.listed.set(out)
	return out, nil
}

// listedSnapshots are the manifests a repository handle's Snapshots loaded last, by
// id: PrefetchSnapshotLists finds a snapshot's parent there.
type listedSnapshots struct {
	mu   sync.Mutex
	byID map[string]*Snapshot
}

func (l *listedSnapshots) set(list []*Snapshot) {
	m := make(map[string]*Snapshot, len(list))
	for _, sn := range list {
		m[sn.ID] = sn
	}
	l.mu.Lock()
	l.byID = m
	l.mu.Unlock()
}

func (l *listedSnapshots) get(id string) *Snapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byID[id]
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

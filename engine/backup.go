package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"time"

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
	parent, err := parentOf(existing, opt)
	if err != nil {
		return nil, err
	}
	written0, read0, comp0 := r.BytesWritten(), r.BytesRead(), r.CompressionTotals()
	if err := prepare(ctx, r, parent); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
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
	if err := assignID(sn, existing, opt.ID, start); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if parent != nil {
		sn.Parent = parent.ID
	}
	sn.Totals = b.totals
	sn.Totals.StoredBytes = r.BytesWritten() - written0
	sn.Totals.BytesSent = sn.Totals.StoredBytes
	sn.Totals.BytesReceived = r.BytesRead() - read0
	sn.Totals.DurationMilli = opt.now().Sub(start).Milliseconds()
	sn.Totals.Compression = r.CompressionTotals().Since(comp0)
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

// parentOf picks the snapshot a backup builds on: the one named by opt.Parent, or the
// newest of the same kind.
func parentOf(existing []*repo.Snapshot, opt BackupOptions) (*repo.Snapshot, error) {
	var parent *repo.Snapshot
	for _, s := range existing {
		if opt.Parent == "" && s.Kind == opt.Kind || s.ID == opt.Parent {
			parent = s
		}
	}
	if opt.Parent != "" && parent == nil {
		return nil, fmt.Errorf("backup: parent %s: %w", opt.Parent, repo.ErrNotFound)
	}
	return parent, nil
}

// prepare adopts the packs an interrupted backup left behind (they count as stored:
// resume, don't resend) and fetches the parent's chunk lists in one go.
func prepare(ctx context.Context, r *repo.Repository, parent *repo.Snapshot) error {
	if _, err := r.AdoptOrphans(ctx); err != nil {
		return err
	}
	if parent == nil {
		return nil
	}
	ids := make([]chunk.ID, len(parent.Collections))
	for i, c := range parent.Collections {
		ids[i] = c.List
	}
	if err := r.PrefetchLists(ctx, ids); err != nil {
		return fmt.Errorf("parent %s: %w", parent.ID, err)
	}
	return nil
}

// assignID gives sn its id and timestamp: id when the caller chose one, else
// version_timestamp in milliseconds from start, where two backups in one millisecond
// get the next free one.
func assignID(sn *repo.Snapshot, existing []*repo.Snapshot, id string, start time.Time) error {
	ids := map[string]bool{}
	for _, s := range existing {
		ids[s.ID] = true
	}
	t := start
	if id != "" {
		if ids[id] {
			return fmt.Errorf("snapshot %s already exists", id)
		}
		if err := repo.ValidSnapshotID(id); err != nil {
			return err
		}
		sn.ID = id
		ms, _ := strconv.ParseInt(id[strings.LastIndexByte(id, '_')+1:], 10, 64)
		t = time.UnixMilli(ms)
	} else {
		for sn.ID = repo.SnapshotID(sn.Version, t); ids[sn.ID]; sn.ID = repo.SnapshotID(sn.Version, t) {
			t = t.Add(time.Millisecond)
		}
	}
	sn.Timestamp = t.UnixMilli()
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

package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"cairn/chunk"
	"cairn/repo"
)

// PhaseCopy is the phase of a copy: reading snapshots from one repository and storing
// what the other lacks.
const PhaseCopy Phase = "copy"

// ErrSnapshotConflict means the target already holds a snapshot with the id of one
// being copied, and it is not a copy of it: copy never replaces or renames one.
var ErrSnapshotConflict = errors.New("the target holds another snapshot with this id")

// CopyOptions describe one copy.
type CopyOptions struct {
	// Snapshots are the ids (or unique prefixes, or "latest") of the source snapshots
	// to copy; every snapshot when empty.
	Snapshots []string
	Progress  Progress
}

// CopyStats say what a copy did.
type CopyStats struct {
	Copied        []string `json:"copied"`         // ids of the snapshots written to the target, oldest first
	Skipped       []string `json:"skipped"`        // ids already in the target
	ChunksSent    int64    `json:"chunks_sent"`    // data chunks the target lacked
	ChunksPresent int64    `json:"chunks_present"` // data chunks the target already had
	BytesRead     int64    `json:"bytes_read"`     // raw bytes of the collections read from the source
	NewBytes      int64    `json:"new_bytes"`      // raw bytes of the chunks sent
	BytesSent     int64    `json:"bytes_sent"`     // bytes written to the target's storage: packs, index files, manifests, locks
	BytesReceived int64    `json:"bytes_received"` // bytes read from the source's storage
	Adopted       int      `json:"packs_adopted"`  // packs an earlier, cut-off copy or backup left in the target, indexed instead of sent again
}

// Copy copies snapshots from src to dst, two repositories with their own master keys
// and chunking secrets. dst should be open under a backup lock (repo.WithLock), src
// under a lock of its own, so that no prune of either deletes what the copy uses.
//
// How chunks map. A chunk id is BLAKE3 keyed with the repository's master key, so the
// same bytes have another id in each repository, and the chunking seed differs too. A
// copy keeps the source's chunk boundaries and names each chunk by the target's keyed
// hash of its bytes. Re-cutting with the target's chunking would only help dedup
// against backups made straight into the target, at the price of reading and cutting
// every collection again; keeping the boundaries makes the target list of a collection
// the source list mapped position by position, so copies of successive snapshots
// deduplicate against each other exactly as their originals do, and the manifest's
// chunk counts stay the same. Nothing on storage changes: a copied manifest is a
// manifest like any other, with the target's list chunks.
//
// What is sent. Every chunk of a snapshot being copied is read from the source and
// verified, hashed with the target's key and looked up in the target's index by that
// id: only those it lacks are stored. A collection whose source list chunk is the one
// of a snapshot already copied (unchanged since, as a backup that finds a collection's
// change tag unchanged writes it) reuses the target's list of that copy and reads
// nothing.
//
// What is already there. A manifest keeps its version_timestamp id through a copy,
// with every other field but the list chunk ids (the original backup's totals
// included), so a snapshot is already in the target when the target has one with the
// same id whose fields all match: it is skipped without reading anything, and a
// second copy sends no chunk and writes no manifest. A target snapshot with that id
// and other fields is a conflict, refused before anything is sent.
//
// Cuts. Packs reach the target before the index files naming them, and a manifest
// only after both. A copy cut off leaves packs no index names; the next copy adopts
// them (repo.Repository.AdoptOrphans, as a backup does) and sends none of their
// chunks again. Snapshots are committed one at a time, oldest first: those done
// before a cut are skipped afterwards.
func Copy(ctx context.Context, src, dst *repo.Repository, opt CopyOptions) (st CopyStats, err error) {
	start := time.Now()
	prog := orNoProgress(opt.Progress)
	written0, read0 := dst.BytesWritten(), src.BytesRead()
	defer func() {
		st.BytesSent = dst.BytesWritten() - written0
		st.BytesReceived = src.BytesRead() - read0
	}()
	srcList, err := src.Snapshots(ctx)
	if err != nil {
		return st, fmt.Errorf("copy: source: %w", err)
	}
	todo, err := pickSnapshots(srcList, opt.Snapshots)
	if err != nil {
		return st, fmt.Errorf("copy: %w", err)
	}
	dstList, err := dst.Snapshots(ctx)
	if err != nil {
		return st, fmt.Errorf("copy: target: %w", err)
	}
	c := &copier{src: src, dst: dst, prog: prog, st: &st, start: start,
		byID: map[string]*repo.Snapshot{}, lists: map[chunk.ID]chunk.ID{}}
	for _, d := range dstList {
		c.byID[d.ID] = d
	}
	// Lists already copied, from every source snapshot the target has.
	for _, s := range srcList {
		if d := c.byID[s.ID]; d != nil && sameSnapshot(s, d) {
			c.pair(s, d)
		}
	}
	var copyList []*repo.Snapshot
	var conflicts []string
	for _, s := range todo {
		d := c.byID[s.ID]
		switch {
		case d == nil:
			copyList = append(copyList, s)
		case sameSnapshot(s, d):
			st.Skipped = append(st.Skipped, s.ID)
		default:
			conflicts = append(conflicts, s.ID)
		}
	}
	if len(conflicts) > 0 {
		return st, fmt.Errorf("copy: snapshot %s: %w; nothing was copied", joinIDs(conflicts), ErrSnapshotConflict)
	}
	if len(copyList) == 0 {
		prog.Report(Event{Phase: PhaseDone, Elapsed: time.Since(start)})
		return st, nil
	}
	seen := map[chunk.ID]bool{}
	for _, s := range copyList {
		for _, col := range s.Collections {
			if _, ok := c.lists[col.List]; !ok && !seen[col.List] {
				seen[col.List] = true
				c.total += col.Bytes
			}
		}
	}
	// Packs a cut-off copy (or backup) left behind count as stored: resume, don't resend.
	if st.Adopted, err = dst.AdoptOrphans(ctx); err != nil {
		return st, fmt.Errorf("copy: target: %w", err)
	}
	for i, s := range copyList {
		if err := c.snapshot(ctx, s); err != nil {
			if ctx.Err() == nil {
				if lerr := src.CheckLock(ctx); errors.Is(lerr, repo.ErrLockLost) {
					err = fmt.Errorf("source: %w (it failed with: %v)", lerr, err)
				}
			}
			return st, fmt.Errorf("copy %s: %w", s.ID, err)
		}
		st.Copied = append(st.Copied, s.ID)
		prog.Report(Event{Phase: PhaseCopy, BytesDone: st.BytesRead, BytesTotal: c.total, NewBytes: st.NewBytes,
			ItemsDone: int64(i + 1), ItemsTotal: int64(len(copyList)), Elapsed: time.Since(start)})
	}
	prog.Report(Event{Phase: PhaseDone, BytesDone: st.BytesRead, BytesTotal: c.total, NewBytes: st.NewBytes,
		ItemsDone: int64(len(copyList)), ItemsTotal: int64(len(copyList)), Elapsed: time.Since(start)})
	return st, nil
}

// copier holds what one Copy knows between snapshots.
type copier struct {
	src, dst *repo.Repository
	prog     Progress
	st       *CopyStats
	start    time.Time
	total    int64                     // raw bytes of the collections to read
	byID     map[string]*repo.Snapshot // the target's snapshots, those copied so far included
	lists    map[chunk.ID]chunk.ID     // source list chunk -> the target's list chunk of the same collection
}

// pair records the list chunks of a source snapshot and its copy in the target.
func (c *copier) pair(s, d *repo.Snapshot) {
	for i, col := range s.Collections {
		c.lists[col.List] = d.Collections[i].List
	}
}

// snapshot copies one snapshot: its chunks the target lacks, its lists, then (once
// they are durable) its manifest.
func (c *copier) snapshot(ctx context.Context, s *repo.Snapshot) error {
	sn := *s
	sn.Collections = make([]repo.Collection, len(s.Collections))
	// Delta lists against the copy of the source's parent, when the target has it.
	var parent *repo.Snapshot
	if s.Parent != "" {
		parent = c.byID[s.Parent]
	}
	for i, col := range s.Collections {
		out := col
		if l, ok := c.lists[col.List]; ok && c.dst.Index().Has(l) {
			out.List = l
			sn.Collections[i] = out
			continue
		}
		l, err := c.collection(ctx, s, col, parent)
		if err != nil {
			return err
		}
		out.List = l
		sn.Collections[i] = out
	}
	c.prog.Report(Event{Phase: PhaseFlush, BytesDone: c.st.BytesRead, BytesTotal: c.total, NewBytes: c.st.NewBytes, Elapsed: time.Since(c.start)})
	if err := c.dst.Flush(ctx); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	sn.Name = repo.ObjectID{}
	if err := c.dst.SaveSnapshot(ctx, &sn); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if err := c.settle(ctx, &sn); err != nil {
		return fmt.Errorf("target: %w", err)
	}
	c.byID[sn.ID] = &sn
	c.pair(s, &sn)
	return nil
}

// collection stores the chunks of one collection the target lacks and its list chunk,
// and returns the list chunk's id in the target.
func (c *copier) collection(ctx context.Context, s *repo.Snapshot, col repo.Collection, parent *repo.Snapshot) (chunk.ID, error) {
	l, err := c.src.LoadList(ctx, col.List, nil)
	if err != nil {
		return chunk.ID{}, fmt.Errorf("source collection %s: %w", col.Name, err)
	}
	if len(l.Chunks) != col.Count {
		return chunk.ID{}, fmt.Errorf("source collection %s: list has %d chunks, manifest says %d: %w", col.Name, len(l.Chunks), col.Count, repo.ErrDamaged)
	}
	ids := make([]chunk.ID, len(l.Chunks))
	var raw int64
	err = c.src.LoadChunks(ctx, l.Chunks, func(i int, data []byte) error {
		ids[i] = c.dst.ChunkID(data)
		res, err := c.dst.SaveChunk(ctx, ids[i], data)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		n := int64(len(data))
		raw += n
		c.st.BytesRead += n
		if res.New {
			c.st.ChunksSent++
			c.st.NewBytes += n
		} else {
			c.st.ChunksPresent++
		}
		if i%256 == 0 {
			c.prog.Report(Event{Phase: PhaseCopy, Collection: col.Name, BytesDone: c.st.BytesRead, BytesTotal: c.total,
				NewBytes: c.st.NewBytes, Elapsed: time.Since(c.start)})
		}
		return nil
	})
	if err != nil {
		return chunk.ID{}, fmt.Errorf("collection %s: %w", col.Name, err)
	}
	if raw != col.Bytes {
		return chunk.ID{}, fmt.Errorf("source collection %s: chunks hold %d bytes, manifest says %d: %w", col.Name, raw, col.Bytes, repo.ErrDamaged)
	}
	var base *repo.List
	if parent != nil {
		for _, pc := range parent.Collections {
			if pc.Name == col.Name && c.dst.Index().Has(pc.List) {
				b, err := c.dst.LoadList(ctx, pc.List, nil)
				if err != nil {
					return chunk.ID{}, fmt.Errorf("target: parent %s collection %s: %w", parent.ID, col.Name, err)
				}
				base = &b
				break
			}
		}
	}
	saved, err := c.dst.SaveList(ctx, ids, base)
	if err != nil {
		return chunk.ID{}, fmt.Errorf("target: collection %s: %w", col.Name, err)
	}
	return saved.ID, nil
}

// settle leaves one manifest of sn in the target when two copies of it ran at once:
// of identical copies the one with the smallest object name stays. A copy that sees a
// smaller one removes its own; one that sees only larger ones removes those, since
// their writer may have listed before this manifest arrived and kept its own. At
// least the copy that listed last sees both, so one manifest remains.
func (c *copier) settle(ctx context.Context, sn *repo.Snapshot) error {
	list, err := c.dst.Snapshots(ctx)
	if err != nil {
		return err
	}
	var larger []*repo.Snapshot
	for _, o := range list {
		if o.ID != sn.ID || o.Name == sn.Name || !sameSnapshot(o, sn) {
			continue
		}
		if bytes.Compare(o.Name[:], sn.Name[:]) < 0 {
			// The smaller copy's writer may have removed this one already.
			if err := c.dst.RemoveSnapshot(ctx, sn); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			*sn = *o
			return nil
		}
		larger = append(larger, o)
	}
	for _, o := range larger {
		if err := c.dst.RemoveSnapshot(ctx, o); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// pickSnapshots resolves refs against the source's snapshots, oldest first and each
// once; no refs means all of them.
func pickSnapshots(list []*repo.Snapshot, refs []string) ([]*repo.Snapshot, error) {
	if len(refs) == 0 {
		return list, nil
	}
	want := map[*repo.Snapshot]bool{}
	for _, ref := range refs {
		sn, err := FindSnapshot(list, ref)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		want[sn] = true
	}
	return slices.DeleteFunc(slices.Clone(list), func(sn *repo.Snapshot) bool { return !want[sn] }), nil
}

// sameSnapshot reports whether d is a copy of s: every field of the manifest but the
// list chunk ids (which name the chunks by each repository's key) and the object name.
func sameSnapshot(s, d *repo.Snapshot) bool {
	if s.ID != d.ID || s.Version != d.Version || s.Timestamp != d.Timestamp || !s.Time.Equal(d.Time) ||
		s.DeviceName != d.DeviceName || s.Platform != d.Platform || s.Parent != d.Parent || s.Kind != d.Kind ||
		s.Source != d.Source || s.Totals != d.Totals || !slices.Equal(s.Tags, d.Tags) ||
		!sameJSON(s.Schema, d.Schema) || !sameJSON(s.Meta, d.Meta) || len(s.Collections) != len(d.Collections) {
		return false
	}
	for i, a := range s.Collections {
		b := d.Collections[i]
		if a.Name != b.Name || a.Records != b.Records || a.Bytes != b.Bytes || a.Count != b.Count || a.Tag != b.Tag {
			return false
		}
	}
	return true
}

// sameJSON compares two JSON values as stored, ignoring insignificant space.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

func joinIDs(ids []string) string {
	if len(ids) > 5 {
		return fmt.Sprintf("%s and %d more", strings.Join(ids[:5], ", "), len(ids)-5)
	}
	return strings.Join(ids, ", ")
}

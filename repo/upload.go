package repo

import (
	"context"
	"fmt"
	"slices"

	"cairn/transport"
)

// packUploads is how many full packs upload at once while chunking goes on.
const packUploads = 2

// uploadLater uploads a full pack on its own goroutine, so hashing and compressing go
// on while it is written (and fsynced, or sent); it blocks while packUploads are
// already in flight. A failed upload makes the handle fail; Flush waits for all.
// The upload runs under the handle's upload context, not ctx: the caller's context
// may be a worker group's, which ends when the group does, long before the upload
// must; a cancelled Flush cancels the uploads (waitUploads).
// What the pack meets on its way moves auto's compression level (compressor.observe).
func (r *Repository) uploadLater(ctx context.Context, p *packWriter) error {
	select {
	case r.uploadSlots <- struct{}{}:
		if len(r.uploadSlots) == 1 {
			r.comp.observe(uploadersIdle)
		} else {
			r.comp.observe(uploadersBusy)
		}
	default:
		r.comp.observe(uploadersFull)
		select {
		case r.uploadSlots <- struct{}{}:
		case <-ctx.Done():
			return r.fail(ctx.Err())
		}
	}
	r.uploads.Add(1)
	go func() { // ends when the pack is stored or its upload fails
		defer r.uploads.Done()
		defer func() { <-r.uploadSlots }()
		r.uploadPack(r.uploadCtx, p) // failures are kept in r.failed
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// fail marks the handle unusable: chunks of a pack that did not arrive are neither
// indexed nor pending any more, so saving more through it could name lost data.
func (r *Repository) fail(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		r.failed = fmt.Errorf("repository handle unusable after a failed write, reopen it: %w", err)
	}
	return err
}

// uploadPack saves a finished pack and indexes its chunks in memory.
func (r *Repository) uploadPack(ctx context.Context, p *packWriter) error {
	data, name, err := p.finish(r.box, r.cfg.Format)
	if err != nil {
		return r.fail(err)
	}
	if err := r.save(ctx, transport.Handle{Kind: transport.Data, Name: name.String()}, data); err != nil {
		return r.fail(err)
	}
	refs := slices.Clone(p.entries)
	r.idx.add(name, refs)
	r.mu.Lock()
	r.unindex[name] = refs
	r.unindexN += len(refs)
	for _, e := range refs {
		delete(r.inflight, e.ID)
	}
	var full indexFile
	if r.unindexN >= indexFileChunks {
		full, r.unindex, r.unindexN = r.unindex, indexFile{}, 0
	}
	r.mu.Unlock()
	r.packs.put(p)
	if full != nil {
		// A long backup writes its index as it goes: what it holds for the next index
		// file stays small, and a backup cut off later has less to adopt.
		return r.writeIndex(ctx, full)
	}
	return nil
}

// waitUploads waits for the packs being uploaded. When ctx ends first, it cancels
// them, waits for them to stop, and fails the handle: what they carried may not have
// arrived.
func (r *Repository) waitUploads(ctx context.Context) error {
	done := make(chan struct{})
	go func() { // ends when the uploads do
		r.uploads.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		r.stopUploads()
		<-done
		return r.fail(ctx.Err())
	}
}

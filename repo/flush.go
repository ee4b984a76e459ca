package repo

import "context"

// Flush seals the open frame, uploads the open pack and writes an index file for every
// pack uploaded since the last flush. After Flush returns, every chunk saved before it
// is durable.
func (r *Repository) Flush(ctx context.Context) error {
	if err := r.waitUploads(ctx); err != nil {
		return err
	}
	if err := r.sealOpenFrame(ctx); err != nil {
		return err
	}
	if err := r.uploadOpenPack(ctx); err != nil {
		return err
	}
	// Sealing the last frame may have filled a pack that went to the uploaders: the
	// index file must wait for it too.
	if err := r.waitUploads(ctx); err != nil {
		return err
	}
	return r.indexUploaded(ctx)
}

// sealOpenFrame seals the repository's open frame into the open pack, unless a write
// has failed.
func (r *Repository) sealOpenFrame(ctx context.Context) error {
	r.mu.Lock()
	if r.failed != nil {
		r.mu.Unlock()
		return r.failed
	}
	f := r.frame
	r.frame = nil
	r.mu.Unlock()
	if f == nil || len(f.entries) == 0 {
		return nil
	}
	return r.sealFrame(ctx, f)
}

// uploadOpenPack uploads the open pack, full or not, on the caller's goroutine.
func (r *Repository) uploadOpenPack(ctx context.Context) error {
	r.mu.Lock()
	p := r.pack
	r.pack = nil
	r.mu.Unlock()
	if p == nil || len(p.entries) == 0 {
		return nil
	}
	return r.uploadPack(ctx, p)
}

// indexUploaded writes an index file for the packs uploaded since the last one, unless
// a write has failed.
func (r *Repository) indexUploaded(ctx context.Context) error {
	r.mu.Lock()
	if r.failed != nil {
		r.mu.Unlock()
		return r.failed
	}
	pending := r.unindex
	r.unindex, r.unindexN = indexFile{}, 0
	r.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	return r.writeIndex(ctx, pending)
}

package repo

import (
	"context"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"

	"cairn/chunk"
)

// SaveResult says what SaveChunk did.
type SaveResult struct {
	New bool // the chunk was not in the repository
}

// SaveChunk stores a chunk unless the repository already has it. data is not kept.
func (r *Repository) SaveChunk(ctx context.Context, id chunk.ID, data []byte) (SaveResult, error) {
	return r.saveChunk(ctx, id, data, false, &r.frame, r.sealFrame)
}

// saveChunk adds a chunk to the open frame *open; force skips the index check
// (repacking copies chunks the index still lists in their old packs).
func (r *Repository) saveChunk(ctx context.Context, id chunk.ID, data []byte, force bool, open **frameWriter, seal func(context.Context, *frameWriter) error) (SaveResult, error) {
	r.mu.Lock()
	isNew, err := r.claimLocked(id, force)
	var full *frameWriter
	if isNew {
		full = r.addToFrameLocked(id, data, open)
	}
	r.mu.Unlock()
	if !isNew {
		return SaveResult{}, err
	}
	if full != nil {
		if err := seal(ctx, full); err != nil {
			return SaveResult{}, err
		}
	}
	return SaveResult{New: true}, nil
}

// claimLocked marks a chunk as on its way into a pack and reports true, unless a write
// has failed (its error), the chunk is already on its way, or (without force) the
// index has it. r.mu is held.
func (r *Repository) claimLocked(id chunk.ID, force bool) (bool, error) {
	if r.failed != nil {
		return false, r.failed
	}
	if _, busy := r.inflight[id]; busy || !force && r.idx.Has(id) {
		return false, nil
	}
	r.inflight[id] = struct{}{}
	return true, nil
}

// addToFrameLocked adds a chunk to the open frame *open and returns a frame that is
// now full, to be sealed outside the lock: *open itself, or a frame of the chunk's
// own when the chunk alone fills one. r.mu is held.
func (r *Repository) addToFrameLocked(id chunk.ID, data []byte, open **frameWriter) (full *frameWriter) {
	target := r.frameSize()
	if len(data) >= target {
		// Sealed from the caller's bytes before saveChunk returns: no copy of a chunk
		// list of megabytes. Its raw bytes are full to capacity, so recycle never keeps
		// it (a later frame would append into the caller's bytes).
		return &frameWriter{raw: data[:len(data):len(data)], entries: []BlobRef{{ID: id, Raw: uint32(len(data))}}, borrowed: true}
	}
	if *open == nil {
		*open = r.newFrame()
	}
	(*open).add(id, data)
	if len((*open).raw) >= target {
		full, *open = *open, nil
	}
	return full
}

func (r *Repository) newFrame() *frameWriter {
	if f, ok := r.frames.get(); ok {
		f.raw, f.entries = f.raw[:0], f.entries[:0]
		return f
	}
	// A frame closes at the target; the chunk that crosses it is below the target, and
	// most are far below (chunk.DefaultMax): append grows the rare frame that needs more.
	return &frameWriter{raw: make([]byte, 0, r.frameCap())}
}

// frameCap is the capacity of a frame's buffers: the target and a chunk of
// chunk.DefaultMax that crosses it, and room for zstd's bound and sealing. A frame
// that needs more grows, and its buffers are not kept.
func (r *Repository) frameCap() int { return r.frameSize() + 64<<10 + r.frameSize()>>7 + 1024 }

// sealFrame compresses a frame, adds it to the open pack, and uploads the pack when
// it is full. Compression runs outside the lock, on the caller's goroutine.
func (r *Repository) sealFrame(ctx context.Context, f *frameWriter) error {
	buf, ok := r.bufs.get()
	if !ok {
		buf = new([]byte)
	}
	*buf = r.encodeFrame(f, (*buf)[:0])
	refs := f.entries
	for i := range refs {
		refs[i].Frame, refs[i].FrameLen = 0, uint32(len(*buf))
	}
	err := r.addSection(ctx, *buf, refs)
	if cap(*buf) <= r.frameCap() {
		// Not the buffer of a frame past the usual size (a chunk list of megabytes, a
		// frame of lists): it would stay idle at that size.
		r.bufs.put(buf)
	}
	r.recycle(f)
	return err
}

// recycle keeps a frame's buffer for the next frame: as many idle ones as make 1 MiB
// of 64 KiB frames, two at least, so large frames do not keep more memory idle. A
// frame of a chunk of its own (raw full to capacity: the caller's bytes) is never kept.
func (r *Repository) recycle(f *frameWriter) {
	size := r.frameSize()
	if cap(f.raw) > len(f.raw) && cap(f.raw) <= r.frameCap() && len(r.frames.c) < max(2, 16*frameTarget/size) {
		r.frames.put(f)
	}
}

// encodeFrame appends the stored form of f to dst: compressed, and sealed in an
// encrypted repository.
// The frame is compressed straight into dst and sealed where it lies.
// The level is the handle's at the time (see compressor).
func (r *Repository) encodeFrame(f *frameWriter, dst []byte) []byte {
	return r.encodeRaw(f.raw, dst, !f.borrowed)
}

// encodeRaw is encodeFrame of a frame whose raw bytes are raw; scratch says they are
// the caller's to overwrite, which a split frame needs (sealFrame).
func (r *Repository) encodeRaw(raw []byte, dst []byte, scratch bool) []byte {
	enc, l := r.comp.encoder()
	r.comp.compressed(l, len(raw))
	var values *[]byte
	if scratch && r.splitFrames() {
		var ok bool
		if values, ok = r.splitValues.get(); !ok {
			values = new([]byte)
		}
		defer r.splitValues.put(values)
	}
	if r.box == nil {
		return sealFrame(dst, raw, enc, values)
	}
	start := len(dst)
	dst = slices.Grow(dst, sealOverhead+1+len(raw)+len(raw)>>7+64)[:start+chacha20poly1305.NonceSizeX]
	dst = sealFrame(dst, raw, enc, values)
	return r.box.sealAt(dst, start, nil)
}

// addSection appends stored frames (refs' Frame offsets relative to section) to the
// open pack in one piece, and uploads the pack when it is full.
func (r *Repository) addSection(ctx context.Context, section []byte, refs []BlobRef) error {
	r.mu.Lock()
	if r.pack == nil {
		r.pack = r.newPack()
	}
	r.pack.addSection(section, refs)
	var full *packWriter
	if r.pack.size() >= r.cfg.PackSize {
		full, r.pack = r.pack, nil
	}
	r.mu.Unlock()
	if full != nil {
		return r.uploadLater(ctx, full)
	}
	return nil
}

func (r *Repository) newPack() *packWriter {
	if p, ok := r.packs.get(); ok {
		p.buf = p.buf[:headerSize]
		p.entries = p.entries[:0]
		return p
	}
	return newPackWriter(r.cfg.PackSize, r.box)
}

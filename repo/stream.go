package repo

import (
	"context"

	"cairn/chunk"
)

// A Stream saves chunks into frames of its own and adds them to the open pack in one
// piece when closed. Goroutines that each store a run of consecutive chunks (the
// backup's workers, each with a batch of a collection) keep each run contiguous in
// frames and packs that way, so a restore reading a collection in order reads long
// runs of neighbouring frames instead of hopping between interleaved ones.
type Stream struct {
	r       *Repository
	frame   *frameWriter
	section []byte    // stored frames not yet in a pack
	refs    []BlobRef // their chunks, Frame relative to section
}

// NewStream returns a stream; Close it (or Flush the repository) to store its last frame.
func (r *Repository) NewStream() *Stream { return &Stream{r: r} }

// SaveChunk is Repository.SaveChunk into the stream's frames.
func (s *Stream) SaveChunk(ctx context.Context, id chunk.ID, data []byte) (SaveResult, error) {
	return s.r.saveChunk(ctx, id, data, false, &s.frame, s.sealFrame)
}

// sealFrame encodes a full frame into the stream's section.
func (s *Stream) sealFrame(_ context.Context, f *frameWriter) error {
	off := uint32(len(s.section))
	s.section = s.r.encodeFrame(f, s.section)
	for _, e := range f.entries {
		e.Frame, e.FrameLen = off, uint32(len(s.section))-off
		s.refs = append(s.refs, e)
	}
	s.r.recycle(f)
	return nil
}

// Close adds the stream's frames, the open one included, to the repository's open
// pack. The stream can be used again afterwards.
func (s *Stream) Close(ctx context.Context) error {
	s.r.mu.Lock()
	f := s.frame
	s.frame = nil
	s.r.mu.Unlock()
	if f != nil && len(f.entries) > 0 {
		s.sealFrame(ctx, f)
	}
	if len(s.refs) == 0 {
		return nil
	}
	err := s.r.addSection(ctx, s.section, s.refs)
	s.section, s.refs = s.section[:0], s.refs[:0]
	return err
}

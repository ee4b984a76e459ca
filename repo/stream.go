package repo

import (
	"context"
	"fmt"

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
	open    []BlobRef // SaveRun: the chunks of the frame being gathered
}

// NewStream returns a stream; Close it (or Flush the repository) to store its last frame.
func (r *Repository) NewStream() *Stream { return &Stream{r: r} }

// SaveChunk is Repository.SaveChunk into the stream's frames.
func (s *Stream) SaveChunk(ctx context.Context, id chunk.ID, data []byte) (SaveResult, error) {
	return s.r.saveChunk(ctx, id, data, false, &s.frame, s.sealFrame)
}

// SaveRun stores the chunks of a run that the repository lacks, and sets isNew[i] to
// whether chunk i was new. data holds the run's chunks back to back, chunk i ending at
// ends[i] and named ids[i]. The new chunks are gathered at the front of data, in
// order, and compressed from there into frames of the stream's own, the last closed
// at the run's end; so data is scratch to SaveRun, and data is not kept. One lock
// claims the whole run. Close adds the frames to the open pack.
func (s *Stream) SaveRun(ctx context.Context, data []byte, ends []int, ids []chunk.ID, isNew []bool) error {
	if len(ends) != len(ids) || len(isNew) != len(ids) {
		return fmt.Errorf("save run: %d ends, %d ids and %d flags", len(ends), len(ids), len(isNew))
	}
	start := 0
	for i, end := range ends {
		if end < start || end > len(data) {
			return fmt.Errorf("save run: chunk %d ends at %d, outside %d to %d", i, end, start, len(data))
		}
		start = end
	}
	if err := s.claim(ids, isNew); err != nil {
		return err
	}
	// A frame left open by SaveChunk holds chunks saved before this run: it goes first.
	s.sealOpenFrame(ctx)
	target := s.r.frameSize()
	w, fstart := 0, 0 // w: end of the gathered bytes; fstart: the open frame's start in data
	start = 0
	s.open = s.open[:0]
	for i, end := range ends {
		n := end - start
		if isNew[i] {
			copy(data[w:], data[start:end])
			if n >= target {
				// A chunk of the frame target or more gets a frame of its own, after the
				// frame of the chunks before it.
				s.sealRaw(data[fstart:w])
				s.open = append(s.open[:0], BlobRef{ID: ids[i], Raw: uint32(n)})
				s.sealRaw(data[w : w+n])
				fstart = w + n
			} else {
				s.open = append(s.open, BlobRef{ID: ids[i], Offset: uint32(w - fstart), Raw: uint32(n)})
				if w+n-fstart >= target {
					s.sealRaw(data[fstart : w+n])
					fstart = w + n
				}
			}
			w += n
		}
		start = end
	}
	s.sealRaw(data[fstart:w])
	return nil
}

// claim marks the run's chunks the repository lacks as on their way into a pack,
// under one lock, and flags them in isNew.
func (s *Stream) claim(ids []chunk.ID, isNew []bool) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	for i, id := range ids {
		ok, err := s.r.claimLocked(id, false)
		if err != nil {
			// The chunks claimed so far stay on their way, as a failed SaveChunk's do:
			// the handle is unusable now.
			return err
		}
		isNew[i] = ok
	}
	return nil
}

// sealRaw encodes the frame of raw, whose chunks are s.open, into the stream's section,
// and empties s.open; it does nothing when s.open is empty.
func (s *Stream) sealRaw(raw []byte) {
	if len(s.open) == 0 {
		return
	}
	off := uint32(len(s.section))
	s.section = s.r.encodeRaw(raw, s.section, true) // SaveRun's data is scratch
	for _, e := range s.open {
		e.Frame, e.FrameLen = off, uint32(len(s.section))-off
		s.refs = append(s.refs, e)
	}
	s.open = s.open[:0]
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

// sealOpenFrame seals the frame the stream has open, if it holds chunks.
func (s *Stream) sealOpenFrame(ctx context.Context) {
	s.r.mu.Lock()
	f := s.frame
	s.frame = nil
	s.r.mu.Unlock()
	if f != nil && len(f.entries) > 0 {
		s.sealFrame(ctx, f)
	}
}

// Close adds the stream's frames, the open one included, to the repository's open
// pack. The stream can be used again afterwards.
func (s *Stream) Close(ctx context.Context) error {
	s.sealOpenFrame(ctx)
	if len(s.refs) == 0 {
		return nil
	}
	err := s.r.addSection(ctx, s.section, s.refs)
	s.section, s.refs = s.section[:0], s.refs[:0]
	return err
}

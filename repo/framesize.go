package repo

// largeFrameTarget is the frame target of repositories whose readers take offsets in a
// frame up to 2^20 (format 2 on): a run of new chunks compresses together up to 1 MiB,
// which stores the generator's workload 9-10% smaller than 64 KiB frames at the
// same level (cmd/cairnbench -compression-study). A format 1 repository keeps
// frameTarget: its readers refuse offsets in a frame of 2^16 or more.
const largeFrameTarget = 1 << 20

// largeFrames reports whether this repository's format lets frames pass frameTarget.
func (r *Repository) largeFrames() bool { return r.cfg.Format >= 2 }

// frameSize is the raw size at which this repository closes a frame: in format 2,
// largeFrameTarget, but at most a quarter of the pack size (never below frameTarget),
// so that packs of a small configured size still close near it.
func (r *Repository) frameSize() int {
	if r.largeFrames() {
		return min(largeFrameTarget, max(frameTarget, r.cfg.PackSize/4))
	}
	return frameTarget
}

// FrameTarget is the raw size at which this repository closes a frame (frameSize): a
// writer that cuts its data into runs for Stream.SaveRun makes runs of about this size,
// so that a run's frames are full ones.
func (r *Repository) FrameTarget() int { return r.frameSize() }

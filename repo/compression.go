package repo

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// Level is how hard a handle compresses the frames it writes: CompressionAuto (the
// default) picks a zstd level per pack from what bounds the run, the others fix one.
type Level int

// The compression levels a backup or copy can ask for.
const (
	CompressionAuto Level = iota
	CompressionFastest
	CompressionDefault
	CompressionMax
)

var levelNames = [...]string{"auto", "fastest", "default", "max"}

func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level %d", int(l))
}

// ParseLevel reads auto, fastest, default or max.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if s == n {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("compression %q: want auto, fastest, default or max", s)
}

// zlevel is a zstd encoder level a frame is compressed at, in the order auto moves
// through them: the first is the fastest.
type zlevel int32

const (
	zFastest zlevel = iota
	zDefault
	zBetter
	zBest
	zlevels
)

var zlevelNames = [zlevels]string{"fastest", "default", "better", "best"}

var zlevelEncoder = [zlevels]zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression}

// fixedLevel is the zstd level a fixed Level compresses at.
func (l Level) fixed() (zlevel, bool) {
	switch l {
	case CompressionFastest:
		return zFastest, true
	case CompressionDefault:
		return zDefault, true
	case CompressionMax:
		return zBest, true
	}
	return 0, false
}

// CompressionOptions say how a handle compresses from now on.
type CompressionOptions struct {
	Level Level
}

// CompressionTotals say how the frames of a run were compressed. They are comparable,
// as the manifest's totals are.
type CompressionTotals struct {
	Level  string     `json:"level"`     // what was asked for: auto, fastest, default or max
	Picked string     `json:"picked"`    // the zstd level that compressed the most raw bytes
	Raw    LevelBytes `json:"raw_bytes"` // raw bytes compressed at each zstd level
	now    string     // the level frames are compressed at now
}

// LevelBytes are raw bytes by zstd level.
type LevelBytes struct {
	Fastest int64 `json:"fastest,omitempty"`
	Default int64 `json:"default,omitempty"`
	Better  int64 `json:"better,omitempty"`
	Best    int64 `json:"best,omitempty"`
}

func (b *LevelBytes) at(l zlevel) *int64 {
	return [zlevels]*int64{&b.Fastest, &b.Default, &b.Better, &b.Best}[l]
}

// Since is what happened after before, taken from the same handle.
func (t CompressionTotals) Since(before CompressionTotals) CompressionTotals {
	out := CompressionTotals{Level: t.Level, now: t.now}
	for l := range zlevels {
		*out.Raw.at(l) = max(0, *t.Raw.at(l)-*before.Raw.at(l))
	}
	out.pick()
	out.now = ""
	return out
}

// pick sets Picked: the level with the most raw bytes, or the level frames are
// compressed at now when there are none.
func (t *CompressionTotals) pick() {
	t.Picked = t.now
	var most int64
	for l := range zlevels {
		if n := *t.Raw.at(l); n > most {
			most, t.Picked = n, zlevelNames[l]
		}
	}
}

// WithCompression sets how the handle compresses the frames it writes (auto at the
// default level when not given).
func WithCompression(c CompressionOptions) Option { return func(o *options) { o.comp = c } }

// compressor holds a handle's zstd encoders, one per level, made when first used (each
// compresses up to encoderConcurrency frames at once), the level frames are compressed
// at now and the raw bytes compressed at each level.
type compressor struct {
	window int

	mu  sync.Mutex
	enc [zlevels]*zstd.Encoder
	opt CompressionOptions

	level atomic.Int32 // a zlevel
	raw   [zlevels]atomic.Int64

	onObserve func(uploadWait) // for tests: called after each observation
}

// encoderConcurrency is how many frames (or objects: index files, manifests) an
// encoder compresses at once: one per processor, four at most. Each of them holds a window's history and its tables (about
// 2 MiB with 1 MiB frames) from its first frame on, and zstd hands them out in turn,
// so one more than the goroutines that can run costs that memory for nothing.
func encoderConcurrency() int { return min(4, runtime.GOMAXPROCS(0)) }

func newCompressor(frameSize int) *compressor {
	return &compressor{window: max(1<<18, frameSize)}
}

// set says how frames are compressed from now on: fixed levels stay, auto starts at
// zstd's default level, restic's choice for every repository. Every byte stored
// crosses a link now or later (a remote repository, a copy, each restore on a new
// machine), and on a local disk the default level still backs up within borg's time
// at lz4 (BENCHMARKS.md): the fastest level saves CPU nobody waits for.
func (c *compressor) set(o CompressionOptions) {
	l, ok := o.Level.fixed()
	if !ok {
		l = zDefault
	}
	c.mu.Lock()
	c.opt = o
	c.mu.Unlock()
	c.level.Store(int32(l))
}

// encoder returns the encoder of the current level, and that level.
func (c *compressor) encoder() (*zstd.Encoder, zlevel) {
	l := zlevel(c.level.Load())
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.enc[l] == nil {
		// The window first: set after the level, it would leave the level's smaller
		// blocks, and a frame just over a block would be split in two. No xxhash of
		// each frame: every chunk read back is checked against its BLAKE3 id, and an
		// encrypted frame is authenticated; the hash cost CPU time on every byte. Not
		// zstd's lower-memory mode: its history is then grown frame by frame, and the
		// pages that costs took a first backup 5-7% longer (its system time 0.70 s
		// against 0.51 at the default level), for no lower peak.
		enc, err := zstd.NewWriter(nil, zstd.WithWindowSize(c.window), zstd.WithEncoderLevel(zlevelEncoder[l]),
			zstd.WithEncoderConcurrency(encoderConcurrency()), zstd.WithEncoderCRC(false))
		if err != nil {
			panic(fmt.Sprintf("zstd encoder at level %s: %v", zlevelNames[l], err)) // the options are constants
		}
		c.enc[l] = enc
	}
	return c.enc[l], l
}

// compressed counts n raw bytes compressed at level l.
func (c *compressor) compressed(l zlevel, n int) { c.raw[l].Add(int64(n)) }

// uploadWait is what a full pack met on its way to the uploaders.
type uploadWait int

const (
	uploadersIdle uploadWait = iota // none was busy: they waited for compression
	uploadersBusy                   // some were busy, a slot was free
	uploadersFull                   // every slot was busy: compression waited for them
)

// observe moves auto's level by one per pack: up when compression waited for the
// uploaders (the link bounds the run and affords more CPU per byte), down when the
// uploaders waited for compression, but never below the default level.
func (c *compressor) observe(w uploadWait) {
	c.mu.Lock()
	auto := c.opt.Level == CompressionAuto
	c.mu.Unlock()
	if !auto {
		return
	}
	const floor = zDefault
	l := zlevel(c.level.Load())
	switch {
	case w == uploadersFull && l < zlevels-1:
		c.level.CompareAndSwap(int32(l), int32(l+1))
	case w == uploadersIdle && l > floor:
		c.level.CompareAndSwap(int32(l), int32(l-1))
	}
	if c.onObserve != nil {
		c.onObserve(w)
	}
}

// totals reports every frame compressed so far.
func (c *compressor) totals() CompressionTotals {
	c.mu.Lock()
	t := CompressionTotals{Level: c.opt.Level.String(), now: zlevelNames[c.level.Load()]}
	c.mu.Unlock()
	for l := range zlevels {
		*t.Raw.at(l) = c.raw[l].Load()
	}
	t.pick()
	return t
}

// SetCompression sets how the frames written from now on are compressed.
func (r *Repository) SetCompression(o CompressionOptions) { r.comp.set(o) }

// CompressionTotals says how the frames written through this handle were compressed;
// Since gives one run's share.
func (r *Repository) CompressionTotals() CompressionTotals { return r.comp.totals() }

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/zstd"

	"cairn/chunk"
	"cairn/engine"
	"cairn/engine/gendb"
	"cairn/repo"
	"cairn/transport/local"
)

// The compression study backs a generated database up once, reads its new chunks back
// in the order the backup stored them, and compresses them again on one core for each
// frame size, zstd level and with or without a dictionary trained on samples of the
// data, as cairn's frames would hold them. After a second backup of the database with
// a share of its records changed, it also counts the restore's read amplification: the
// raw bytes of every frame the later snapshot needs, over the bytes of its chunks.

// studyLevel is one zstd level of the study.
type studyLevel struct {
	name  string
	level zstd.EncoderLevel
}

var studyLevels = []studyLevel{
	{"fastest", zstd.SpeedFastest},
	{"default", zstd.SpeedDefault},
	{"better", zstd.SpeedBetterCompression},
	{"best", zstd.SpeedBestCompression}, // without a dictionary only: it is slow
}

var studyFrames = []int{64 << 10, 256 << 10, 1 << 20}

func runCompressionStudy(size int64, fraction float64, work string, seed int64) error {
	ctx := context.Background()
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	db := filepath.Join(work, "db")
	gs, err := gendb.Generate(db, gendb.Options{Size: size, Seed: seed})
	if err != nil {
		return err
	}
	be, err := local.Create(filepath.Join(work, "repo"))
	if err != nil {
		return err
	}
	cfg, err := repo.NewConfig(time.Now())
	if err != nil {
		return err
	}
	r, err := repo.Init(ctx, be, cfg)
	if err != nil {
		return err
	}
	first, err := newChunks(ctx, r, db, nil)
	if err != nil {
		return err
	}
	_, err = gendb.Mutate(db, gendb.Mutation{Fraction: fraction, Seed: seed + 1})
	if err != nil {
		return err
	}
	second, err := newChunks(ctx, r, db, first.seen)
	if err != nil {
		return err
	}
	var raw int64
	for _, c := range first.data {
		raw += int64(len(c))
	}
	fmt.Printf("Database: %s generated (%d records); %d chunks, %s of new chunk bytes. Then %.1f%% of records changed: %d new chunks.\n\n",
		human(gs.Bytes), gs.Records, len(first.data), human(raw), 100*fraction, len(second.data))

	t0 := time.Now()
	d, err := trainDictionary(first.data)
	if err != nil {
		return err
	}
	fmt.Printf("Dictionary: %s, trained in %s on 4 KiB samples from each MiB.\n\n", human(int64(len(d))), time.Since(t0).Round(time.Millisecond))

	fmt.Println("| frames of | level | dictionary | stored | ratio | compress MB/s (1 core) | decompress MB/s | restore after incremental, raw decoded / needed: whole, each collection alone |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, target := range studyFrames {
		frames := frameRuns(first.data, target)
		whole, single := amplification(first, second, target)
		for _, lv := range studyLevels {
			for _, withDict := range []bool{false, true} {
				if withDict && lv.level == zstd.SpeedBestCompression {
					continue
				}
				var dd []byte
				if withDict {
					dd = d
				}
				res, err := compressFrames(frames, target, lv.level, dd)
				if err != nil {
					return err
				}
				name := "none"
				if withDict {
					name = "trained"
				}
				fmt.Printf("| %s | %s | %s | %s | %.3f | %.0f | %.0f | %.3f, %.3f |\n", human(int64(target)), lv.name, name,
					human(res.stored), float64(res.stored)/float64(raw), float64(raw)/1e6/res.enc.Seconds(),
					float64(raw)/1e6/res.dec.Seconds(), whole, single)
			}
		}
	}
	return studyBackups(ctx, db, work)
}

// studyBackups backs the (changed) database up into a fresh repository at each
// --compression level, through cairn's own write path on every core: bytes stored,
// wall time and what auto picked.
func studyBackups(ctx context.Context, db, work string) error {
	fmt.Println()
	fmt.Printf("Backups through cairn's write path (%d cores, frames of the repository's format):\n\n", runtime.GOMAXPROCS(0))
	fmt.Println("| --compression | picked | stored | wall | MB/s |")
	fmt.Println("|---|---|---|---|---|")
	for _, l := range []repo.Level{repo.CompressionAuto, repo.CompressionFastest, repo.CompressionDefault, repo.CompressionMax} {
		dir := filepath.Join(work, "repo-"+l.String())
		be, err := local.Create(dir)
		if err != nil {
			return err
		}
		cfg, err := repo.NewConfig(time.Now())
		if err != nil {
			return err
		}
		if _, err := repo.Init(ctx, be, cfg); err != nil {
			return err
		}
		r, err := repo.Open(ctx, be, repo.WithCompression(repo.CompressionOptions{Level: l}))
		if err != nil {
			return err
		}
		runtime.GC()
		start := time.Now()
		sn, err := engine.Backup(ctx, r, engine.FolderSource{Dir: db}, engine.BackupOptions{})
		if err != nil {
			return err
		}
		wall := time.Since(start)
		fmt.Printf("| %s | %s | %s | %s | %.0f |\n", l, sn.Totals.Compression.Picked, human(sn.Totals.StoredBytes),
			wall.Round(time.Millisecond), float64(sn.Totals.RawBytes)/1e6/wall.Seconds())
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// studyChunks are the new chunks of one backup, in the order of its collections.
type studyChunks struct {
	ids  []chunk.ID
	data [][]byte
	seen map[chunk.ID]bool // these and every earlier backup's
	cols [][]chunk.ID      // the snapshot's chunks by collection, in order
}

func newChunks(ctx context.Context, r *repo.Repository, db string, seen map[chunk.ID]bool) (*studyChunks, error) {
	sn, err := engine.Backup(ctx, r, engine.FolderSource{Dir: db}, engine.BackupOptions{})
	if err != nil {
		return nil, err
	}
	cols, err := r.Resolve(ctx, sn)
	if err != nil {
		return nil, err
	}
	out := &studyChunks{seen: map[chunk.ID]bool{}}
	for id := range seen {
		out.seen[id] = true
	}
	for _, c := range cols {
		out.cols = append(out.cols, c.Chunks)
		for _, id := range c.Chunks {
			if !out.seen[id] {
				out.seen[id] = true
				out.ids = append(out.ids, id)
			}
		}
	}
	out.data = make([][]byte, len(out.ids))
	err = r.LoadChunks(ctx, out.ids, func(i int, data []byte) error {
		out.data[i] = append([]byte(nil), data...)
		return nil
	})
	return out, err
}

// frameRuns groups chunks as cairn's frames do: a chunk of target bytes or more alone,
// the others together until a frame reaches target.
func frameRuns(chunks [][]byte, target int) [][]byte {
	var frames [][]byte
	var open []byte
	for _, c := range chunks {
		if len(c) >= target {
			frames = append(frames, c)
			continue
		}
		open = append(open, c...)
		if len(open) >= target {
			frames, open = append(frames, open), nil
		}
	}
	if len(open) > 0 {
		frames = append(frames, open)
	}
	return frames
}

// frameOf maps each chunk to the frame frameRuns puts it in, and gives each frame's
// raw length.
func frameOf(chunks [][]byte, ids []chunk.ID, target int, where map[chunk.ID]int, lens []int) []int {
	open := 0
	for i, c := range chunks {
		if len(c) >= target {
			lens = append(lens, len(c))
			where[ids[i]] = len(lens) - 1
			continue
		}
		if open == 0 {
			lens = append(lens, 0)
		}
		where[ids[i]] = len(lens) - 1
		lens[len(lens)-1] += len(c)
		open += len(c)
		if open >= target {
			open = 0
		}
	}
	return lens
}

// amplification is the raw bytes of the frames a restore of the second snapshot
// decodes, over the raw bytes of its distinct chunks: for the whole snapshot, and
// summed over restores of each collection alone.
func amplification(first, second *studyChunks, target int) (whole, single float64) {
	where := map[chunk.ID]int{}
	lens := frameOf(first.data, first.ids, target, where, nil)
	lens = frameOf(second.data, second.ids, target, where, lens)
	size := map[chunk.ID]int{}
	for i, id := range first.ids {
		size[id] = len(first.data[i])
	}
	for i, id := range second.ids {
		size[id] = len(second.data[i])
	}
	restore := func(cols [][]chunk.ID) (needed, decoded int64) {
		frames := map[int]bool{}
		done := map[chunk.ID]bool{}
		for _, col := range cols {
			for _, id := range col {
				if done[id] {
					continue
				}
				done[id] = true
				needed += int64(size[id])
				if f := where[id]; !frames[f] {
					frames[f] = true
					decoded += int64(lens[f])
				}
			}
		}
		return needed, decoded
	}
	n, d := restore(second.cols)
	var sn, sd int64
	for _, col := range second.cols {
		n, d := restore([][]chunk.ID{col})
		sn, sd = sn+n, sd+d
	}
	return float64(d) / float64(n), float64(sd) / float64(sn)
}

// trainDictionary trains a zstd dictionary on 4 KiB from each MiB of the chunks.
func trainDictionary(chunks [][]byte) ([]byte, error) {
	var samples [][]byte
	var pos, next int
	for _, c := range chunks {
		if pos >= next {
			samples = append(samples, c[:min(len(c), 4<<10)])
			next += 1 << 20
		}
		pos += len(c)
	}
	return dict.BuildZstdDict(samples, dict.Options{MaxDictSize: 112 << 10, HashBytes: 6, ZstdLevel: zstd.SpeedFastest})
}

type studyResult struct {
	stored   int64
	enc, dec time.Duration
}

// compressFrames compresses and decompresses every frame on one goroutine.
// The window is the frame size, 256 KiB at least, as cairn's encoders have it.
func compressFrames(frames [][]byte, target int, level zstd.EncoderLevel, d []byte) (studyResult, error) {
	eopts := []zstd.EOption{zstd.WithWindowSize(max(1<<18, target)), zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true)}
	dopts := []zstd.DOption{zstd.WithDecoderConcurrency(1)}
	if d != nil {
		eopts = append(eopts, zstd.WithEncoderDict(d))
		dopts = append(dopts, zstd.WithDecoderDicts(d))
	}
	enc, err := zstd.NewWriter(nil, eopts...)
	if err != nil {
		return studyResult{}, err
	}
	defer enc.Close()
	dec, err := zstd.NewReader(nil, dopts...)
	if err != nil {
		return studyResult{}, err
	}
	defer dec.Close()
	runtime.GC()
	var res studyResult
	stored := make([][]byte, len(frames))
	start := time.Now()
	for i, f := range frames {
		stored[i] = enc.EncodeAll(f, nil)
		res.stored += int64(min(len(stored[i]), len(f)) + 1)
	}
	res.enc = time.Since(start)
	var buf []byte
	start = time.Now()
	for _, s := range stored {
		if buf, err = dec.DecodeAll(s, buf[:0]); err != nil {
			return res, err
		}
	}
	res.dec = time.Since(start)
	return res, nil
}

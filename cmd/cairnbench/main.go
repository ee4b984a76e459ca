// Command cairnbench measures cairn's chunking trade-off on the generator's workload:
// for each average chunk size it backs up a generated database, changes a fraction of
// its records, backs it up again, and reports the new bytes, chunk count, index size
// and speed as a markdown table.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"cairn/engine"
	"cairn/engine/gendb"
	"cairn/repo"
	"cairn/transport/local"
)

func main() {
	size := flag.String("size", "512MiB", "database size")
	averages := flag.String("averages", "1KiB,2KiB,4KiB,8KiB,16KiB,64KiB", "average chunk sizes to compare")
	fraction := flag.Float64("fraction", 0.01, "share of records edited, inserted or deleted between the backups")
	work := flag.String("work", filepath.Join(os.TempDir(), "cairnbench"), "scratch folder (emptied first)")
	seed := flag.Int64("seed", 1, "generator seed")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the backups to this file")
	api := flag.Bool("api", false, "measure database import and export through cairn serve instead")
	restServer := flag.String("rest-server", "bin/rest-server", "the rest-server binary, with -peers")
	resticBin := flag.String("restic", "bin/restic", "the restic binary, with -peers")
	cairn := flag.String("cairn", "bin/cairn", "the cairn binary, with -api and -peers")
	peersMode := flag.Bool("peers", false, "compare cairn, restic, borg and kopia on the same database instead")
	borgBin := flag.String("borg", "borg", "the borg binary, with -peers")
	kopiaBin := flag.String("kopia", "", "the kopia binary, with -peers: adds kopia, on a local repository (empty: none)")
	minioBin := flag.String("minio", "", "the MinIO binary, with -peers: adds cairn to MinIO (empty: none)")
	runs := flag.Int("runs", 5, "runs per tool, with -peers")
	seriesFlag := flag.String("series", "64MiB,256MiB,1GiB,2GiB", "database sizes of cairn's size series, with -peers (empty: none)")
	study := flag.Bool("compression-study", false, "compare frame sizes, zstd levels and a trained dictionary on the generated database instead")
	flag.Parse()
	if *study {
		size, err := parseSize(*size)
		if err == nil {
			err = runCompressionStudy(size, *fraction, *work, *seed)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "cairnbench:", err)
			os.Exit(1)
		}
		return
	}
	if *peersMode {
		size, err := parseSize(*size)
		if err == nil {
			var series []int64
			for _, f := range strings.FieldsFunc(*seriesFlag, func(r rune) bool { return r == ',' }) {
				v, perr := parseSize(f)
				if perr != nil {
					err = perr
				}
				series = append(series, v)
			}
			if err == nil {
				err = runPeers(*cairn, *resticBin, *borgBin, *kopiaBin, *restServer, *minioBin, size, *runs, series, *work, *seed)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "cairnbench:", err)
			os.Exit(1)
		}
		return
	}
	if *api {
		size, err := parseSize(*size)
		if err == nil {
			err = runAPI(*cairn, size, *work, *seed)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "cairnbench:", err)
			os.Exit(1)
		}
		return
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cairnbench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*size, *averages, *fraction, *work, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "cairnbench:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		s string
		m int64
	}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}} {
		if strings.HasSuffix(t, u.s) {
			t, mult = strings.TrimSuffix(t, u.s), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(v * float64(mult)), nil
}

type result struct {
	average               int
	chunks                int
	indexBytes            int64
	initial, incremental  time.Duration
	initialStored         int64
	newRaw, stored, manif int64
	changed               int64
	rawBytes              int64
}

func run(sizeStr, averagesStr string, fraction float64, work string, seed int64) error {
	ctx := context.Background()
	size, err := parseSize(sizeStr)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	db := filepath.Join(work, "db")
	t0 := time.Now()
	gs, err := gendb.Generate(db, gendb.Options{Size: size, Seed: seed})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generated %d records, %d bytes in %s\n", gs.Records, gs.Bytes, time.Since(t0).Round(time.Millisecond))

	var avgs []int
	for _, a := range strings.Split(averagesStr, ",") {
		v, err := parseSize(a)
		if err != nil {
			return err
		}
		avgs = append(avgs, int(v))
	}
	results := make([]*result, len(avgs))
	repos := make([]*repo.Repository, len(avgs))
	for i, avg := range avgs {
		be, err := local.Create(filepath.Join(work, fmt.Sprintf("repo-%d", avg)))
		if err != nil {
			return err
		}
		cfg, err := repo.NewConfig(time.Now())
		if err != nil {
			return err
		}
		cfg.Chunking.Average = avg
		cfg.Chunking.Max = max(cfg.Chunking.Max, 16*avg)
		r, err := repo.Init(ctx, be, cfg)
		if err != nil {
			return err
		}
		runtime.GC()
		start := time.Now()
		sn, err := engine.Backup(ctx, r, engine.FolderSource{Dir: db}, engine.BackupOptions{})
		if err != nil {
			return err
		}
		results[i] = &result{average: avg, initial: time.Since(start), chunks: r.Index().Len(), indexBytes: r.Index().MemoryBytes(), initialStored: r.BytesWritten(), rawBytes: sn.Totals.RawBytes}
		repos[i] = r
		fmt.Fprintf(os.Stderr, "average %d: initial backup %s\n", avg, results[i].initial.Round(time.Millisecond))
	}
	ms, err := gendb.Mutate(db, gendb.Mutation{Fraction: fraction, Seed: seed + 1})
	if err != nil {
		return err
	}
	for i, r := range repos {
		before := r.BytesWritten()
		runtime.GC()
		start := time.Now()
		sn, err := engine.Backup(ctx, r, engine.FolderSource{Dir: db}, engine.BackupOptions{})
		if err != nil {
			return err
		}
		res := results[i]
		res.incremental = time.Since(start)
		// The figures count only if the repository is sound.
		if cr, err := engine.Check(ctx, r, engine.CheckOptions{}); err != nil || !cr.OK() {
			return fmt.Errorf("average %d: check after the backups: %v %v", res.average, err, cr.Errors)
		}
		res.newRaw = sn.Totals.NewRawBytes
		res.stored = r.BytesWritten() - before
		res.manif = res.stored - sn.Totals.StoredBytes
		res.changed = ms.ChangedBytes
	}
	fmt.Printf("Database: %s generated (%d records), then %.1f%% of records changed (%d edited, %d inserted, %d deleted; changed records %s).\n\n",
		human(gs.Bytes), gs.Records, 100*fraction, ms.Edited, ms.Inserted, ms.Deleted, human(ms.ChangedBytes))
	fmt.Println("| average chunk | chunks | index in memory | bytes/chunk | initial backup | MB/s | stored | incremental | new chunk bytes (x changed) | written by incremental (x changed) | of which manifest |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Printf("| %s | %d | %s | %.0f | %s | %.0f | %s | %s | %s (%.2fx) | %s (%.2fx) | %s |\n",
			human(int64(r.average)), r.chunks, human(r.indexBytes), float64(r.indexBytes)/float64(r.chunks),
			r.initial.Round(time.Millisecond), float64(r.rawBytes)/1e6/r.initial.Seconds(), human(r.initialStored),
			r.incremental.Round(time.Millisecond), human(r.newRaw), float64(r.newRaw)/float64(r.changed),
			human(r.stored), float64(r.stored)/float64(r.changed), human(r.manif))
	}
	return nil
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"cairn/chunk"
	"cairn/repo"
)

func statsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "stats",
		Usage:     "show sizes and dedup and compression ratios of the repository or of one snapshot",
		ArgsUsage: "[SNAPSHOT]",
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 0, 1, "[SNAPSHOT]"); err != nil {
				return err
			}
			r, snaps, err := e.openSnapshots(c.Context)
			if err != nil {
				return err
			}
			if c.Args().Len() == 1 {
				sn, err := loadSnapshot(c.Context, r, c.Args().First())
				if err != nil {
					return err
				}
				snaps = []*repo.Snapshot{sn}
			}
			var st struct {
				Snapshots      int     `json:"snapshots"`
				RawBytes       int64   `json:"raw_bytes"`        // sum over snapshots
				UniqueRawBytes int64   `json:"unique_raw_bytes"` // raw bytes of the distinct chunks they need
				StoredBytes    int64   `json:"stored_bytes"`     // stored size of those chunks
				Chunks         int     `json:"chunks"`           // distinct chunks
				PackBytes      int64   `json:"pack_bytes"`       // all packs in the repository
				IndexMemory    int64   `json:"index_memory"`     // bytes of the in-memory index
				IndexPerChunk  float64 `json:"index_bytes_per_chunk"`
				DedupRatio     float64 `json:"dedup_ratio"`       // raw / unique raw
				CompressRatio  float64 `json:"compression_ratio"` // unique raw / stored
			}
			st.Snapshots = len(snaps)
			seen := map[chunk.ID]bool{}
			for _, sn := range snaps {
				cols, err := r.Resolve(c.Context, sn)
				if err != nil {
					return err
				}
				for _, col := range cols {
					st.RawBytes += col.Bytes
					for _, id := range col.Chunks {
						if seen[id] {
							continue
						}
						seen[id] = true
						if loc, ok := r.Index().Lookup(id); ok {
							st.UniqueRawBytes += int64(loc.Raw)
						}
					}
				}
			}
			st.Chunks = len(seen)
			packs, err := r.Packs(c.Context)
			if err != nil {
				return err
			}
			for _, size := range packs {
				st.PackBytes += size
			}
			// Chunks are compressed in frames, so a chunk's stored size is its share of
			// the packs: unique raw bytes scaled by the repository's compression.
			var allRaw int64
			r.Index().Each(func(_ chunk.ID, loc repo.Location) { allRaw += int64(loc.Raw) })
			if allRaw > 0 {
				st.StoredBytes = int64(float64(st.UniqueRawBytes) * float64(st.PackBytes) / float64(allRaw))
			}
			st.IndexMemory = r.Index().MemoryBytes()
			if n := r.Index().Len(); n > 0 {
				st.IndexPerChunk = float64(st.IndexMemory) / float64(n)
			}
			if st.UniqueRawBytes > 0 {
				st.DedupRatio = float64(st.RawBytes) / float64(st.UniqueRawBytes)
			}
			if st.StoredBytes > 0 {
				st.CompressRatio = float64(st.UniqueRawBytes) / float64(st.StoredBytes)
			}
			if e.opts.JSON {
				return printJSON(e.stdout, st)
			}
			w := e.stdout
			fmt.Fprintf(w, "snapshots          %d\n", st.Snapshots)
			fmt.Fprintf(w, "total size         %s\n", humanBytes(st.RawBytes))
			fmt.Fprintf(w, "unique data        %s in %d chunks\n", humanBytes(st.UniqueRawBytes), st.Chunks)
			fmt.Fprintf(w, "stored             %s (packs in repository: %s)\n", humanBytes(st.StoredBytes), humanBytes(st.PackBytes))
			fmt.Fprintf(w, "dedup ratio        %.2fx\n", st.DedupRatio)
			fmt.Fprintf(w, "compression ratio  %.2fx\n", st.CompressRatio)
			fmt.Fprintf(w, "index in memory    %s (%.1f bytes per chunk)\n", humanBytes(st.IndexMemory), st.IndexPerChunk)
			return nil
		},
	}
}

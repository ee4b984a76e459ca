package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"cairn/engine"
)

type pruneOptions struct {
	MaxUnused float64
	DryRun    bool
}

func pruneCommand(e *env) *cli.Command {
	var o pruneOptions
	return &cli.Command{
		Name:      "prune",
		Usage:     "delete chunks no snapshot needs and repack mostly-unused packs",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.Float64Flag{Name: "max-unused", Usage: "repack packs whose unused share exceeds this (0..1)", Value: 0.5, Destination: &o.MaxUnused},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "say what would be freed, change nothing", Destination: &o.DryRun},
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 0, 0, ""); err != nil {
				return err
			}
			if mu := o.MaxUnused; mu <= 0 || mu > 1 {
				return usagef("--max-unused must be in (0, 1]")
			}
			r, err := e.openRepo(c.Context)
			if err != nil {
				return err
			}
			st, err := engine.Prune(c.Context, r, engine.PruneOptions{MaxUnused: o.MaxUnused, DryRun: o.DryRun, Progress: e.progress()})
			if err != nil {
				return err
			}
			if e.opts.JSON {
				return printJSON(e.stdout, st)
			}
			printPrune(e, st, o.DryRun)
			return nil
		},
	}
}

func printPrune(e *env, st engine.PruneStats, dry bool) {
	verb, deleted, removed := "freed", "deleted", "removed"
	if dry {
		verb, deleted, removed = "would free", "to delete", "would remove"
	}
	if p := st.Pending; p.Records > 0 {
		fmt.Fprintf(e.stdout, "earlier prunes: %d packs %s, %d kept for snapshots written since; %d of %d batches still wait for running backups\n",
			p.PacksDeleted, deleted, p.Revived, p.Waiting, p.Records)
	}
	if st.Pending.StaleLocks > 0 {
		fmt.Fprintf(e.stdout, "%s %d locks left by crashed operations\n", removed, st.Pending.StaleLocks)
	}
	fmt.Fprintf(e.stdout, "%d packs: %d unused, %d repacked (%d chunks copied), all taken off the index and deleted by the next prune; %d live chunks, %d unused\n",
		st.Packs, st.PacksRemoved, st.PacksRepacked, st.ChunksCopied, st.ChunksLive, st.ChunksUnused)
	fmt.Fprintf(e.stdout, "%s %s of %s unused (raw); packs %s -> %s\n", verb, humanBytes(st.BytesFreed), humanBytes(st.BytesUnused), humanBytes(st.StoredBefore), humanBytes(st.StoredAfter))
}

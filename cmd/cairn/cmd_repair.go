package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"cairn/engine"
)

func repairCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "repair",
		Usage:     "rebuild the index from the packs themselves (after lost or damaged index files)",
		ArgsUsage: " ",
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 0, 0, ""); err != nil {
				return err
			}
			r, err := e.openRepo(c.Context)
			if err != nil {
				return err
			}
			prog := e.progress()
			st, err := r.RebuildIndex(c.Context, func(done, total int) {
				if prog != nil {
					prog.Report(engine.Event{Phase: engine.PhaseCheck, ItemsDone: int64(done), ItemsTotal: int64(total)})
				}
			})
			if err != nil {
				return err
			}
			if e.opts.JSON {
				return printJSON(e.stdout, st)
			}
			fmt.Fprintf(e.stdout, "read %d packs, indexed %d chunks, replaced %d index files\n", st.Packs, st.Chunks, st.IndexRemoved)
			for _, p := range st.Damaged {
				fmt.Fprintf(e.stderr, "damaged: pack %s (only its chunks that verified are indexed)\n", p[:16])
			}
			if st.ChunksLost > 0 {
				fmt.Fprintf(e.stderr, "%d chunks of damaged packs could not be read; cairn check names the snapshots that need them\n", st.ChunksLost)
			}
			return nil
		},
	}
}

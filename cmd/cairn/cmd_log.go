package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"cairn/engine"
)

func logCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "log",
		Usage:     "show a record's versions across the snapshots of the whole database",
		ArgsUsage: "COLLECTION ID",
		Description: `Lists, oldest first, each whole-database snapshot that holds the record and whether
it was added, changed or unchanged since the snapshot before; and the first snapshot
without it after one with it, as removed. HASH is the BLAKE3 hash of the record's
bytes: equal hashes are equal versions.`,
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 2, 2, "COLLECTION ID"); err != nil {
				return err
			}
			collection, id := c.Args().Get(0), c.Args().Get(1)
			if collection == "" || id == "" {
				return usagef("log: COLLECTION and ID must not be empty")
			}
			r, list, err := e.openSnapshots(c.Context)
			if err != nil {
				return err
			}
			versions, err := engine.History(c.Context, r, list, collection, id)
			if err != nil {
				return err
			}
			if e.opts.JSON {
				return printJSON(e.stdout, map[string]any{"collection": collection, "id": id, "versions": versions})
			}
			tw := newTable(e.stdout)
			fmt.Fprintln(tw, "SNAPSHOT\tTIME\tCHANGE\tSIZE\tHASH")
			for _, v := range versions {
				size, hash := humanBytes(v.Bytes), v.Hash
				if len(hash) > 16 {
					hash = hash[:16]
				}
				if v.Change == engine.Removed {
					size, hash = "-", "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Snapshot, v.Time.Local().Format(time.DateTime), v.Change, size, hash)
			}
			return tw.Flush()
		},
	}
}

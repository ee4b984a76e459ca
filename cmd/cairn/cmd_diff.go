package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"cairn/engine"
)

type diffOptions struct{ Records bool }

func diffCommand(e *env) *cli.Command {
	var o diffOptions
	return &cli.Command{
		Name:      "diff",
		Usage:     "show the records added, removed and changed between two snapshots",
		ArgsUsage: "OLD NEW",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "records", Usage: "list every changed record", Destination: &o.Records}},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 2, 2, "OLD NEW"); err != nil {
				return err
			}
			r, err := e.openRepo(c.Context)
			if err != nil {
				return err
			}
			a, err := loadSnapshot(c.Context, r, c.Args().Get(0))
			if err != nil {
				return err
			}
			b, err := loadSnapshot(c.Context, r, c.Args().Get(1))
			if err != nil {
				return err
			}
			diffs, err := engine.Diff(c.Context, r, a, b)
			if err != nil {
				return err
			}
			if e.opts.JSON {
				if !o.Records {
					for i := range diffs {
						diffs[i].Records = nil
					}
				}
				return printJSON(e.stdout, map[string]any{"old": a.ID, "new": b.ID, "collections": diffs})
			}
			fmt.Fprintf(e.stdout, "comparing %s with %s\n", a.ID, b.ID)
			if len(diffs) == 0 {
				fmt.Fprintln(e.stdout, "no differences")
				return nil
			}
			tw := newTable(e.stdout)
			fmt.Fprintln(tw, "COLLECTION\tADDED\tREMOVED\tCHANGED")
			for _, d := range diffs {
				fmt.Fprintf(tw, "%s\t+%d (%s)\t-%d (%s)\t~%d (%s)\n", d.Name, d.Added, humanBytes(d.AddedBytes), d.Removed, humanBytes(d.RemovedBytes), d.Changed, humanBytes(d.ChangedBytes))
			}
			tw.Flush()
			if o.Records {
				marks := map[string]string{engine.Added: "+", engine.Removed: "-", engine.Changed: "M"}
				for _, d := range diffs {
					for _, rc := range d.Records {
						fmt.Fprintf(e.stdout, "%s %s/%s\n", marks[rc.Change], d.Name, rc.ID)
					}
				}
			}
			return nil
		},
	}
}

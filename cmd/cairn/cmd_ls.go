package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"cairn/engine"
)

func lsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list the collections of a snapshot, or the records of one collection",
		ArgsUsage: "SNAPSHOT [COLLECTION]",
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 2, "SNAPSHOT [COLLECTION]"); err != nil {
				return err
			}
			r, err := e.openRepo(c.Context)
			if err != nil {
				return err
			}
			sn, err := loadSnapshot(c.Context, r, c.Args().Get(0))
			if err != nil {
				return err
			}
			asJSON := e.opts.JSON
			if c.Args().Len() == 1 {
				type row struct {
					Name    string `json:"name"`
					Records int64  `json:"records"`
					Bytes   int64  `json:"bytes"`
					Chunks  int    `json:"chunks"`
				}
				rows := []row{}
				tw := newTable(e.stdout)
				fmt.Fprintln(tw, "COLLECTION\tRECORDS\tSIZE\tCHUNKS")
				for _, col := range sn.Collections {
					rows = append(rows, row{col.Name, col.Records, col.Bytes, col.Count})
					fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", col.Name, col.Records, humanBytes(col.Bytes), col.Count)
				}
				if asJSON {
					return printJSON(e.stdout, rows)
				}
				return tw.Flush()
			}
			col, err := engine.Collection(sn, c.Args().Get(1))
			if err != nil {
				return err
			}
			type rec struct {
				ID    string `json:"id"`
				Bytes int    `json:"bytes"`
			}
			recs := []rec{}
			tw := newTable(e.stdout)
			if !asJSON {
				fmt.Fprintln(tw, "ID\tSIZE")
			}
			err = engine.Records(c.Context, r, col, func(b []byte) error {
				id := engine.RecordID(b)
				if asJSON {
					recs = append(recs, rec{id, len(b)})
					return nil
				}
				_, err := fmt.Fprintf(tw, "%s\t%s\n", id, humanBytes(int64(len(b))))
				return err
			})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e.stdout, recs)
			}
			return tw.Flush()
		},
	}
}

package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"cairn/engine"
)

func findRecordsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "find",
		Usage:     "find records by id or text in every snapshot",
		ArgsUsage: "TEXT",
		Description: `Lists the records whose id holds TEXT, or whose JSON does, ignoring case, with the
snapshots that hold them (oldest first). At most ` + fmt.Sprint(engine.MaxFound) + ` records are listed. Each chunk
is read once, however many snapshots share it.`,
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 1, "TEXT"); err != nil {
				return err
			}
			text := c.Args().First()
			if text == "" {
				return usagef("find: TEXT is empty")
			}
			r, list, err := e.openSnapshots(c.Context)
			if err != nil {
				return err
			}
			res, err := engine.Find(c.Context, r, list, text)
			if err != nil {
				return err
			}
			if e.opts.JSON {
				return printJSON(e.stdout, res)
			}
			if len(res.Records) == 0 {
				fmt.Fprintf(e.stdout, "no record matches %q\n", text)
				return nil
			}
			tw := newTable(e.stdout)
			fmt.Fprintln(tw, "COLLECTION\tID\tSNAPSHOTS\tFIRST\tLAST")
			for _, f := range res.Records {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", f.Collection, printable(f.ID), len(f.Snapshots), f.First, f.Last)
			}
			tw.Flush()
			if res.Truncated {
				fmt.Fprintf(e.stdout, "more records match: only the first %d are listed; narrow TEXT down\n", engine.MaxFound)
			}
			return nil
		},
	}
}

// printable quotes an id holding characters that would garble a table row.
func printable(id string) string {
	if strings.ContainsFunc(id, func(r rune) bool { return r < ' ' || r == '\t' || r == 0x7f }) {
		return fmt.Sprintf("%q", id)
	}
	return id
}

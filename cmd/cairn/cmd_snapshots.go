package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

type snapshotsOptions struct{ Tags cli.StringSlice }

func snapshotsCommand(e *env) *cli.Command {
	var o snapshotsOptions
	return &cli.Command{
		Name:      "snapshots",
		Usage:     "list snapshots, oldest first",
		ArgsUsage: " ",
		Flags:     []cli.Flag{&cli.StringSliceFlag{Name: "tag", Usage: "only snapshots with this tag", Destination: &o.Tags}},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 0, 0, ""); err != nil {
				return err
			}
			_, list, err := e.openSnapshots(c.Context)
			if err != nil {
				return err
			}
			tags := o.Tags.Value()
			out := make([]map[string]any, 0, len(list))
			tw := newTable(e.stdout)
			fmt.Fprintln(tw, "ID\tTIME\tDEVICE\tKIND\tSIZE\tSTORED\tTAGS")
			for _, sn := range list {
				if !hasAll(sn.Tags, tags) {
					continue
				}
				out = append(out, snapshotJSON(sn, nil))
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sn.ID, sn.Time.Local().Format("2006-01-02 15:04:05"), sn.DeviceName, sn.Kind,
					humanBytes(sn.Totals.RawBytes), humanBytes(sn.Totals.StoredBytes), strings.Join(sn.Tags, ","))
			}
			if e.opts.JSON {
				return printJSON(e.stdout, out)
			}
			tw.Flush()
			fmt.Fprintf(e.stdout, "%d snapshots\n", len(out))
			return nil
		},
	}
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

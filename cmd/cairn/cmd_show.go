package main

import (
	"fmt"
	"strings"

	"cairn/repo"

	"github.com/urfave/cli/v2"
)

type showOptions struct{ Chunks bool }

func showCommand(e *env) *cli.Command {
	var o showOptions
	return &cli.Command{
		Name:      "show",
		Usage:     "show one snapshot's manifest",
		ArgsUsage: "SNAPSHOT",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "chunks", Usage: "with --json, list every chunk id", Destination: &o.Chunks}},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 1, "SNAPSHOT"); err != nil {
				return err
			}
			r, err := e.openRepo(c.Context)
			if err != nil {
				return err
			}
			sn, err := loadSnapshot(c.Context, r, c.Args().First())
			if err != nil {
				return err
			}
			if e.opts.JSON {
				var resolved []repo.ResolvedCollection
				if o.Chunks {
					if resolved, err = r.Resolve(c.Context, sn); err != nil {
						return err
					}
				}
				return printJSON(e.stdout, snapshotJSON(sn, resolved))
			}
			w := e.stdout
			t := sn.Totals
			fmt.Fprintf(w, "snapshot   %s\n", sn.ID)
			fmt.Fprintf(w, "manifest   %s\n", sn.Name)
			fmt.Fprintf(w, "time       %s\n", sn.Time.Local().Format("2006-01-02 15:04:05.000 MST"))
			fmt.Fprintf(w, "version    %s\n", sn.Version)
			fmt.Fprintf(w, "device     %s (%s)\n", sn.DeviceName, sn.Platform)
			fmt.Fprintf(w, "kind       %s\n", sn.Kind)
			if sn.Parent != "" {
				fmt.Fprintf(w, "parent     %s\n", sn.Parent)
			}
			if len(sn.Tags) > 0 {
				fmt.Fprintf(w, "tags       %s\n", strings.Join(sn.Tags, ", "))
			}
			fmt.Fprintf(w, "source     %s\n", sn.Source)
			fmt.Fprintf(w, "size       %s in %d records\n", humanBytes(t.RawBytes), t.Records)
			fmt.Fprintf(w, "new data   %s in %d chunks (%d reused)\n", humanBytes(t.NewRawBytes), t.ChunksNew, t.ChunksReused)
			fmt.Fprintf(w, "stored     %s, sent %s, received %s\n", humanBytes(t.StoredBytes), humanBytes(t.BytesSent), humanBytes(t.BytesReceived))
			fmt.Fprintf(w, "duration   %s\n\n", humanDuration(t.Duration()))
			tw := newTable(w)
			fmt.Fprintln(tw, "COLLECTION\tRECORDS\tSIZE\tCHUNKS")
			for _, col := range sn.Collections {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", col.Name, col.Records, humanBytes(col.Bytes), col.Count)
			}
			return tw.Flush()
		},
	}
}

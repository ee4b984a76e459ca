package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"cairn/engine"
	"cairn/repo"
)

type restoreOptions struct {
	Target, Exported string
	Collections      cli.StringSlice
}

func restoreCommand(e *env) *cli.Command {
	var o restoreOptions
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore a snapshot into a new folder of collections or an ExportedDatabase file",
		ArgsUsage: "SNAPSHOT",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Usage: "new (or empty) folder to write <collection>.jsonl files into", Destination: &o.Target},
			&cli.StringFlag{Name: "exported", Usage: "file to write an ExportedDatabase JSON document into", Destination: &o.Exported},
			&cli.StringSliceFlag{Name: "collection", Usage: "restore only this collection (repeatable)", Destination: &o.Collections},
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 1, "SNAPSHOT --target DIR | --exported FILE"); err != nil {
				return err
			}
			target, file := o.Target, o.Exported
			if (target == "") == (file == "") {
				return usagef("restore: give exactly one of --target DIR or --exported FILE")
			}
			r, err := e.openRepo(c.Context, repo.WithLock("restore"))
			if err != nil {
				return err
			}
			sn, err := loadSnapshot(c.Context, r, c.Args().First())
			if err != nil {
				return err
			}
			var sink engine.Sink
			if target != "" {
				sink, err = engine.NewFolderSink(target)
			} else {
				sink, err = engine.NewExportedSink(file)
			}
			if err != nil {
				return err
			}
			opt := engine.RestoreOptions{Collections: o.Collections.Value(), Progress: e.progress()}
			read0 := r.BytesRead()
			if err := engine.Restore(c.Context, r, sn, sink, opt); err != nil {
				return err
			}
			dest := target
			if dest == "" {
				dest = file
			}
			if e.opts.JSON {
				return printJSON(e.stdout, map[string]any{"snapshot": sn.ID, "target": dest, "bytes": sn.Totals.RawBytes, "bytes_received": r.BytesRead() - read0})
			}
			fmt.Fprintf(e.stdout, "restored %s (%s) to %s\n", sn.ID, humanBytes(sn.Totals.RawBytes), dest)
			return nil
		},
	}
}

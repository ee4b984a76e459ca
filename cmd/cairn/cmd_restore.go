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
	Records          cli.StringSlice // COLLECTION/ID, with IntoDatabase
	IntoDatabase     bool
	Data             string // the data folder whose database IntoDatabase writes
}

func restoreCommand(e *env) *cli.Command {
	var o restoreOptions
	return &cli.Command{
		Name:      "restore",
		Usage:     "restore a snapshot into a new folder of collections or an ExportedDatabase file, or chosen records into the database",
		ArgsUsage: "SNAPSHOT",
		Description: `With --record COLLECTION/ID (repeatable) and --into-database, merges just those
records, as the snapshot holds them, into the live database of the data folder
(--data): every other record stays as it is, and if the snapshot lacks any of them
nothing is written. When a cairn serve runs on that database (its file is locked),
the records go through the daemon's API, at the address it keeps in serve.addr in
the data folder, and the snapshot is looked up in the daemon's repository; otherwise
the database file is opened directly and the snapshot read from --repo (or the data
folder's own repository).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Usage: "new (or empty) folder to write <collection>.jsonl files into", Destination: &o.Target},
			&cli.StringFlag{Name: "exported", Usage: "file to write an ExportedDatabase JSON document into", Destination: &o.Exported},
			&cli.StringSliceFlag{Name: "collection", Usage: "restore only this collection (repeatable)", Destination: &o.Collections},
			&cli.StringSliceFlag{Name: "record", Usage: "merge this record, COLLECTION/ID, into the database (repeatable; needs --into-database)", Destination: &o.Records},
			&cli.BoolFlag{Name: "into-database", Usage: "merge the --record records into the live database", Destination: &o.IntoDatabase},
			&cli.StringFlag{Name: "data", Usage: "data folder of the database --into-database writes", Value: defaultDataDir(), EnvVars: []string{"CAIRN_DATA"}, Destination: &o.Data},
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 1, "SNAPSHOT --target DIR | --exported FILE"); err != nil {
				return err
			}
			target, file := o.Target, o.Exported
			if len(o.Records.Value()) > 0 || o.IntoDatabase {
				return e.restoreRecordsCommand(c, o)
			}
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

// restoreRecordsCommand runs restore --record ... --into-database.
func (e *env) restoreRecordsCommand(c *cli.Context, o restoreOptions) error {
	switch {
	case !o.IntoDatabase:
		return usagef("restore: --record merges into the live database: add --into-database")
	case len(o.Records.Value()) == 0:
		return usagef("restore: --into-database needs the records to merge: --record COLLECTION/ID")
	case o.Target != "" || o.Exported != "" || len(o.Collections.Value()) > 0:
		return usagef("restore: --record goes with --into-database only, not with --target, --exported or --collection")
	}
	refs, err := parseRecordRefs(o.Records.Value())
	if err != nil {
		return err
	}
	done, id, via, err := e.restoreRecords(c.Context, o.Data, c.Args().First(), refs)
	if err != nil {
		return err
	}
	if e.opts.JSON {
		return printJSON(e.stdout, map[string]any{"snapshot": id, "restored": done, "daemon": via})
	}
	through := ""
	if via != "" {
		through = " through cairn serve at " + via
	}
	for _, ref := range done {
		fmt.Fprintf(e.stdout, "restored %s from %s%s\n", printable(ref.String()), id, through)
	}
	return nil
}

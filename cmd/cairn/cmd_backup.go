package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/urfave/cli/v2"

	"cairn/engine"
	"cairn/repo"
)

type backupOptions struct {
	Tags             cli.StringSlice
	Device, Platform string
	ReadAll          bool
	StdinCollection  string
	FromCommand      bool
	Compression      string
}

func backupCommand(e *env) *cli.Command {
	host, _ := os.Hostname()
	var o backupOptions
	return &cli.Command{
		Name:  "backup",
		Usage: "back up a database export (a folder of <collection>.jsonl, or an ExportedDatabase .json file), from a path, standard input or a command",
		UsageText: "cairn backup [options] SOURCE                       a folder or an ExportedDatabase file\n" +
			"cairn backup [options] -                            an ExportedDatabase document on standard input\n" +
			"cairn backup [options] --stdin-collection NAME -    the JSONL of collection NAME on standard input\n" +
			"cairn backup [options] --stdin-from-command -- COMMAND [ARGS...]\n" +
			"                                                    what COMMAND prints (an ExportedDatabase, or with\n" +
			"                                                    --stdin-collection one collection); fails if COMMAND fails",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "tag", Usage: "add a tag (repeatable)", Destination: &o.Tags},
			&cli.StringFlag{Name: "device", Usage: "device name recorded in the snapshot", Value: host, Destination: &o.Device},
			&cli.StringFlag{Name: "platform", Usage: "platform recorded in the snapshot", Value: platformName(), Destination: &o.Platform},
			&cli.BoolFlag{Name: "read-all", Usage: "read every collection file, even those whose size, times and inode say unchanged since the parent snapshot", Destination: &o.ReadAll},
			&cli.StringFlag{Name: "stdin-collection", Usage: "standard input (or the command's output) holds the JSONL of this one collection", Destination: &o.StdinCollection},
			&cli.BoolFlag{Name: "stdin-from-command", Usage: "run the command given after -- and back up what it prints; a failing command saves no snapshot", Destination: &o.FromCommand},
			compressionFlag(&o.Compression),
		},
		Action: func(c *cli.Context) error {
			setGCPercent(gcBackup)
			src, err := o.source(c, e)
			if err != nil {
				return err
			}
			comp, err := compressionFor(o.Compression)
			if err != nil {
				return err
			}
			r, err := e.openRepo(c.Context, repo.WithLock("backup"), comp)
			if err != nil {
				return err
			}
			sn, err := engine.Backup(c.Context, r, src, engine.BackupOptions{
				Tags:       o.Tags.Value(),
				DeviceName: o.Device,
				Platform:   o.Platform,
				Progress:   e.progress(),
				ReadAll:    o.ReadAll,
			})
			if err != nil {
				return err
			}
			if e.opts.JSON {
				return printJSON(e.stdout, snapshotJSON(sn, nil))
			}
			t := sn.Totals
			fmt.Fprintf(e.stdout, "snapshot %s saved\n", sn.ID)
			fmt.Fprintf(e.stdout, "  %d collections (%d unchanged, not read), %d records, %s\n", len(sn.Collections), t.CollectionsUnchanged, t.Records, humanBytes(t.RawBytes))
			fmt.Fprintf(e.stdout, "  chunks: %d new, %d reused; new data %s\n", t.ChunksNew, t.ChunksReused, humanBytes(t.NewRawBytes))
			fmt.Fprintf(e.stdout, "  stored %s; sent %s, received %s; took %s\n", humanBytes(t.StoredBytes), humanBytes(t.BytesSent), humanBytes(t.BytesReceived), humanDuration(t.Duration()))
			fmt.Fprintf(e.stdout, "  %s\n", compressionLine(t.Compression))
			return nil
		},
	}
}

// source is what the arguments name: a command's output, standard input, or a path.
func (o *backupOptions) source(c *cli.Context, e *env) (engine.Source, error) {
	args := c.Args().Slice()
	switch {
	case o.FromCommand:
		if len(args) == 0 {
			return nil, usagef("backup: usage: cairn backup --stdin-from-command -- COMMAND [ARGS...]")
		}
		return commandSource{argv: args, collection: o.StdinCollection, stderr: e.stderr}, nil
	case len(args) != 1:
		return nil, usagef("backup: usage: cairn backup SOURCE | - | --stdin-from-command -- COMMAND [ARGS...]")
	case args[0] == "-":
		if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
			return nil, usagef("backup -: standard input is a terminal; pipe a database export in (curl -s localhost:1000/database/export | cairn backup -)")
		}
		return streamSource(e.stdin, o.StdinCollection, "stdin"), nil
	case o.StdinCollection != "":
		return nil, usagef("backup: --stdin-collection names what standard input or a command holds: give - or --stdin-from-command")
	}
	return sourceFor(args[0])
}

// sourceFor picks the source kind from what the path is.
func sourceFor(path string) (engine.Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("backup source: %w", err)
	}
	if fi.IsDir() {
		return engine.FolderSource{Dir: path}, nil
	}
	return engine.ExportedFile(path), nil
}

func platformName() string {
	switch runtime.GOOS {
	case "darwin":
		return "MACOS"
	case "windows":
		return "WINDOWS"
	case "linux":
		return "LINUX"
	}
	return "UNKNOWN"
}

// snapshotJSON is the --json form of a snapshot; chunk ids when resolved is not nil
// (sn's collections from Repository.Resolve).
func snapshotJSON(sn *repo.Snapshot, resolved []repo.ResolvedCollection) map[string]any {
	cols := make([]map[string]any, len(sn.Collections))
	for i, c := range sn.Collections {
		m := map[string]any{"name": c.Name, "records": c.Records, "bytes": c.Bytes, "chunks": c.Count, "list": c.List.String()}
		if resolved != nil {
			ids := make([]string, len(resolved[i].Chunks))
			for j, id := range resolved[i].Chunks {
				ids[j] = id.String()
			}
			m["chunk_ids"] = ids
		}
		cols[i] = m
	}
	return map[string]any{
		"id": sn.ID, "manifest": sn.Name.String(), "version": sn.Version, "timestamp": sn.Timestamp,
		"time": sn.Time, "device_name": sn.DeviceName, "platform": sn.Platform, "parent": sn.Parent,
		"tags": nonNil(sn.Tags), "kind": sn.Kind, "source": sn.Source, "collections": cols, "totals": sn.Totals,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

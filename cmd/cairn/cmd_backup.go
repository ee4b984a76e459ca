package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/urfave/cli/v2"

	"cairn/engine"
	"cairn/repo"
)

func backupCommand(e *env) *cli.Command {
	host, _ := os.Hostname()
	return &cli.Command{
		Name:      "backup",
		Usage:     "back up a database export (a folder of <collection>.jsonl, or an ExportedDatabase .json file)",
		ArgsUsage: "SOURCE",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "tag", Usage: "add a tag (repeatable)"},
			&cli.StringFlag{Name: "device", Usage: "device name recorded in the snapshot", Value: host},
			&cli.StringFlag{Name: "platform", Usage: "platform recorded in the snapshot", Value: platformName()},
			&cli.BoolFlag{Name: "read-all", Usage: "read every collection file, even those whose size, times and inode say unchanged since the parent snapshot"},
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 1, "SOURCE"); err != nil {
				return err
			}
			src, err := sourceFor(c.Args().First())
			if err != nil {
				return err
			}
			r, err := openRepo(c, repo.WithMarker("backup"))
			if err != nil {
				return err
			}
			sn, err := engine.Backup(c.Context, r, src, engine.BackupOptions{
				Tags:       c.StringSlice("tag"),
				DeviceName: c.String("device"),
				Platform:   c.String("platform"),
				Progress:   e.progress(c.Bool("json"), c.Bool("no-progress")),
				ReadAll:    c.Bool("read-all"),
			})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(e.stdout, snapshotJSON(sn, nil))
			}
			t := sn.Totals
			fmt.Fprintf(e.stdout, "snapshot %s saved\n", sn.ID)
			fmt.Fprintf(e.stdout, "  %d collections (%d unchanged, not read), %d records, %s\n", len(sn.Collections), t.CollectionsUnchanged, t.Records, humanBytes(t.RawBytes))
			fmt.Fprintf(e.stdout, "  chunks: %d new, %d reused; new data %s\n", t.ChunksNew, t.ChunksReused, humanBytes(t.NewRawBytes))
			fmt.Fprintf(e.stdout, "  stored %s; sent %s, received %s; took %s\n", humanBytes(t.StoredBytes), humanBytes(t.BytesSent), humanBytes(t.BytesReceived), humanDuration(t.Duration()))
			return nil
		},
	}
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

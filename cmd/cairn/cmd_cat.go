package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"cairn/chunk"
	"cairn/engine"
	"cairn/repo"
)

var errFound = errors.New("found")

func catCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "cat",
		Usage: "print one record of a snapshot, or a repository object",
		UsageText: "cairn cat SNAPSHOT COLLECTION RECORD-ID   one record, as stored\n" +
			"cairn cat config                          the repository config\n" +
			"cairn cat snapshot SNAPSHOT               a manifest, as JSON\n" +
			"cairn cat pack NAME                       the chunks a pack holds\n" +
			"cairn cat chunk ID                        a chunk's raw bytes",
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				return usagef("cat: usage: cairn cat SNAPSHOT COLLECTION RECORD-ID | config | snapshot ID | pack NAME | chunk ID")
			}
			r, err := e.openRepo(c.Context)
			if err != nil {
				return err
			}
			switch {
			case args[0] == "config" && len(args) == 1:
				return printJSON(e.stdout, r.Config())
			case args[0] == "snapshot" && len(args) == 2:
				sn, err := loadSnapshot(c.Context, r, args[1])
				if err != nil {
					return err
				}
				return printJSON(e.stdout, sn)
			case args[0] == "pack" && len(args) == 2:
				name, err := repo.ParseObjectID(args[1])
				if err != nil {
					return usagef("cat pack: %v", err)
				}
				_, refs, err := r.LoadPack(c.Context, name)
				if err != nil {
					return err
				}
				type ref struct {
					ID       string `json:"id"`
					Frame    uint32 `json:"frame"`
					FrameLen uint32 `json:"frame_length"`
					Offset   uint32 `json:"offset"`
					Length   uint32 `json:"length"`
				}
				out := make([]ref, len(refs))
				for i, b := range refs {
					out[i] = ref{b.ID.String(), b.Frame, b.FrameLen, b.Offset, b.Raw}
				}
				return printJSON(e.stdout, out)
			case args[0] == "chunk" && len(args) == 2:
				id, err := chunk.ParseID(args[1])
				if err != nil {
					return usagef("cat chunk: %v", err)
				}
				data, err := r.LoadChunk(c.Context, id, nil)
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(data)
				return err
			case len(args) == 3:
				sn, err := loadSnapshot(c.Context, r, args[0])
				if err != nil {
					return err
				}
				col, err := engine.Collection(sn, args[1])
				if err != nil {
					return err
				}
				var found []byte
				err = engine.Records(c.Context, r, col, func(rec []byte) error {
					if engine.RecordID(rec) == args[2] {
						found = append([]byte(nil), rec...)
						return errFound
					}
					return nil
				})
				if err != nil && !errors.Is(err, errFound) {
					return err
				}
				if found == nil {
					return fmt.Errorf("snapshot %s collection %s has no record %q: %w", sn.ID, col.Name, args[2], repo.ErrNotFound)
				}
				if e.opts.JSON && json.Valid(found) {
					var v any
					_ = json.Unmarshal(found, &v)
					return printJSON(e.stdout, v)
				}
				_, err = e.stdout.Write(found)
				return err
			}
			return usagef("cat: usage: cairn cat SNAPSHOT COLLECTION RECORD-ID | config | snapshot ID | pack NAME | chunk ID")
		},
	}
}

package main

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport/location"
)

// copyOptions are the flags of cairn copy.
type copyOptions struct {
	To           string // the target's location
	PasswordFile string // the target's password file
	Compression  string // the level new data is compressed at in the target
}

func copyCommand(e *env) *cli.Command {
	var o copyOptions
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy snapshots to another repository (its own password and keys), sending only what it lacks",
		ArgsUsage: "[SNAPSHOT...]",
		Description: `Copies the given snapshots (ids, unique prefixes or "latest"; all when none are
given) from the repository of --repo to the one at --to, for a second copy of the
backups elsewhere (a 3-2-1 setup). The target is an existing repository (cairn init
--repo LOCATION) with its own password, master key and chunking secrets: each chunk
keeps the source's boundaries and is named by the target's keyed hash, and only the
chunks the target lacks are sent.

A snapshot the target already holds (same id and same manifest) is skipped, so running
copy again sends no chunk and writes nothing. A copy that was cut off sends none of the
packs that arrived when run again. The target is remembered (pinned) like any
repository, and written under a backup lock; the source is read under a lock too.

The target's password comes from --to-password-file, CAIRN_TO_PASSWORD_FILE or
CAIRN_TO_PASSWORD, or is asked on the terminal; the source's from --password-file as
usual.

Exit codes: 0 copied (or nothing to copy); 1 failure, such as an unknown snapshot or
a target holding another snapshot under a copied id (nothing is copied then); 2 no
--to, a location that cannot be parsed, or another bad argument; 4 --repo or --to is
not a cairn repository; 5 a password is missing or wrong, or a repository is not the
one seen at its location before.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the target repository's `LOCATION` (a path, local:PATH, rest:URL or s3:URL), created with cairn init", EnvVars: []string{"CAIRN_TO_REPOSITORY"}, Destination: &o.To},
			&cli.StringFlag{Name: "to-password-file", Usage: "read the target repository's password from this `FILE` (first line); else CAIRN_TO_PASSWORD", EnvVars: []string{"CAIRN_TO_PASSWORD_FILE"}, Destination: &o.PasswordFile},
			compressionFlag(&o.Compression),
		},
		Action: func(c *cli.Context) error {
			setGCPercent(gcBackup)
			if o.To == "" {
				return usagef("copy: no target: pass --to LOCATION or set CAIRN_TO_REPOSITORY")
			}
			if _, err := location.Parse(o.To); err != nil {
				return usagef("copy: --to: %v", err)
			}
			if o.To == e.opts.Repo {
				return usagef("copy: --to names the source repository")
			}
			comp, err := compressionFor(o.Compression)
			if err != nil {
				return err
			}
			src, err := e.openRepo(c.Context, repo.WithLock("copy"))
			if err != nil {
				return err
			}
			dst, err := e.openTarget(c.Context, o, comp)
			if err != nil {
				return err
			}
			if src.Config().ID == dst.Config().ID {
				return usagef("copy: --to %s is the source repository", o.To)
			}
			comp0 := dst.CompressionTotals()
			st, err := engine.Copy(c.Context, src, dst, engine.CopyOptions{
				Snapshots: c.Args().Slice(),
				Progress:  e.progress(),
			})
			if err != nil {
				return err
			}
			return printCopy(e, e.opts.JSON, o.To, st, dst.CompressionTotals().Since(comp0))
		},
	}
}

// openTarget opens the repository at --to with its own password, pinned like any
// repository, under a backup lock; the run releases it at the end.
func (e *env) openTarget(ctx context.Context, o copyOptions, extra ...repo.Option) (*repo.Repository, error) {
	pw := os.Getenv("CAIRN_TO_PASSWORD")
	if o.PasswordFile != "" {
		var err error
		if pw, err = readPasswordFile(o.PasswordFile); err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
	}
	r, err := e.openAt(ctx, o.To, pw, "target repository password", "pass --to-password-file, set CAIRN_TO_PASSWORD, or run on a terminal", append([]repo.Option{repo.WithLock("backup")}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	return r, nil
}

func printCopy(e *env, asJSON bool, to string, st engine.CopyStats, comp repo.CompressionTotals) error {
	if asJSON {
		return printJSON(e.stdout, map[string]any{
			"target": to, "copied": nonNil(st.Copied), "skipped": nonNil(st.Skipped),
			"snapshots_copied": len(st.Copied), "snapshots_skipped": len(st.Skipped),
			"chunks_sent": st.ChunksSent, "chunks_present": st.ChunksPresent,
			"bytes_read": st.BytesRead, "new_bytes": st.NewBytes,
			"bytes_sent": st.BytesSent, "bytes_received": st.BytesReceived, "packs_adopted": st.Adopted,
			"compression": comp,
		})
	}
	for _, id := range st.Copied {
		fmt.Fprintf(e.stdout, "snapshot %s copied\n", id)
	}
	fmt.Fprintf(e.stdout, "copied %d snapshots to %s, skipped %d already there\n", len(st.Copied), to, len(st.Skipped))
	fmt.Fprintf(e.stdout, "  chunks: %d sent, %d already there; new data %s of %s read\n", st.ChunksSent, st.ChunksPresent, humanBytes(st.NewBytes), humanBytes(st.BytesRead))
	fmt.Fprintf(e.stdout, "  sent %s, received %s", humanBytes(st.BytesSent), humanBytes(st.BytesReceived))
	if st.Adopted > 0 {
		fmt.Fprintf(e.stdout, "; %d packs of an earlier cut-off run kept", st.Adopted)
	}
	fmt.Fprintln(e.stdout)
	fmt.Fprintf(e.stdout, "  %s\n", compressionLine(comp))
	return nil
}

package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"cairn/repo"
	"cairn/transport/location"
)

type initOptions struct {
	ChunkAverage, PackSize string
	NoEncryption           bool
	Format                 int
	KDF                    kdfOptions
}

func initCommand(e *env) *cli.Command {
	var o initOptions
	return &cli.Command{
		Name:      "init",
		Usage:     "create a new repository",
		ArgsUsage: " ",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "chunk-average", Usage: "target average chunk size", Value: "1KiB", Destination: &o.ChunkAverage},
			&cli.StringFlag{Name: "pack-size", Usage: "target pack file size", Value: "4MiB", Destination: &o.PackSize},
			&cli.IntFlag{Name: "format", Usage: "repository format: 3 (128-bit chunk ids, compact metadata, pack tables without ids), or 2 or 1 for builds of cairn older than format 3 or 2 to read", Value: repo.FormatVersion, Destination: &o.Format},
			&cli.BoolFlag{Name: "no-encryption", Usage: "store everything unencrypted (anyone who can read the repository can read the snippets)", Destination: &o.NoEncryption},
		}, kdfFlags(&o.KDF)...),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 0, 0, ""); err != nil {
				return err
			}
			loc := e.opts.Repo
			if loc == "" {
				return usagef("no repository: pass --repo or set CAIRN_REPOSITORY")
			}
			cfg, err := repo.NewConfig(time.Now())
			if err != nil {
				return err
			}
			avg, err := parseSize(o.ChunkAverage)
			if err != nil {
				return usagef("--chunk-average: %v", err)
			}
			pack, err := parseSize(o.PackSize)
			if err != nil {
				return usagef("--pack-size: %v", err)
			}
			if o.Format < 1 || o.Format > repo.FormatVersion {
				return usagef("--format: %d is not a repository format this build writes (1 to %d)", o.Format, repo.FormatVersion)
			}
			cfg.Chunking.Average, cfg.PackSize, cfg.Format = int(avg), int(pack), o.Format
			if cfg.Chunking.Max < 16*cfg.Chunking.Average {
				cfg.Chunking.Max = max(cfg.Chunking.Max, 16*cfg.Chunking.Average)
			}
			opts := e.pinOptions() // init pins what it creates, replacing an older pin
			if !o.NoEncryption {
				kdf, err := o.KDF.params()
				if err != nil {
					return err
				}
				pw, err := e.givenPassword(c.Context)
				if err != nil {
					return err
				}
				if pw == "" {
					if pw, err = promptPassword("password for the new repository", true); errors.Is(err, repo.ErrPasswordNeeded) {
						return usagef("no password for the new repository: pass --password-file or --password-command, set CAIRN_PASSWORD, or run on a terminal (--no-encryption stores it unencrypted)")
					} else if err != nil {
						return err
					}
				}
				cfg.Encryption = repo.EncryptionXChaCha
				opts = append(opts, repo.WithPassword(pw, kdf))
			}
			be, err := location.Create(c.Context, loc, e.locationOptions())
			if err != nil {
				return err
			}
			defer be.Close()
			r, err := repo.Init(c.Context, be, cfg, opts...)
			if err != nil {
				return err
			}
			if e.opts.JSON {
				return printJSON(e.stdout, map[string]any{"id": cfg.ID, "location": r.Location(), "config": cfg})
			}
			mode := "encrypted"
			if !r.Encrypted() {
				mode = "UNENCRYPTED"
			}
			fmt.Fprintf(e.stdout, "created %s repository %s at %s\n", mode, cfg.ID[:8], r.Location())
			if r.Encrypted() {
				fmt.Fprintln(e.stdout, "keep the password safe: without it the backups cannot be read")
			}
			return nil
		},
	}
}

package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"cairn/repo"
	"cairn/transport/location"
)

func initCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create a new repository",
		ArgsUsage: " ",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "chunk-average", Usage: "target average chunk size", Value: "1KiB"},
			&cli.StringFlag{Name: "pack-size", Usage: "target pack file size", Value: "4MiB"},
			&cli.BoolFlag{Name: "no-encryption", Usage: "store everything unencrypted (anyone who can read the repository can read the snippets)"},
		}, kdfFlags...),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 0, 0, ""); err != nil {
				return err
			}
			loc := c.String("repo")
			if loc == "" {
				return usagef("no repository: pass --repo or set CAIRN_REPOSITORY")
			}
			cfg, err := repo.NewConfig(time.Now())
			if err != nil {
				return err
			}
			avg, err := parseSize(c.String("chunk-average"))
			if err != nil {
				return usagef("--chunk-average: %v", err)
			}
			pack, err := parseSize(c.String("pack-size"))
			if err != nil {
				return usagef("--pack-size: %v", err)
			}
			cfg.Chunking.Average, cfg.PackSize = int(avg), int(pack)
			if cfg.Chunking.Max < 16*cfg.Chunking.Average {
				cfg.Chunking.Max = max(cfg.Chunking.Max, 16*cfg.Chunking.Average)
			}
			opts := pinOptions(c) // init pins what it creates, replacing an older pin
			if !c.Bool("no-encryption") {
				kdf, err := kdfParams(c)
				if err != nil {
					return err
				}
				pw, err := givenPassword(c)
				if err != nil {
					return err
				}
				if pw == "" {
					if pw, err = promptPassword("password for the new repository", true); errors.Is(err, repo.ErrPasswordNeeded) {
						return usagef("no password for the new repository: pass --password-file, set CAIRN_PASSWORD, or run on a terminal (--no-encryption stores it unencrypted)")
					} else if err != nil {
						return err
					}
				}
				cfg.Encryption = repo.EncryptionXChaCha
				opts = append(opts, repo.WithPassword(pw, kdf))
			}
			be, err := location.Create(c.Context, loc, locationOptions(c))
			if err != nil {
				return err
			}
			defer be.Close()
			r, err := repo.Init(c.Context, be, cfg, opts...)
			if err != nil {
				return err
			}
			if c.Bool("json") {
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

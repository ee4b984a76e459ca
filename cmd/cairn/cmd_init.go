package main

import (
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
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "chunk-average", Usage: "target average chunk size", Value: "1KiB"},
			&cli.StringFlag{Name: "pack-size", Usage: "target pack file size", Value: "4MiB"},
		},
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
			be, err := location.Create(c.Context, loc, locationOptions(c))
			if err != nil {
				return err
			}
			defer be.Close()
			r, err := repo.Init(c.Context, be, cfg)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(e.stdout, map[string]any{"id": cfg.ID, "location": r.Location(), "config": cfg})
			}
			fmt.Fprintf(e.stdout, "created repository %s at %s\n", cfg.ID[:8], r.Location())
			return nil
		},
	}
}

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"cairn/engine/gendb"
)

type generateOptions struct {
	Size   string
	Seed   int64
	Mutate float64
}

func generateCommand(e *env) *cli.Command {
	var o generateOptions
	return &cli.Command{
		Name:      "generate",
		Usage:     "write a realistic snippet database folder, or change a fraction of its records (for tests and benchmarks)",
		ArgsUsage: "DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "size", Usage: "database size", Value: "64MiB", Destination: &o.Size},
			&cli.Int64Flag{Name: "seed", Usage: "random seed", Value: 1, Destination: &o.Seed},
			&cli.Float64Flag{Name: "mutate", Usage: "instead of generating, edit, insert and delete this fraction of DIR's records (0.01 = 1%)", Destination: &o.Mutate},
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 1, "DIR"); err != nil {
				return err
			}
			dir := c.Args().First()
			if c.IsSet("mutate") {
				f := o.Mutate
				if f <= 0 || f > 1 {
					return usagef("--mutate must be in (0, 1]")
				}
				st, err := gendb.Mutate(dir, gendb.Mutation{Fraction: f, Seed: o.Seed})
				if err != nil {
					return err
				}
				if e.opts.JSON {
					return printJSON(e.stdout, st)
				}
				fmt.Fprintf(e.stdout, "edited %d, inserted %d, deleted %d records; changed records %s; database now %s\n",
					st.Edited, st.Inserted, st.Deleted, humanBytes(st.ChangedBytes), humanBytes(st.Bytes))
				return nil
			}
			size, err := parseSize(o.Size)
			if err != nil || size <= 0 {
				return usagef("--size: invalid size %q", o.Size)
			}
			st, err := gendb.Generate(dir, gendb.Options{Size: size, Seed: o.Seed})
			if err != nil {
				return err
			}
			if e.opts.JSON {
				return printJSON(e.stdout, st)
			}
			fmt.Fprintf(e.stdout, "wrote %d records in %d collections, %s, to %s\n", st.Records, st.Collections, humanBytes(st.Bytes), dir)
			return nil
		},
	}
}

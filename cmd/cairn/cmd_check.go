package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"cairn/engine"
	"cairn/repo"
)

type checkOptions struct {
	ReadData bool
	Subset   string
}

func checkCommand(e *env) *cli.Command {
	var o checkOptions
	return &cli.Command{
		Name:      "check",
		Usage:     "verify the repository's structure, and with --read-data every byte",
		ArgsUsage: " ",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "read-data", Usage: "read every pack and re-hash every chunk", Destination: &o.ReadData},
			&cli.StringFlag{Name: "read-data-subset", Usage: "read only some packs: N/T (part N of T; T runs cover all), P% (a random share) or a size (random packs of at most that many bytes, e.g. 500MiB)", Destination: &o.Subset}},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 0, 0, ""); err != nil {
				return err
			}
			var subset engine.Subset
			if c.IsSet("read-data-subset") {
				s, err := engine.ParseSubset(o.Subset)
				if err != nil {
					return usagef("--read-data-subset: %v", err)
				}
				subset = s
				if o.ReadData {
					return usagef("check: --read-data reads everything; give it or --read-data-subset, not both")
				}
			}
			r, err := e.openRepo(c.Context, repo.WithLock("check"))
			if err != nil {
				return err
			}
			res, err := engine.Check(c.Context, r, engine.CheckOptions{ReadData: o.ReadData, Subset: subset, Progress: e.progress()})
			if err != nil {
				return err
			}
			if err := printCheck(e, res, e.opts.JSON); err != nil {
				return err
			}
			if !res.OK() {
				return errDamaged
			}
			return nil
		},
	}
}

// printCheck prints a check's result: with asJSON the CheckResult as it is (its
// problems typed: kind, the object they concern, message), else a summary line and
// the warnings on stdout, the errors and the damaged collections on stderr.
func printCheck(e *env, res *engine.CheckResult, asJSON bool) error {
	if asJSON {
		return printJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "checked %d snapshots, %d packs, %d chunks", res.Snapshots, res.Packs, res.Chunks)
	if res.Subset != "" {
		fmt.Fprintf(e.stdout, ", read %d of %d packs (subset %s), %s", res.PacksRead, res.Packs, res.Subset, humanBytes(res.BytesRead))
	} else if res.ReadData {
		fmt.Fprintf(e.stdout, ", read %s", humanBytes(res.BytesRead))
	}
	fmt.Fprintln(e.stdout)
	for _, w := range res.Warnings {
		fmt.Fprintf(e.stdout, "warning: %s\n", w.Message)
	}
	for _, p := range res.Errors {
		fmt.Fprintf(e.stderr, "error: %s\n", p.Message)
	}
	for _, d := range res.Damaged {
		fmt.Fprintf(e.stderr, "damaged: snapshot %s collection %s (%d chunks)\n", d.Snapshot, d.Collection, d.Chunks)
	}
	if res.OK() {
		fmt.Fprintln(e.stdout, "no errors were found")
	} else {
		fmt.Fprintf(e.stderr, "cairn: check found %d errors\n", len(res.Errors))
	}
	return nil
}

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"cairn/engine"
	"cairn/repo"
)

type forgetOptions struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	Within                                       string
	Tags                                         cli.StringSlice
	DryRun, Prune                                bool
}

func forgetCommand(e *env) *cli.Command {
	var o forgetOptions
	return &cli.Command{
		Name:      "forget",
		Usage:     "remove snapshots by id or by retention rules (data goes with the next prune)",
		ArgsUsage: "[SNAPSHOT...]",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "keep-last", Usage: "keep the last N snapshots", Destination: &o.Last},
			&cli.IntFlag{Name: "keep-hourly", Usage: "keep the last snapshot of each of the last N hours", Destination: &o.Hourly},
			&cli.IntFlag{Name: "keep-daily", Usage: "keep the last snapshot of each of the last N days", Destination: &o.Daily},
			&cli.IntFlag{Name: "keep-weekly", Usage: "keep the last snapshot of each of the last N weeks", Destination: &o.Weekly},
			&cli.IntFlag{Name: "keep-monthly", Usage: "keep the last snapshot of each of the last N months", Destination: &o.Monthly},
			&cli.IntFlag{Name: "keep-yearly", Usage: "keep the last snapshot of each of the last N years", Destination: &o.Yearly},
			&cli.StringFlag{Name: "keep-within", Usage: "keep snapshots newer than this before the latest (e.g. 36h, 7d, 1y2m)", Destination: &o.Within},
			&cli.StringSliceFlag{Name: "tag", Usage: "apply the rules only to snapshots with this tag", Destination: &o.Tags},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "say what would be removed, remove nothing", Destination: &o.DryRun},
			&cli.BoolFlag{Name: "prune", Usage: "prune after forgetting", Destination: &o.Prune},
		},
		Action: func(c *cli.Context) error {
			within, err := parseWithin(o.Within)
			if err != nil {
				return usagef("--keep-within: %v", err)
			}
			p := engine.Policy{Last: o.Last, Hourly: o.Hourly, Daily: o.Daily, Weekly: o.Weekly,
				Monthly: o.Monthly, Yearly: o.Yearly, Within: within, Tags: o.Tags.Value()}
			if c.Args().Len() == 0 && p.Empty() {
				return usagef("forget: name snapshots or give at least one --keep-* rule")
			}
			if c.Args().Len() > 0 && !p.Empty() {
				return usagef("forget: name snapshots or give --keep-* rules, not both")
			}
			r, err := e.openRepo(c.Context)
			if err != nil {
				return err
			}
			list, err := r.Snapshots(c.Context)
			if err != nil {
				return err
			}
			var remove []*repo.Snapshot
			type row struct {
				ID      string   `json:"id"`
				Keep    bool     `json:"keep"`
				Reasons []string `json:"reasons"`
			}
			rows := []row{}
			if c.Args().Len() > 0 {
				for _, ref := range c.Args().Slice() {
					sn, err := engine.FindSnapshot(list, ref)
					if err != nil {
						return err
					}
					remove = append(remove, sn)
					rows = append(rows, row{sn.ID, false, []string{}})
				}
			} else {
				for _, d := range p.Apply(list) {
					rows = append(rows, row{d.Snapshot.ID, d.Keep, nonNil(d.Reasons)})
					if !d.Keep {
						remove = append(remove, d.Snapshot)
					}
				}
			}
			if !o.DryRun {
				if err := engine.Forget(c.Context, r, remove); err != nil {
					return err
				}
			}
			if e.opts.JSON {
				if err := printJSON(e.stdout, map[string]any{"dry_run": o.DryRun, "snapshots": rows}); err != nil {
					return err
				}
			} else {
				for _, rw := range rows {
					if rw.Keep {
						fmt.Fprintf(e.stdout, "keep   %s  (%s)\n", rw.ID, strings.Join(rw.Reasons, ", "))
					} else {
						fmt.Fprintf(e.stdout, "remove %s\n", rw.ID)
					}
				}
				verb := "removed"
				if o.DryRun {
					verb = "would remove"
				}
				fmt.Fprintf(e.stdout, "%s %d snapshots\n", verb, len(remove))
			}
			if o.Prune && !o.DryRun {
				if err := r.LoadIndex(c.Context); err != nil {
					return err
				}
				st, err := engine.Prune(c.Context, r, engine.PruneOptions{})
				if err != nil {
					return err
				}
				if !e.opts.JSON {
					printPrune(e, st, false)
				}
			}
			return nil
		},
	}
}

// parseWithin reads a Go duration or a sum of NyNmNdNh parts.
func parseWithin(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	var total time.Duration
	num := 0
	seen := false
	for _, ch := range s {
		switch {
		case ch >= '0' && ch <= '9':
			num = num*10 + int(ch-'0')
			seen = true
		case seen && strings.ContainsRune("ymwdh", ch):
			unit := map[rune]time.Duration{'y': 365 * 24 * time.Hour, 'm': 30 * 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour}[ch]
			total += time.Duration(num) * unit
			num, seen = 0, false
		default:
			return 0, fmt.Errorf("invalid duration %q (examples: 36h, 7d, 1y6m)", s)
		}
	}
	if seen || total <= 0 {
		return 0, fmt.Errorf("invalid duration %q (examples: 36h, 7d, 1y6m)", s)
	}
	return total, nil
}

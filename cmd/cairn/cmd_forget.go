package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"cairn/engine"
	"cairn/repo"
)

type forgetOptions struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	Within, GroupBy                              string
	Tags, KeepTags                               cli.StringSlice
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
			&cli.StringSliceFlag{Name: "keep-tag", Usage: "keep snapshots with this tag (repeatable)", Destination: &o.KeepTags},
			&cli.StringSliceFlag{Name: "tag", Usage: "apply the rules only to snapshots with this tag", Destination: &o.Tags},
			&cli.StringFlag{Name: "group-by", Usage: "apply the rules within each group: device, tags, device,tags or none", Value: "device", Destination: &o.GroupBy},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "say what would be removed, remove nothing", Destination: &o.DryRun},
			&cli.BoolFlag{Name: "prune", Usage: "prune after forgetting", Destination: &o.Prune},
		},
		Action: func(c *cli.Context) error {
			within, err := parseWithin(o.Within)
			if err != nil {
				return usagef("--keep-within: %v", err)
			}
			groupBy, err := engine.ParseGroupBy(o.GroupBy)
			if err != nil {
				return usagef("--group-by: %v", err)
			}
			p := engine.Policy{Last: o.Last, Hourly: o.Hourly, Daily: o.Daily, Weekly: o.Weekly,
				Monthly: o.Monthly, Yearly: o.Yearly, Within: within, KeepTags: o.KeepTags.Value(), Tags: o.Tags.Value()}
			if c.Args().Len() == 0 && p.Empty() {
				return usagef("forget: name snapshots or give at least one --keep-* rule")
			}
			if c.Args().Len() > 0 && !p.Empty() {
				return usagef("forget: name snapshots or give --keep-* rules, not both")
			}
			r, list, err := e.openSnapshots(c.Context)
			if err != nil {
				return err
			}
			var groups []engine.Group
			if c.Args().Len() > 0 {
				var named []*repo.Snapshot
				for _, ref := range c.Args().Slice() {
					sn, err := engine.FindSnapshot(list, ref)
					if err != nil {
						return err
					}
					named = append(named, sn)
				}
				groups = namedGroups(named, groupBy)
			} else {
				groups = p.ApplyGrouped(list, groupBy)
			}
			var remove []*repo.Snapshot
			for _, g := range groups {
				for _, d := range g.Decisions {
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
			if err := printForget(e, groups, groupBy, len(remove), o.DryRun, e.opts.JSON); err != nil {
				return err
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

// parseWithin reads a --keep-within span (see engine.ParseWithin).
func parseWithin(s string) (time.Duration, error) { return engine.ParseWithin(s) }

// namedGroups lists snapshots named on the command line, to be removed, in their groups.
func namedGroups(named []*repo.Snapshot, by engine.GroupBy) []engine.Group {
	var out []engine.Group
	for _, g := range by.Split(named) {
		grp := engine.Group{Key: g.Key}
		for _, sn := range g.Snapshots {
			if !slices.ContainsFunc(grp.Decisions, func(d engine.Decision) bool { return d.Snapshot == sn }) {
				grp.Decisions = append(grp.Decisions, engine.Decision{Snapshot: sn})
			}
		}
		out = append(out, grp)
	}
	return out
}

// printForget prints forget's decisions: as text a heading per group and a line per
// snapshot, with asJSON one object {"dry_run", "group_by", "removed", "groups"}, each
// group {"key", "keep": [{"id", "time", "reasons"}], "remove": [{"id", "time"}]}.
func printForget(e *env, groups []engine.Group, by engine.GroupBy, removed int, dryRun, asJSON bool) error {
	type kept struct {
		ID      string    `json:"id"`
		Time    time.Time `json:"time"`
		Reasons []string  `json:"reasons"`
	}
	type gone struct {
		ID   string    `json:"id"`
		Time time.Time `json:"time"`
	}
	type group struct {
		Key    engine.GroupKey `json:"key"`
		Keep   []kept          `json:"keep"`
		Remove []gone          `json:"remove"`
	}
	if asJSON {
		out := []group{}
		for _, g := range groups {
			jg := group{Key: g.Key, Keep: []kept{}, Remove: []gone{}}
			for _, d := range g.Decisions {
				if d.Keep {
					jg.Keep = append(jg.Keep, kept{d.Snapshot.ID, d.Snapshot.Time, nonNil(d.Reasons)})
				} else {
					jg.Remove = append(jg.Remove, gone{d.Snapshot.ID, d.Snapshot.Time})
				}
			}
			out = append(out, jg)
		}
		return printJSON(e.stdout, map[string]any{"dry_run": dryRun, "group_by": by, "removed": removed, "groups": out})
	}
	for i, g := range groups {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		if g.Key.By == engine.GroupByNone {
			fmt.Fprintln(e.stdout, "all snapshots:")
		} else {
			fmt.Fprintf(e.stdout, "snapshots for (%s):\n", g.Key)
		}
		for _, d := range g.Decisions {
			if d.Keep {
				fmt.Fprintf(e.stdout, "keep   %s  (%s)\n", d.Snapshot.ID, strings.Join(d.Reasons, ", "))
			} else {
				fmt.Fprintf(e.stdout, "remove %s\n", d.Snapshot.ID)
			}
		}
	}
	verb := "removed"
	if dryRun {
		verb = "would remove"
	}
	fmt.Fprintf(e.stdout, "%s %d snapshots\n", verb, removed)
	return nil
}

package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// forgetJSON is forget --json's output.
type forgetJSON struct {
	DryRun  bool   `json:"dry_run"`
	GroupBy string `json:"group_by"`
	Removed int    `json:"removed"`
	Groups  []struct {
		Key  map[string]any `json:"key"`
		Keep []struct {
			ID      string   `json:"id"`
			Time    string   `json:"time"`
			Reasons []string `json:"reasons"`
		} `json:"keep"`
		Remove []struct {
			ID   string `json:"id"`
			Time string `json:"time"`
		} `json:"remove"`
	} `json:"groups"`
}

// twoDeviceRepo makes a repository with backups of two devices: laptop, desk, laptop,
// desk, laptop (oldest first; the desk's carry the tag desk), and returns the runner
// and the snapshot ids by device, oldest first.
func twoDeviceRepo(t *testing.T) (runner, map[string][]string) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	c := runner{tb: t, repo: filepath.Join(dir, "repo")}
	c.ok("generate", "--size", "128KiB", db)
	c.ok("init")
	ids := map[string][]string{}
	for _, dev := range []string{"laptop", "desk", "laptop", "desk", "laptop"} {
		args := []string{"backup", "--device", dev}
		if dev == "desk" {
			args = append(args, "--tag", "desk")
		}
		var sn struct{ ID string }
		c.json(&sn, append(args, db)...)
		ids[dev] = append(ids[dev], sn.ID)
	}
	return c, ids
}

func snapshotIDs(c runner) []string {
	c.tb.Helper()
	var snaps []struct{ ID string }
	c.json(&snaps, "snapshots")
	var out []string
	for _, s := range snaps {
		out = append(out, s.ID)
	}
	slices.Sort(out)
	return out
}

// TestForgetGroupsByDevice: --keep-last 1 keeps the newest snapshot of each device by
// default, and the newest of all with --group-by none; the text output has a heading
// per group.
func TestForgetGroupsByDevice(t *testing.T) {
	c, ids := twoDeviceRepo(t)
	out := c.ok("forget", "--keep-last", "1", "--dry-run")
	for _, want := range []string{"snapshots for (device [desk]):", "snapshots for (device [laptop]):", "would remove 3 snapshots",
		"keep   " + ids["desk"][1] + "  (last)", "keep   " + ids["laptop"][2] + "  (last)", "remove " + ids["desk"][0]} {
		if !strings.Contains(out, want) {
			t.Fatalf("forget --keep-last 1 --dry-run does not say %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "device [desk]") > strings.Index(out, "device [laptop]") {
		t.Fatalf("groups not in order of device:\n%s", out)
	}
	if out := c.ok("forget", "--keep-last", "1", "--group-by", "none", "--dry-run"); !strings.Contains(out, "all snapshots:") || !strings.Contains(out, "would remove 4 snapshots") {
		t.Fatalf("forget --group-by none --dry-run:\n%s", out)
	}
	c.ok("forget", "--keep-last", "1")
	want := []string{ids["desk"][1], ids["laptop"][2]}
	slices.Sort(want)
	if got := snapshotIDs(c); !slices.Equal(got, want) {
		t.Fatalf("after forget --keep-last 1: snapshots %v, want the newest of each device %v", got, want)
	}
	c.ok("forget", "--keep-last", "1", "--group-by", "none")
	if got := snapshotIDs(c); !slices.Equal(got, []string{ids["laptop"][2]}) {
		t.Fatalf("after forget --keep-last 1 --group-by none: snapshots %v, want %s", got, ids["laptop"][2])
	}
}

// TestForgetJSON: --json lists the groups with their key, the kept snapshots with the
// rules that keep them, and the removed ones.
func TestForgetJSON(t *testing.T) {
	c, ids := twoDeviceRepo(t)
	var res forgetJSON
	c.json(&res, "forget", "--keep-last", "1", "--keep-within", "1h", "--group-by", "device,tags", "--dry-run")
	if !res.DryRun || res.GroupBy != "device,tags" || res.Removed != 0 || len(res.Groups) != 2 {
		t.Fatalf("forget --json: %+v", res)
	}
	desk, laptop := res.Groups[0], res.Groups[1]
	if desk.Key["device"] != "desk" || !slices.Equal(desk.Key["tags"].([]any), []any{"desk"}) || laptop.Key["device"] != "laptop" || len(laptop.Key["tags"].([]any)) != 0 {
		t.Fatalf("group keys %v, %v", desk.Key, laptop.Key)
	}
	if len(laptop.Keep) != 3 || laptop.Keep[0].ID != ids["laptop"][2] || !slices.Equal(laptop.Keep[0].Reasons, []string{"last", "within 1h"}) ||
		!slices.Equal(laptop.Keep[2].Reasons, []string{"within 1h"}) || laptop.Keep[0].Time == "" || len(laptop.Remove) != 0 {
		t.Fatalf("laptop group %+v", laptop)
	}
	res = forgetJSON{}
	c.json(&res, "forget", "--keep-last", "1", "--group-by", "tags")
	if res.DryRun || res.GroupBy != "tags" || res.Removed != 3 || len(res.Groups) != 2 {
		t.Fatalf("forget --group-by tags --json: %+v", res)
	}
	untagged, tagged := res.Groups[0], res.Groups[1]
	if _, ok := untagged.Key["device"]; ok || len(untagged.Key["tags"].([]any)) != 0 || len(tagged.Key["tags"].([]any)) != 1 {
		t.Fatalf("group keys %v, %v", untagged.Key, tagged.Key)
	}
	if len(untagged.Remove) != 2 || len(tagged.Remove) != 1 || tagged.Remove[0].ID != ids["desk"][0] || len(tagged.Keep) != 1 || tagged.Keep[0].ID != ids["desk"][1] {
		t.Fatalf("forget --group-by tags: %+v", res)
	}
	// Named snapshots are removed in their groups.
	res = forgetJSON{}
	c.json(&res, "forget", ids["desk"][1], ids["desk"][1])
	if res.Removed != 1 || len(res.Groups) != 1 || res.Groups[0].Key["device"] != "desk" || res.Groups[0].Remove[0].ID != ids["desk"][1] {
		t.Fatalf("forget %s: %+v", ids["desk"][1], res)
	}
	if got := snapshotIDs(c); !slices.Equal(got, []string{ids["laptop"][2]}) {
		t.Fatalf("snapshots left %v, want %s", got, ids["laptop"][2])
	}
}

// TestForgetUsageErrors: a bad grouping or span is a usage error (exit 2), and nothing
// is removed.
func TestForgetUsageErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	c := runner{tb: t, repo: filepath.Join(dir, "repo")}
	c.ok("generate", "--size", "64KiB", db)
	c.ok("init")
	c.ok("backup", db)
	c.ok("backup", db)
	for _, args := range [][]string{
		{"--group-by", "host"},
		{"--group-by", "none,device"},
		{"--group-by", "device,"},
	} {
		c.fails(exitUsage, "--group-by", append([]string{"forget", "--keep-last", "1"}, args...)...)
	}
	c.fails(exitUsage, "invalid duration", "forget", "--keep-within", "0d")
	if got := snapshotIDs(c); len(got) != 2 {
		t.Fatalf("a refused forget removed snapshots: %v", got)
	}
	// --keep-tag alone is a rule.
	if out := c.ok("forget", "--keep-tag", "none-has-it", "--dry-run"); !strings.Contains(out, "would remove 2 snapshots") {
		t.Fatalf("forget --keep-tag:\n%s", out)
	}
}

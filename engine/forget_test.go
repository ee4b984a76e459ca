package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"cairn/engine"
	"cairn/repo"
)

// twoDevices is a history of two devices backing up the same repository: laptop
// every day for ten days (a nightly tag on even days), desk every day for the first
// three days only, at another hour.
func twoDevices(tb testing.TB) []*repo.Snapshot {
	tb.Helper()
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var list []*repo.Snapshot
	add := func(device string, t time.Time, tags ...string) {
		list = append(list, &repo.Snapshot{ID: repo.SnapshotID(device, t), Time: t, DeviceName: device, Tags: tags})
	}
	for i := range 10 {
		var tags []string
		if i%2 == 0 {
			tags = []string{"nightly"}
		}
		add("laptop", base.AddDate(0, 0, i), tags...)
	}
	for i := range 3 {
		add("desk", base.AddDate(0, 0, i).Add(5*time.Hour), "desk", "manual")
	}
	return list
}

// kept lists, per group name, the ids the policy keeps, newest first.
func kept(groups []engine.Group) map[string][]string {
	out := map[string][]string{}
	for _, g := range groups {
		out[g.Key.String()] = []string{}
		for _, d := range g.Decisions {
			if d.Keep {
				out[g.Key.String()] = append(out[g.Key.String()], d.Snapshot.ID)
			}
		}
	}
	return out
}

func day(device string, i, hour int) string {
	return repo.SnapshotID(device, time.Date(2026, 3, 1+i, hour, 0, 0, 0, time.UTC))
}

// TestApplyGrouped: the policy counts within each group, so one device's
// --keep-last 1 never removes another device's snapshots; with no grouping it counts
// all of them together.
func TestApplyGrouped(t *testing.T) {
	list := twoDevices(t)
	cases := []struct {
		name string
		p    engine.Policy
		by   engine.GroupBy
		want map[string][]string
	}{
		{"last 1 by device", engine.Policy{Last: 1}, engine.GroupByDevice, map[string][]string{
			"device [desk]":   {day("desk", 2, 14)},
			"device [laptop]": {day("laptop", 9, 9)},
		}},
		{"last 1 overall", engine.Policy{Last: 1}, engine.GroupByNone, map[string][]string{
			"all snapshots": {day("laptop", 9, 9)},
		}},
		{"last 1 by tags", engine.Policy{Last: 1}, engine.GroupByTags, map[string][]string{
			"tags []":            {day("laptop", 9, 9)},
			"tags [desk,manual]": {day("desk", 2, 14)},
			"tags [nightly]":     {day("laptop", 8, 9)},
		}},
		{"last 1 by device and tags", engine.Policy{Last: 1}, engine.GroupByDevice | engine.GroupByTags, map[string][]string{
			"device [desk], tags [desk,manual]": {day("desk", 2, 14)},
			"device [laptop], tags []":          {day("laptop", 9, 9)},
			"device [laptop], tags [nightly]":   {day("laptop", 8, 9)},
		}},
		// Within counts back from each group's own newest snapshot.
		{"within 1d12h by device", engine.Policy{Within: 36 * time.Hour}, engine.GroupByDevice, map[string][]string{
			"device [desk]":   {day("desk", 2, 14), day("desk", 1, 14)},
			"device [laptop]": {day("laptop", 9, 9), day("laptop", 8, 9)},
		}},
		{"within 1d12h overall", engine.Policy{Within: 36 * time.Hour}, engine.GroupByNone, map[string][]string{
			"all snapshots": {day("laptop", 9, 9), day("laptop", 8, 9)},
		}},
		{"keep-tag nightly and last 1", engine.Policy{Last: 1, KeepTags: []string{"nightly"}}, engine.GroupByDevice, map[string][]string{
			"device [desk]":   {day("desk", 2, 14)},
			"device [laptop]": {day("laptop", 9, 9), day("laptop", 8, 9), day("laptop", 6, 9), day("laptop", 4, 9), day("laptop", 2, 9), day("laptop", 0, 9)},
		}},
		// --tag leaves out the snapshots without it, and the groups left empty.
		{"only nightly, last 2 by device", engine.Policy{Last: 2, Tags: []string{"nightly"}}, engine.GroupByDevice, map[string][]string{
			"device [laptop]": {day("laptop", 8, 9), day("laptop", 6, 9)},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := kept(tc.p.ApplyGrouped(list, tc.by))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("kept\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

// TestApplyGroupedDecidesEverySnapshotOnce: every snapshot the policy considers is
// in exactly one group, and removed snapshots have no reasons.
func TestApplyGroupedDecidesEverySnapshotOnce(t *testing.T) {
	list := twoDevices(t)
	for _, by := range []engine.GroupBy{engine.GroupByNone, engine.GroupByDevice, engine.GroupByTags, engine.GroupByDevice | engine.GroupByTags} {
		seen := map[string]int{}
		for _, g := range (engine.Policy{Daily: 2}).ApplyGrouped(list, by) {
			for _, d := range g.Decisions {
				seen[d.Snapshot.ID]++
				if !g.Key.Equal(by.KeyOf(d.Snapshot)) {
					t.Errorf("%s: snapshot %s in group %s", by, d.Snapshot.ID, g.Key)
				}
				if d.Keep != (len(d.Reasons) > 0) {
					t.Errorf("%s: snapshot %s keep %v with reasons %v", by, d.Snapshot.ID, d.Keep, d.Reasons)
				}
			}
		}
		for _, sn := range list {
			if seen[sn.ID] != 1 {
				t.Errorf("%s: snapshot %s decided %d times", by, sn.ID, seen[sn.ID])
			}
		}
	}
}

func TestParseGroupBy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want engine.GroupBy
		err  bool
	}{
		{"", engine.GroupByDevice, false},
		{"device", engine.GroupByDevice, false},
		{"tags", engine.GroupByTags, false},
		{"device,tags", engine.GroupByDevice | engine.GroupByTags, false},
		{"tags, device", engine.GroupByDevice | engine.GroupByTags, false},
		{"none", engine.GroupByNone, false},
		{"host", 0, true},
		{"none,device", 0, true},
		{"device,", 0, true},
		{"paths", 0, true},
	} {
		got, err := engine.ParseGroupBy(tc.in)
		if tc.err {
			if !errors.Is(err, engine.ErrGroupBy) {
				t.Errorf("ParseGroupBy(%q) = %v, %v; want ErrGroupBy", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseGroupBy(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		again, err := engine.ParseGroupBy(got.String())
		if err != nil || again != got {
			t.Errorf("ParseGroupBy(%q.String() = %q) = %v, %v", tc.in, got.String(), again, err)
		}
	}
}

// TestGroupKeyJSON: a key carries the fields its grouping uses, and nothing else.
func TestGroupKeyJSON(t *testing.T) {
	sn := &repo.Snapshot{DeviceName: "laptop", Tags: []string{"b", "a", "b"}}
	for _, tc := range []struct {
		by   engine.GroupBy
		want string
	}{
		{engine.GroupByNone, `{}`},
		{engine.GroupByDevice, `{"device":"laptop"}`},
		{engine.GroupByTags, `{"tags":["a","b"]}`},
		{engine.GroupByDevice | engine.GroupByTags, `{"device":"laptop","tags":["a","b"]}`},
	} {
		b, err := json.Marshal(tc.by.KeyOf(sn))
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: key %s, %v; want %s", tc.by, b, err, tc.want)
		}
	}
	b, _ := json.Marshal(engine.GroupByTags.KeyOf(&repo.Snapshot{DeviceName: "x"}))
	if string(b) != `{"tags":[]}` {
		t.Errorf("untagged key %s, want {\"tags\":[]}", b)
	}
	// A device name from storage with a terminal escape is shown quoted.
	hostile := (engine.GroupByDevice | engine.GroupByTags).KeyOf(&repo.Snapshot{DeviceName: "pc\x1b[2J", Tags: []string{"a\nb"}})
	if got := hostile.String(); got != `device ["pc\x1b[2J"], tags ["a\nb"]` {
		t.Errorf("hostile key shown as %s", got)
	}
}

// TestParseWithin: restic's spans, where m is a month; other forms as Go durations.
func TestParseWithin(t *testing.T) {
	const d = 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", 0, false},
		{"30d", 30 * d, false},
		{"12h", 12 * time.Hour, false},
		{"6m", 180 * d, false},
		{"1y2m3d", 365*d + 60*d + 3*d, false},
		{"2w", 14 * d, false},
		{"1.5h", 90 * time.Minute, false},
		{"90s", 90 * time.Second, false},
		{"soon", 0, true},
		{"0d", 0, true},
		{"d", 0, true},
		{"7", 0, true},
		{"-3d", 0, true},
		{"1000y", 0, true},
		{"99999999999999999999999d", 0, true},
	} {
		got, err := engine.ParseWithin(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseWithin(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

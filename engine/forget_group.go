package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"cairn/repo"
)

// ErrGroupBy means a grouping other than device, tags, device,tags or none was asked for.
var ErrGroupBy = errors.New("invalid grouping")

// GroupBy says which snapshots a retention policy counts together: those of one
// device, those with one set of tags, both, or all (GroupByNone). It reads and
// writes itself as text: "device", "tags", "device,tags" or "none".
type GroupBy uint8

// The groupings. DefaultGroupBy groups by device, so that one device's rules never
// remove another device's snapshots.
const (
	GroupByNone   GroupBy = 0
	GroupByDevice GroupBy = 1
	GroupByTags   GroupBy = 2

	DefaultGroupBy = GroupByDevice
)

// ParseGroupBy reads a grouping: a comma-separated list of device and tags, or none;
// the empty string is DefaultGroupBy.
func ParseGroupBy(s string) (GroupBy, error) {
	if strings.TrimSpace(s) == "" {
		return DefaultGroupBy, nil
	}
	var g GroupBy
	none := false
	for part := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(part) {
		case "device":
			g |= GroupByDevice
		case "tags":
			g |= GroupByTags
		case "none":
			none = true
		default:
			return 0, fmt.Errorf("group by %q: %w (want device, tags, device,tags or none)", s, ErrGroupBy)
		}
	}
	if none && g != GroupByNone {
		return 0, fmt.Errorf("group by %q: %w (none goes alone)", s, ErrGroupBy)
	}
	return g, nil
}

// String is the grouping as ParseGroupBy reads it.
func (g GroupBy) String() string {
	var parts []string
	if g&GroupByDevice != 0 {
		parts = append(parts, "device")
	}
	if g&GroupByTags != 0 {
		parts = append(parts, "tags")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// MarshalText writes the grouping as String does.
func (g GroupBy) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// UnmarshalText reads a grouping as ParseGroupBy does.
func (g *GroupBy) UnmarshalText(b []byte) error {
	v, err := ParseGroupBy(string(b))
	if err != nil {
		return err
	}
	*g = v
	return nil
}

// GroupKey names one group: the device and the tags its snapshots share, of those
// the grouping By uses (the others are empty). Tags are sorted and without repeats.
type GroupKey struct {
	By     GroupBy
	Device string
	Tags   []string
}

// KeyOf is the key of the group sn belongs to under grouping by.
func (by GroupBy) KeyOf(sn *repo.Snapshot) GroupKey {
	k := GroupKey{By: by}
	if by&GroupByDevice != 0 {
		k.Device = sn.DeviceName
	}
	if by&GroupByTags != 0 {
		k.Tags = slices.Compact(slices.Sorted(slices.Values(sn.Tags)))
	}
	return k
}

// Equal reports whether k and o name the same group.
func (k GroupKey) Equal(o GroupKey) bool {
	return k.By == o.By && k.Device == o.Device && slices.Equal(k.Tags, o.Tags)
}

// Compare orders keys by device, then by tags.
func (k GroupKey) Compare(o GroupKey) int {
	if c := strings.Compare(k.Device, o.Device); c != 0 {
		return c
	}
	return slices.Compare(k.Tags, o.Tags)
}

// String names the group as forget's headings do: "device [laptop], tags [a,b]", or
// "all snapshots" when nothing groups them. A name with control characters (manifests
// come from storage) is printed quoted, its escapes spelled out.
func (k GroupKey) String() string {
	var parts []string
	if k.By&GroupByDevice != 0 {
		parts = append(parts, "device ["+printable(k.Device)+"]")
	}
	if k.By&GroupByTags != 0 {
		tags := make([]string, len(k.Tags))
		for i, t := range k.Tags {
			tags[i] = printable(t)
		}
		parts = append(parts, "tags ["+strings.Join(tags, ",")+"]")
	}
	if len(parts) == 0 {
		return "all snapshots"
	}
	return strings.Join(parts, ", ")
}

// MarshalJSON writes the fields the grouping uses: {"device": "laptop", "tags": ["a"]},
// {} for no grouping.
func (k GroupKey) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if k.By&GroupByDevice != 0 {
		m["device"] = k.Device
	}
	if k.By&GroupByTags != 0 {
		m["tags"] = append([]string{}, k.Tags...)
	}
	return json.Marshal(m)
}

// SnapshotGroup is the snapshots of one group, in the order of the list they came from.
type SnapshotGroup struct {
	Key       GroupKey
	Snapshots []*repo.Snapshot
}

// Split divides list into its groups under grouping by, ordered by key.
func (by GroupBy) Split(list []*repo.Snapshot) []SnapshotGroup {
	var out []SnapshotGroup
	for _, sn := range list {
		k := by.KeyOf(sn)
		i := slices.IndexFunc(out, func(g SnapshotGroup) bool { return g.Key.Equal(k) })
		if i < 0 {
			out = append(out, SnapshotGroup{Key: k})
			i = len(out) - 1
		}
		out[i].Snapshots = append(out[i].Snapshots, sn)
	}
	slices.SortStableFunc(out, func(a, b SnapshotGroup) int { return a.Key.Compare(b.Key) })
	return out
}

// Group is what the policy decided for one group's snapshots, newest first.
type Group struct {
	Key       GroupKey
	Decisions []Decision
}

// ApplyGrouped divides list into groups under grouping by and applies the policy
// within each: one device's --keep-last 1 keeps that device's newest snapshot,
// whatever the other devices did. Groups with no snapshot the policy considers (its
// Tags) are left out; the others come ordered by key.
func (p Policy) ApplyGrouped(list []*repo.Snapshot, by GroupBy) []Group {
	var out []Group
	for _, g := range by.Split(list) {
		if d := p.Apply(g.Snapshots); len(d) > 0 {
			out = append(out, Group{Key: g.Key, Decisions: d})
		}
	}
	return out
}

// printable is s, or s quoted if it holds a character that is not graphic.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

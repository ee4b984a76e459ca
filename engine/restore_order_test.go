package engine

import (
	"slices"
	"testing"

	"cairn/repo"
)

func TestLargestFirst(t *testing.T) {
	col := func(name string, bytes int64) repo.Collection {
		return repo.Collection{Name: name, Bytes: bytes}
	}
	in := []repo.Collection{col("assets", 10), col("formats", 300), col("tags", 0), col("anchors", 10), col("fragments", 90)}
	var got []string
	for _, c := range largestFirst(in) {
		got = append(got, c.Name)
	}
	if want := []string{"formats", "fragments", "assets", "anchors", "tags"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v (largest first, ties in snapshot order)", got, want)
	}
	if in[0].Name != "assets" {
		t.Error("largestFirst reordered its argument")
	}
}

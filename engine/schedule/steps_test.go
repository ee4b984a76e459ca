package schedule

import (
	"testing"
	"time"

	"cairn/engine"
)

// TestCheckSubsetMovesOn: with an N/T subset, checks CheckEvery apart read the parts
// in turn, so T consecutive checks read every part once; other subsets pass as given.
func TestCheckSubsetMovesOn(t *testing.T) {
	s := Steps{CheckEvery: 6 * time.Hour, CheckSubset: engine.Subset{Part: 1, Parts: 5}}
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	seen := map[uint64]int{}
	for i := range 5 {
		sub := s.subsetAt(start.Add(time.Duration(i) * s.CheckEvery))
		if sub.Parts != 5 || sub.Part < 1 || sub.Part > 5 {
			t.Fatalf("check %d reads %+v", i, sub)
		}
		seen[sub.Part]++
	}
	if len(seen) != 5 {
		t.Fatalf("five checks read parts %v, want each of 1-5 once", seen)
	}
	if a, b := s.subsetAt(start), s.subsetAt(start.Add(time.Minute)); a != b {
		t.Errorf("checks in one period read %+v and %+v", a, b)
	}
	pct := Steps{CheckEvery: time.Hour, CheckSubset: engine.Subset{Percent: 10}}
	if got := pct.subsetAt(start); got != pct.CheckSubset {
		t.Errorf("a percentage became %+v", got)
	}
}

package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"cairn/repo"
)

// ErrSubset means a data subset cairn cannot read: not N/T with 1 ≤ N ≤ T, not a
// percentage above 0 and at most 100, not a positive size.
var ErrSubset = errors.New("invalid data subset")

// Subset picks the packs a check reads, in one of three ways; the zero value picks
// none (no subset: check reads all packs with ReadData, else none).
//
//   - Part of Parts (1 ≤ Part ≤ Parts): the packs whose name, its first eight bytes
//     read as a number, is Part-1 modulo Parts. The choice depends on nothing but the
//     names, so the runs 1/T, 2/T, ..., T/T read every pack exactly once.
//   - Percent (0 < Percent ≤ 100): that share of the packs, at least one, at random.
//   - Bytes (> 0): packs at random while they fit, at most that many bytes in all.
type Subset struct {
	Part, Parts uint64
	Percent     float64
	Bytes       int64
}

// maxSubsetParts bounds T in N/T: more parts than this would leave nearly every part empty.
const maxSubsetParts = 1 << 20

// ParseSubset reads restic's forms of --read-data-subset: "N/T" (part N of T), "P%"
// (a random P percent, decimals allowed) or a size ("500MiB", "2G", "1048576"; K, M,
// G and T with or without "iB" or "B" are binary units).
func ParseSubset(s string) (Subset, error) {
	t := strings.TrimSpace(s)
	bad := func(why string) (Subset, error) {
		return Subset{}, fmt.Errorf("data subset %q: %w: %s", s, ErrSubset, why)
	}
	switch {
	case t == "":
		return bad("empty (want N/T, P% or a size)")
	case strings.Contains(t, "/"):
		n, tot, _ := strings.Cut(t, "/")
		part, err1 := strconv.ParseUint(n, 10, 64)
		parts, err2 := strconv.ParseUint(tot, 10, 64)
		if err1 != nil || err2 != nil {
			return bad("want N/T, two whole numbers such as 1/5")
		}
		sub := Subset{Part: part, Parts: parts}
		if err := sub.Validate(); err != nil {
			return Subset{}, fmt.Errorf("data subset %q: %w", s, err)
		}
		return sub, nil
	case strings.HasSuffix(t, "%"):
		p, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
		if err != nil {
			return bad("want a percentage such as 10%")
		}
		sub := Subset{Percent: p}
		if err := sub.Validate(); err != nil {
			return Subset{}, fmt.Errorf("data subset %q: %w", s, err)
		}
		return sub, nil
	}
	n, err := parseSubsetBytes(t)
	if err != nil {
		return bad("want N/T, P% or a size such as 500MiB")
	}
	sub := Subset{Bytes: n}
	if err := sub.Validate(); err != nil {
		return Subset{}, fmt.Errorf("data subset %q: %w", s, err)
	}
	return sub, nil
}

// parseSubsetBytes reads a size: a number and a binary unit.
func parseSubsetBytes(s string) (int64, error) {
	t := strings.ToLower(s)
	mult := 1.0
	for _, u := range []struct {
		suffix string
		m      float64
	}{{"tib", 1 << 40}, {"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.m
			break
		}
	}
	if t == "" || strings.Trim(t, "0123456789.") != "" { // no signs, exponents, hex, Inf or NaN
		return 0, errors.New("not a size")
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v*mult >= math.MaxInt64 {
		return 0, errors.New("not a size")
	}
	return int64(v * mult), nil
}

// IsZero reports whether s picks no subset.
func (s Subset) IsZero() bool { return s == Subset{} }

// Validate reports, as ErrSubset, a subset with no way or more than one way set, or a
// way out of range.
func (s Subset) Validate() error {
	ways := 0
	if s.Part != 0 || s.Parts != 0 {
		ways++
		if s.Part < 1 || s.Parts < 1 || s.Part > s.Parts {
			return fmt.Errorf("%w: part %d of %d (want 1 ≤ N ≤ T, such as 1/5)", ErrSubset, s.Part, s.Parts)
		}
		if s.Parts > maxSubsetParts {
			return fmt.Errorf("%w: %d parts (at most %d)", ErrSubset, s.Parts, maxSubsetParts)
		}
	}
	if s.Percent != 0 {
		ways++
		if !(s.Percent > 0 && s.Percent <= 100) {
			return fmt.Errorf("%w: %v%% (want more than 0%% and at most 100%%)", ErrSubset, s.Percent)
		}
	}
	if s.Bytes != 0 {
		ways++
		if s.Bytes < 0 {
			return fmt.Errorf("%w: %d bytes (want a positive size)", ErrSubset, s.Bytes)
		}
	}
	switch ways {
	case 0:
		return fmt.Errorf("%w: empty (want N/T, P%% or a size)", ErrSubset)
	case 1:
		return nil
	}
	return fmt.Errorf("%w: give one of N/T, P%% or a size", ErrSubset)
}

// String writes the subset as ParseSubset reads it.
func (s Subset) String() string {
	switch {
	case s.Parts != 0:
		return fmt.Sprintf("%d/%d", s.Part, s.Parts)
	case s.Percent != 0:
		return strconv.FormatFloat(s.Percent, 'f', -1, 64) + "%"
	case s.Bytes != 0:
		return strconv.FormatInt(s.Bytes, 10) + "B"
	}
	return ""
}

// MarshalText writes the subset as String does.
func (s Subset) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a subset as ParseSubset does.
func (s *Subset) UnmarshalText(b []byte) error {
	v, err := ParseSubset(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// pick chooses from packs (sorted by name; size gives the stored size of each) the
// ones to read, in the order of packs. rnd drives the random ways.
func (s Subset) pick(packs []repo.ObjectID, size map[repo.ObjectID]int64, rnd *rand.Rand) []repo.ObjectID {
	chosen := make([]bool, len(packs))
	switch {
	case s.Parts != 0:
		for i, p := range packs {
			chosen[i] = binary.BigEndian.Uint64(p[:8])%s.Parts == s.Part-1
		}
	case s.Percent != 0:
		n := int(float64(len(packs)) * s.Percent / 100)
		if n < 1 && len(packs) > 0 {
			n = 1
		}
		for _, i := range rnd.Perm(len(packs))[:n] {
			chosen[i] = true
		}
	case s.Bytes != 0:
		left := s.Bytes
		for _, i := range rnd.Perm(len(packs)) {
			if sz, ok := size[packs[i]]; ok && sz <= left {
				chosen[i] = true
				left -= sz
			}
		}
	}
	var out []repo.ObjectID
	for i, p := range packs {
		if chosen[i] {
			out = append(out, p)
		}
	}
	return out
}

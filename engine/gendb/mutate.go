package gendb

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Mutation says how much of a database to change.
type Mutation struct {
	Fraction float64 // share of records touched, split evenly between edits, inserts and deletes
	Seed     int64
}

// MutationStats say what Mutate did.
type MutationStats struct {
	Edited       int   `json:"edited"`
	Inserted     int   `json:"inserted"`
	Deleted      int   `json:"deleted"`
	ChangedBytes int64 `json:"changed_bytes"` // bytes of the new lines of edited and inserted records
	Bytes        int64 `json:"bytes"`         // total bytes afterwards
}

// Mutate edits, inserts and deletes records of the folder database in dir, in place.
// The record for each edit and delete is picked uniformly over all records; inserts go
// to collections in proportion to their records and land at their sorted place. Edits
// keep the id and the length and change the updated timestamp and a run of letters.
func Mutate(dir string, m Mutation) (MutationStats, error) {
	var st MutationStats
	if m.Fraction < 0 || m.Fraction > 1 {
		return st, fmt.Errorf("mutate: fraction %v outside [0, 1]", m.Fraction)
	}
	names, counts, err := countRecords(dir)
	if err != nil {
		return st, err
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	g := newGen(m.Seed, "mutate")
	k := int(math.Round(float64(total) * m.Fraction))
	edits, inserts := k/3, k/3
	deletes := k - edits - inserts
	// Distinct record positions for edits and deletes, uniform over all records.
	chosen := map[int]byte{}
	for len(chosen) < min(edits+deletes, total) {
		p := g.rng.IntN(total)
		if _, ok := chosen[p]; ok {
			continue
		}
		if len(chosen) < edits {
			chosen[p] = 'e'
		} else {
			chosen[p] = 'd'
		}
	}
	ins := make([]int, len(names))
	for range inserts {
		p := g.rng.IntN(max(total, 1))
		for i, n := range counts {
			if p < n || i == len(counts)-1 {
				ins[i]++
				break
			}
			p -= n
		}
	}
	base := 0
	for i, name := range names {
		acts := map[int]byte{}
		for p, a := range chosen {
			if p >= base && p < base+counts[i] {
				acts[p-base] = a
			}
		}
		base += counts[i]
		cs, err := mutateCollection(filepath.Join(dir, name+".jsonl"), name, acts, ins[i], g)
		if err != nil {
			return st, err
		}
		st.Edited += cs.Edited
		st.Inserted += cs.Inserted
		st.Deleted += cs.Deleted
		st.ChangedBytes += cs.ChangedBytes
		st.Bytes += cs.Bytes
	}
	return st, nil
}

func countRecords(dir string) ([]string, []int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("mutate: %w", err)
	}
	var names []string
	var counts []int
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, err
		}
		n, err := countLines(f)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		names = append(names, name)
		counts = append(counts, n)
	}
	return names, counts, nil
}

func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// renderer finds the record shape of a collection.
func renderer(name string) func(*gen, []byte, string) []byte {
	for _, k := range kinds {
		if k.name == name && k.render != nil {
			return k.render
		}
	}
	return (*gen).tag
}

func mutateCollection(path, name string, acts map[int]byte, inserts int, g *gen) (MutationStats, error) {
	var st MutationStats
	if len(acts) == 0 && inserts == 0 {
		fi, err := os.Stat(path)
		if err != nil {
			return st, err
		}
		st.Bytes = fi.Size()
		return st, nil
	}
	render := renderer(name)
	var fresh [][]byte
	for range inserts {
		fresh = append(fresh, render(g, nil, g.uuid()))
	}
	slices.SortFunc(fresh, bytes.Compare)
	in, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer in.Close()
	out, err := os.Create(path + ".tmp")
	if err != nil {
		return st, err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	r := bufio.NewReaderSize(in, 1<<20)
	emit := func(line []byte) {
		w.Write(line)
		st.Bytes += int64(len(line))
	}
	for i := 0; ; i++ {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			for len(fresh) > 0 && bytes.Compare(fresh[0], line) < 0 {
				emit(fresh[0])
				st.Inserted++
				st.ChangedBytes += int64(len(fresh[0]))
				fresh = fresh[1:]
			}
			switch acts[i] {
			case 'd':
				st.Deleted++
			case 'e':
				line = g.edit(line)
				st.Edited++
				st.ChangedBytes += int64(len(line))
				emit(line)
			default:
				emit(line)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			out.Close()
			os.Remove(path + ".tmp")
			return st, err
		}
	}
	for _, f := range fresh {
		emit(f)
		st.Inserted++
		st.ChangedBytes += int64(len(f))
	}
	err = w.Flush()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(path+".tmp", path)
	}
	if err != nil {
		os.Remove(path + ".tmp")
	}
	return st, err
}

var updatedKey = []byte(`"updated":{"value":"`)

// edit changes a record in place: a new updated timestamp when it has one, and a run of
// up to 24 lowercase letters rewritten. The id and the length stay.
func (g *gen) edit(line []byte) []byte {
	line = bytes.Clone(line)
	if i := bytes.Index(line, updatedKey); i >= 0 {
		var ts []byte
		ts = g.timestamp(ts, "updated")
		// ts is ,"updated":{...}; copy the value part over the old one of equal length.
		old := line[i:]
		if j := bytes.IndexByte(old, '}'); j >= 0 && len(ts)-1 == j+1 {
			copy(old[:j+1], ts[1:])
		}
	}
	idEnd := len(`{"id":"`) + bytes.IndexByte(line[len(`{"id":"`):], '"') + 1
	start := max(len(line)/3, idEnd)
	if len(line) > 16 {
		start += g.rng.IntN(len(line)/3 + 1)
	}
	changed := 0
	for i := start; i < len(line) && changed < 24; i++ {
		if c := line[i]; c >= 'a' && c <= 'z' && line[i-1] != '\\' {
			line[i] = 'a' + (c-'a'+1+byte(g.rng.IntN(25)))%26 // always a different letter
			changed++
		} else if changed > 0 {
			break
		}
	}
	if changed == 0 {
		for i := len(line) - 1; i > idEnd; i-- {
			if c := line[i]; c >= 'a' && c <= 'z' && line[i-1] != '\\' {
				line[i] = 'a' + (c-'a'+1)%26
				break
			}
		}
	}
	return line
}

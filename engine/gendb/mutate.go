package gendb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"cairn/chunk/record"
)

// Mutation says how much of a database to change.
type Mutation struct {
	Fraction float64 // share of the records touched, split evenly between edits, inserts and deletes
	Seed     int64
}

// MutationStats say what Mutate did.
type MutationStats struct {
	Edited       int   `json:"edited"`
	Inserted     int   `json:"inserted"`
	Deleted      int   `json:"deleted"`
	ChangedBytes int64 `json:"changed_bytes"` // bytes of the new lines of edited and inserted records, newlines included
	Bytes        int64 `json:"bytes"`         // bytes of all collections afterwards
}

// Mutate edits, inserts and deletes records of the folder database in dir, in place.
//
// Fraction × records changes are made, a third of each kind. The record each edit
// and delete touches, and the record whose collection receives each insert, is drawn
// uniformly over all records of all collections. An edit keeps the id and changes part
// of the record: the updated timestamp, and a few lines of code, a run of words, a
// short field or a reference. An insert gets a fresh id and lands at its sorted place.
//
// Collections are rewritten one at a time, through a temporary file renamed over the
// old one; collections without changes are left alone. Memory holds the planned
// changes and one record at a time.
func Mutate(dir string, m Mutation) (MutationStats, error) {
	var st MutationStats
	if !(m.Fraction >= 0 && m.Fraction <= 1) {
		return st, fmt.Errorf("mutate: fraction %v outside [0, 1]", m.Fraction)
	}
	names, counts, err := countRecords(dir)
	if err != nil {
		return st, fmt.Errorf("mutate: %w", err)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	k := int(math.Round(float64(total) * m.Fraction))
	edits, deletes, inserts := (k+2)/3, (k+1)/3, k/3
	r := newRNG(uint64(m.Seed), hashString("mutate"))

	// Distinct records for edits and deletes (Floyd's sampling), in random roles.
	chosen := make(map[int]struct{}, edits+deletes)
	picked := make([]int, 0, edits+deletes)
	for j := total - (edits + deletes); j < total; j++ {
		t := r.intn(j + 1)
		if _, ok := chosen[t]; ok {
			t = j
		}
		chosen[t] = struct{}{}
		picked = append(picked, t)
	}
	for i := len(picked) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		picked[i], picked[j] = picked[j], picked[i]
	}
	// Per collection: changes by record position, and the number of inserts.
	starts := make([]int, len(counts)+1)
	for i, n := range counts {
		starts[i+1] = starts[i] + n
	}
	which := func(p int) int {
		i, _ := slices.BinarySearch(starts, p+1)
		return i - 1
	}
	changes := make([][]change, len(names))
	for i, p := range picked {
		c := which(p)
		changes[c] = append(changes[c], change{pos: p - starts[c], del: i >= edits})
	}
	ins := make([]int, len(names))
	for range inserts {
		ins[which(r.intn(total))]++
	}

	for i, name := range names {
		path := filepath.Join(dir, name+".jsonl")
		if len(changes[i]) == 0 && ins[i] == 0 {
			fi, err := os.Stat(path)
			if err != nil {
				return st, fmt.Errorf("mutate: %w", err)
			}
			st.Bytes += fi.Size()
			continue
		}
		slices.SortFunc(changes[i], func(a, b change) int { return a.pos - b.pos })
		cs, err := mutateCollection(path, name, changes[i], ins[i], uint64(m.Seed))
		if err != nil {
			return st, fmt.Errorf("mutate %s: %w", name, err)
		}
		st.Edited += cs.Edited
		st.Inserted += cs.Inserted
		st.Deleted += cs.Deleted
		st.ChangedBytes += cs.ChangedBytes
		st.Bytes += cs.Bytes
	}
	return st, nil
}

// change is an edit or a delete of the record at pos in its collection.
type change struct {
	pos int
	del bool
}

// countRecords lists the collections of a folder, in name order, with their records.
func countRecords(dir string) ([]string, []int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	var counts []int
	buf := make([]byte, 1<<20)
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		n, err := countLines(filepath.Join(dir, e.Name()), buf)
		if err != nil {
			return nil, nil, err
		}
		names = append(names, name)
		counts = append(counts, n)
	}
	return names, counts, nil
}

// countLines counts records: newlines, plus a last line without one.
func countLines(path string, buf []byte) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, last := 0, byte('\n')
	for {
		k, err := f.Read(buf)
		if k > 0 {
			n += bytes.Count(buf[:k], []byte{'\n'})
			last = buf[k-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}

// fallbackKind shapes inserts into collections gendb does not know.
var fallbackKind = &kinds[cHints]

func mutateCollection(path, name string, changes []change, inserts int, seed uint64) (st MutationStats, err error) {
	k := kindByName(name)
	if k == nil || k.render == nil {
		k = fallbackKind
	}
	salt := hashString(name)
	fresh := sortedIDs(newRNG(seed, salt, 5), inserts)
	er := newRNG(seed, salt, 6)
	e := &enc{}

	in, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer in.Close()
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return st, err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(out, 1<<20)
	emit := func(line []byte, changed bool) {
		w.Write(line)
		st.Bytes += int64(len(line))
		if changed {
			st.ChangedBytes += int64(len(line))
		}
	}
	var idText [uidLen]byte
	insertBefore := func(id []byte) {
		for len(fresh) > 0 {
			ft := appendUID(idText[:0], fresh[0])
			c := -1 // at the end, every insert is before
			if id != nil {
				c = bytes.Compare(ft, id)
			}
			if c > 0 {
				return
			}
			if c < 0 {
				e.b = e.b[:0]
				e.r = newRNG(seed, salt, 7, uint64(len(fresh)))
				e.record(k, fresh[0], min(drawSize(&e.r, k.sizes), 250000))
				emit(e.b, true)
				st.Inserted++
			} // else the id exists already: skip this insert
			fresh = fresh[1:]
		}
	}

	rd := bufio.NewReaderSize(in, 1<<20)
	var long []byte
	for pos := 0; ; pos++ {
		line, rerr := rd.ReadSlice('\n')
		if rerr == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for rerr == bufio.ErrBufferFull {
				line, rerr = rd.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if rerr != nil && rerr != io.EOF {
			return st, rerr
		}
		if len(line) == 0 {
			break
		}
		if line[len(line)-1] != '\n' {
			line = append(slices.Clip(line), '\n')
		}
		insertBefore(recordID(line))
		switch {
		case len(changes) > 0 && changes[0].pos == pos && changes[0].del:
			st.Deleted++
		case len(changes) > 0 && changes[0].pos == pos:
			emit(edit(line, &er), true)
			st.Edited++
		default:
			emit(line, false)
		}
		if len(changes) > 0 && changes[0].pos == pos {
			changes = changes[1:]
		}
		if rerr == io.EOF {
			break
		}
	}
	insertBefore(nil)
	if len(changes) > 0 {
		return st, errors.New("collection changed while it was read")
	}
	if err := w.Flush(); err != nil {
		return st, err
	}
	if err := out.Close(); err != nil {
		return st, err
	}
	in.Close() // Windows renames nothing over an open file
	return st, os.Rename(tmp, path)
}

// recordID returns the id a line starts with, or the whole line when it has none.
func recordID(line []byte) []byte {
	if key, ok := record.Key(line); ok {
		return key
	}
	return line
}

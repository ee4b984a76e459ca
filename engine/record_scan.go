package engine

import (
	"bytes"
	"context"

	"cairn/chunk"
	"cairn/repo"
)

// recordHit is one record a scan matched: its id, the BLAKE3 hash of its bytes
// (without the newline) and their length.
type recordHit struct {
	ID   string
	Hash chunk.ID
	Size int64
}

// chunkMemo is what a scan learnt from reading one chunk of a collection.
type chunkMemo struct {
	nl    bool        // the chunk's bytes end with a newline: the next chunk starts a record
	whole bool        // the chunk held whole records only (it began and ended between records)
	hits  []recordHit // the records of a whole chunk that matched
}

// chunkScanner reads the records of many snapshots' collections and calls back for
// those that match, reading each chunk once: snapshots share every chunk whose
// records did not change (chunks are cut between records, chosen by the records
// alone), so a chunk read for one snapshot is not read again for the next. For every
// chunk it read it remembers whether it ends with a newline and, when it held whole
// records only, which of them matched. A later list that holds the chunk right after
// one known to end with a newline (or first) takes its matches from that memo. Chunks
// that hold part of a record longer than the chunker's maximum are read every time.
//
// Memory grows with the number of distinct chunks (their id, a flag and the matches),
// never with their bytes; the match function decides what a hit costs.
type chunkScanner struct {
	r     *repo.Repository
	match func(collection, id string, rec []byte) bool
	memo  map[string]map[chunk.ID]*chunkMemo // by collection: match may depend on it
}

func newChunkScanner(r *repo.Repository, match func(collection, id string, rec []byte) bool) *chunkScanner {
	return &chunkScanner{r: r, match: match, memo: map[string]map[chunk.ID]*chunkMemo{}}
}

// collection calls fn, in order, for every matching record of the collection called
// name whose chunks are ids.
func (s *chunkScanner) collection(ctx context.Context, name string, ids []chunk.ID, fn func(recordHit) error) error {
	memo := s.memo[name]
	if memo == nil {
		memo = map[chunk.ID]*chunkMemo{}
		s.memo[name] = memo
	}
	reusable := func(i int) bool {
		m := memo[ids[i]]
		if m == nil || !m.whole {
			return false
		}
		if i == 0 {
			return true
		}
		prev := memo[ids[i-1]]
		return prev != nil && prev.nl
	}
	for i := 0; i < len(ids); {
		if reusable(i) {
			for _, h := range memo[ids[i]].hits {
				if err := fn(h); err != nil {
					return err
				}
			}
			i++
			continue
		}
		j := i + 1
		for j < len(ids) && !reusable(j) {
			j++
		}
		if err := s.read(ctx, name, memo, ids[i:j], fn); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// read reads a run of chunks that starts between records and calls fn for its
// matching records, noting what it learns of each chunk in memo.
func (s *chunkScanner) read(ctx context.Context, name string, memo map[chunk.ID]*chunkMemo, ids []chunk.ID, fn func(recordHit) error) error {
	var partial []byte
	visit := func(line []byte) (recordHit, bool) {
		rec := bytes.TrimSuffix(line, []byte{'\n'})
		id := RecordID(rec)
		if !s.match(name, id, rec) {
			return recordHit{}, false
		}
		return recordHit{ID: id, Hash: chunk.Hash(rec), Size: int64(len(rec))}, true
	}
	err := s.r.LoadChunks(ctx, ids, func(i int, data []byte) error {
		m := &chunkMemo{whole: len(partial) == 0, nl: len(data) > 0 && data[len(data)-1] == '\n'}
		for len(data) > 0 {
			k := bytes.IndexByte(data, '\n')
			if k < 0 {
				partial = append(partial, data...)
				m.whole = false
				break
			}
			line := data[:k+1]
			data = data[k+1:]
			spans := len(partial) > 0
			if spans {
				partial = append(partial, line...)
				line = partial
			}
			if h, ok := visit(line); ok {
				if !spans {
					m.hits = append(m.hits, h)
				}
				if err := fn(h); err != nil {
					return err
				}
			}
			partial = partial[:0]
		}
		if !m.whole {
			m.hits = nil
		}
		memo[ids[i]] = m
		return nil
	})
	if err != nil {
		return err
	}
	if len(partial) > 0 {
		if h, ok := visit(partial); ok {
			return fn(h)
		}
	}
	return nil
}

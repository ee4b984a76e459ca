package repo

import (
	"cairn/chunk"
)

// formatNarrow is the first repository format whose chunk ids are 128 bits wide
// (stored as 16 bytes in pack tables, index files and chunk lists) and whose pack
// tables and index files take the compact layout of refs_compact.go.
const formatNarrow = 2

// idSize is the stored width of a chunk id in a repository of the given format.
func idSize(format int) int {
	if format >= formatNarrow {
		return chunk.NarrowSize
	}
	return len(chunk.ID{})
}

// idSize is the stored width of this repository's chunk ids.
func (r *Repository) idSize() int { return idSize(r.cfg.Format) }

// narrowIDs reports whether the repository names chunks by 128-bit ids.
func (r *Repository) narrowIDs() bool { return r.cfg.Format >= formatNarrow }

// readID reads a stored id of width w (16 or 32 bytes) from the start of b.
func readID(b []byte, w int) chunk.ID {
	var id chunk.ID
	copy(id[:w], b)
	return id
}

// appendID appends the stored form of id, w bytes wide.
func appendID(b []byte, id chunk.ID, w int) []byte { return append(b, id[:w]...) }

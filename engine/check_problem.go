package engine

// ProblemKind says what a check problem concerns.
type ProblemKind string

// The kinds of check problems.
const (
	// ProblemSnapshot: the manifests cannot be read, or a snapshot needs chunks the
	// index does not have.
	ProblemSnapshot ProblemKind = "snapshot"
	// ProblemCollection: a collection's chunk list cannot be read.
	ProblemCollection ProblemKind = "collection"
	// ProblemPack: a pack is missing, shorter than the index says, cannot be read, or
	// is not in the index at all (a warning).
	ProblemPack ProblemKind = "pack"
	// ProblemChunk: a chunk of a pack does not decode or does not hash to its id.
	ProblemChunk ProblemKind = "chunk"
	// ProblemIndex: the index cannot be read.
	ProblemIndex ProblemKind = "index"
)

// Problem is one thing check found wrong (or, among the warnings, odd but harmless).
// The fields that name an object are set where the problem concerns one: Snapshot for
// snapshot and collection problems, Collection for collection problems, Pack (its full
// name) for pack and chunk problems, Chunk for chunk problems. Message is a sentence
// for people that names the object itself, as the text output prints it.
type Problem struct {
	Kind       ProblemKind `json:"kind"`
	Snapshot   string      `json:"snapshot,omitempty"`
	Collection string      `json:"collection,omitempty"`
	Pack       string      `json:"pack,omitempty"`
	Chunk      string      `json:"chunk,omitempty"`
	Message    string      `json:"message"`
}

// String is the problem's message.
func (p Problem) String() string { return p.Message }

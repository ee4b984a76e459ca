package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"cairn/engine"
	"cairn/repo"
)

// Comparing snapshots and following records through them: GET /cairn/v1/diff,
// /cairn/v1/diff/record, /cairn/v1/find and /cairn/v1/log.

// maxDiffIDs is the most ids a diff lists per collection and kind of change.
const maxDiffIDs = 10000

// SnapshotDiff answers GET /cairn/v1/diff.
type SnapshotDiff struct {
	From        string           `json:"from"`
	To          string           `json:"to"`
	Collections []CollectionDiff `json:"collections"`
}

// CollectionDiff lists the ids added, removed and changed in one collection; an id
// repeated in a collection is listed as id~n for its n-th repeat.
type CollectionDiff struct {
	Name      string   `json:"name"`
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Changed   []string `json:"changed"`
	Truncated bool     `json:"truncated,omitempty"` // a list was cut at maxDiffIDs
}

// RecordDiff answers GET /cairn/v1/diff/record.
type RecordDiff struct {
	Before json.RawMessage      `json:"before"` // the record (a JSON object) or null
	After  json.RawMessage      `json:"after"`
	Fields []engine.FieldChange `json:"fields"`
}

// RecordLog answers GET /cairn/v1/log.
type RecordLog struct {
	Collection string           `json:"collection"`
	ID         string           `json:"id"`
	Versions   []engine.Version `json:"versions"`
}

func (s *Server) snapshotDiff(w http.ResponseWriter, r *http.Request) {
	rp, pair, err := s.snapshotParams(r, "from", "to")
	if err != nil {
		writeError(w, err)
		return
	}
	from, to := pair[0], pair[1]
	diffs, err := engine.Diff(r.Context(), rp, from, to)
	if err != nil {
		writeError(w, err)
		return
	}
	out := SnapshotDiff{From: from.ID, To: to.ID, Collections: []CollectionDiff{}}
	for _, d := range diffs {
		cd := CollectionDiff{Name: d.Name, Added: []string{}, Removed: []string{}, Changed: []string{}}
		for _, rc := range d.Records {
			list := map[string]*[]string{engine.Added: &cd.Added, engine.Removed: &cd.Removed, engine.Changed: &cd.Changed}[rc.Change]
			if list == nil {
				continue
			}
			if len(*list) >= maxDiffIDs {
				cd.Truncated = true
				continue
			}
			*list = append(*list, rc.ID)
		}
		out.Collections = append(out.Collections, cd)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) recordDiff(w http.ResponseWriter, r *http.Request) {
	collection, id, err := recordParams(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	rp, pair, err := s.snapshotParams(r, "from", "to")
	if err != nil {
		writeError(w, err)
		return
	}
	from, to := pair[0], pair[1]
	var versions [2][]byte
	for i, sn := range []*repo.Snapshot{from, to} {
		rec, err := engine.Record(r.Context(), rp, sn, collection, id)
		if err != nil && !errors.Is(err, repo.ErrNotFound) {
			writeError(w, err)
			return
		}
		versions[i] = rec
	}
	if versions[0] == nil && versions[1] == nil {
		writeError(w, errorf(http.StatusNotFound, "neither %s nor %s holds record %q in %s", from.ID, to.ID, id, collection))
		return
	}
	fields, err := engine.CompareFields(versions[0], versions[1])
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, "record %q of %s: %v", id, collection, err))
		return
	}
	// CompareFields read both as JSON objects: they go out as they are, null when absent.
	writeJSON(w, http.StatusOK, RecordDiff{Before: versions[0], After: versions[1], Fields: fields})
}

func (s *Server) recordFind(w http.ResponseWriter, r *http.Request) {
	text, err := param(r.URL.Query(), "q", maxQuery)
	if err != nil {
		writeError(w, err)
		return
	}
	rp, list, err := s.snapshots(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := engine.Find(r.Context(), rp, list, text)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) recordLog(w http.ResponseWriter, r *http.Request) {
	collection, id, err := recordParams(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	rp, list, err := s.snapshots(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	versions, err := engine.History(r.Context(), rp, list, collection, id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, RecordLog{Collection: collection, ID: id, Versions: versions})
}

package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"cairn/chunk/record"
	"cairn/engine"
	"cairn/repo"
)

// The records of a snapshot: GET /cairn/v1/records (a page of them, searchable),
// GET /cairn/v1/record (one, as stored) and POST /cairn/v1/records/restore (chosen
// ones merged into the live database). Record ids and collection names travel in
// query parameters or the body, never in the path: an id may hold any character.

// Limits of the record endpoints.
const (
	defaultRecordLimit = 100
	maxRecordLimit     = 1000
	maxRestoreRecords  = 1000
	maxQuery           = 1024 // bytes of a search text
	maxCollectionName  = 256
)

// RecordList answers GET /cairn/v1/records.
type RecordList struct {
	Snapshot   string                 `json:"snapshot"`
	Total      int                    `json:"total"`
	NextOffset *int                   `json:"next_offset"` // null on the last page
	Records    []engine.RecordSummary `json:"records"`
}

// RecordsRestore is the body of POST /cairn/v1/records/restore.
type RecordsRestore struct {
	Snapshot string             `json:"snapshot"`
	Records  []engine.RecordRef `json:"records"`
}

// RecordsRestored answers it.
type RecordsRestored struct {
	Restored []engine.RecordRef `json:"restored"`
}

// param returns the query parameter name, which must be given and not empty, of at
// most max bytes.
func param(q url.Values, name string, max int) (string, error) {
	v := q.Get(name)
	if v == "" {
		return "", errorf(http.StatusBadRequest, "query parameter %q is missing", name)
	}
	if len(v) > max {
		return "", errorf(http.StatusBadRequest, "query parameter %q is longer than %d bytes", name, max)
	}
	return v, nil
}

// optionalParam is param for a parameter that may be left out ("" then).
func optionalParam(q url.Values, name string, max int) (string, error) {
	if !q.Has(name) {
		return "", nil
	}
	return param(q, name, max)
}

// intParam reads a non-negative integer parameter of at most max, def when absent.
func intParam(q url.Values, name string, def, max int) (int, error) {
	if !q.Has(name) {
		return def, nil
	}
	n, err := strconv.Atoi(q.Get(name))
	if err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, "query parameter %q must be a whole number of at least 0", name)
	}
	if n > max {
		return 0, errorf(http.StatusBadRequest, "query parameter %q must be at most %d", name, max)
	}
	return n, nil
}

// snapshotRef finds a snapshot by its exact id.
func (s *Server) snapshotRef(r *http.Request, id string) (*repo.Repository, *repo.Snapshot, error) {
	f := snapshotFinder{s: s, r: r}
	sn, err := f.find(id)
	if err != nil {
		return nil, nil, err
	}
	return f.rp, sn, nil
}

// snapshotParam finds the snapshot the query parameter name names.
func (s *Server) snapshotParam(r *http.Request, name string) (*repo.Repository, *repo.Snapshot, error) {
	rp, sns, err := s.snapshotParams(r, name)
	if err != nil {
		return nil, nil, err
	}
	return rp, sns[0], nil
}

// snapshotParams finds the snapshots the query parameters names name, in order,
// listing the repository's snapshots once.
func (s *Server) snapshotParams(r *http.Request, names ...string) (*repo.Repository, []*repo.Snapshot, error) {
	f := snapshotFinder{s: s, r: r}
	out := make([]*repo.Snapshot, 0, len(names))
	for _, name := range names {
		id, err := param(r.URL.Query(), name, 200)
		if err != nil {
			return nil, nil, err
		}
		sn, err := f.find(id)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, sn)
	}
	return f.rp, out, nil
}

// snapshotFinder finds snapshots by exact id, listing them on the first find only.
type snapshotFinder struct {
	s    *Server
	r    *http.Request
	rp   *repo.Repository
	list []*repo.Snapshot
}

func (f *snapshotFinder) find(id string) (*repo.Snapshot, error) {
	if err := repo.ValidSnapshotID(id); err != nil {
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	if f.rp == nil {
		rp, list, err := f.s.snapshots(f.r.Context())
		if err != nil {
			return nil, err
		}
		f.rp, f.list = rp, list
	}
	if sn := findSnapshot(f.list, id); sn != nil {
		return sn, nil
	}
	return nil, errorf(http.StatusNotFound, "no snapshot %q", id)
}

func (s *Server) recordsList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var opt engine.ListOptions
	var err error
	if opt.Collection, err = optionalParam(q, "collection", maxCollectionName); err != nil {
		writeError(w, err)
		return
	}
	if opt.Query, err = optionalParam(q, "q", maxQuery); err != nil {
		writeError(w, err)
		return
	}
	if opt.Offset, err = intParam(q, "offset", 0, 1<<40); err != nil {
		writeError(w, err)
		return
	}
	if opt.Limit, err = intParam(q, "limit", defaultRecordLimit, maxRecordLimit); err != nil {
		writeError(w, err)
		return
	}
	rp, sn, err := s.snapshotParam(r, "snapshot")
	if err != nil {
		writeError(w, err)
		return
	}
	page, err := engine.ListRecords(r.Context(), rp, sn, opt)
	if err != nil {
		writeError(w, err)
		return
	}
	out := RecordList{Snapshot: sn.ID, Total: page.Total, Records: page.Records}
	if next := opt.Offset + len(page.Records); next < page.Total {
		out.NextOffset = &next
	}
	writeJSON(w, http.StatusOK, out)
}

// recordParams reads the collection and id parameters.
func recordParams(q url.Values) (collection, id string, err error) {
	if collection, err = param(q, "collection", maxCollectionName); err != nil {
		return "", "", err
	}
	if id, err = param(q, "id", record.MaxID); err != nil {
		return "", "", err
	}
	return collection, id, nil
}

func (s *Server) recordGet(w http.ResponseWriter, r *http.Request) {
	collection, id, err := recordParams(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	rp, sn, err := s.snapshotParam(r, "snapshot")
	if err != nil {
		writeError(w, err)
		return
	}
	rec, err := engine.Record(r.Context(), rp, sn, collection, id)
	if err != nil {
		writeError(w, err)
		return
	}
	if !json.Valid(rec) {
		writeError(w, errorf(http.StatusInternalServerError, "record %q of %s in snapshot %s is not valid JSON", id, collection, sn.ID))
		return
	}
	writeJSON(w, http.StatusOK, json.RawMessage(rec))
}

// recordsRestore merges chosen records of a snapshot into the live database, in one
// transaction, all or nothing. Like an import it is refused (409) while a restore or
// an import writes the database.
func (s *Server) recordsRestore(w http.ResponseWriter, r *http.Request) {
	var body RecordsRestore
	if err := decodeBody(r, &body, false); err != nil {
		writeError(w, err)
		return
	}
	if err := checkRestoreBody(body); err != nil {
		writeError(w, err)
		return
	}
	if j := s.jobs.active(); j != nil && j.kind == restoration {
		writeError(w, errBusy)
		return
	}
	rp, sn, err := s.snapshotRef(r, body.Snapshot)
	if err != nil {
		writeError(w, err)
		return
	}
	done, err := engine.RestoreRecords(r.Context(), rp, sn, body.Records, s.cfg.DB.TryMerge)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, RecordsRestored{Restored: done})
}

// checkRestoreBody checks a restore request's fields.
func checkRestoreBody(b RecordsRestore) error {
	if b.Snapshot == "" {
		return errorf(http.StatusBadRequest, `"snapshot" is missing`)
	}
	if len(b.Records) == 0 {
		return errorf(http.StatusBadRequest, `"records" must name at least one record`)
	}
	if len(b.Records) > maxRestoreRecords {
		return errorf(http.StatusBadRequest, `"records" names more than %d records`, maxRestoreRecords)
	}
	for i, ref := range b.Records {
		switch {
		case ref.Collection == "" || len(ref.Collection) > maxCollectionName:
			return errorf(http.StatusBadRequest, "record %d: \"collection\" must be 1 to %d bytes", i, maxCollectionName)
		case ref.ID == "" || len(ref.ID) > record.MaxID:
			return errorf(http.StatusBadRequest, "record %d: \"id\" must be 1 to %d bytes", i, record.MaxID)
		}
	}
	return nil
}

package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"cairn/chunk/record"
	"cairn/engine"
	"cairn/engine/localdb"
	"cairn/repo"
)

// checkSchema answers 505 for a schema version this build does not know.
func checkSchema(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var sc Schema
	if err := json.Unmarshal(raw, &sc); err != nil {
		return errorf(http.StatusBadRequest, "invalid schema: %v", err)
	}
	return checkSchemaValue(&sc)
}

func checkSchemaValue(sc *Schema) error {
	if sc != nil && !knownSemantic[sc.Semantic] {
		return errorf(http.StatusHTTPVersionNotSupported, "schema %q is newer than this build of cairn understands; update cairn", sc.Semantic)
	}
	return nil
}

// startCreation starts a backup job of src and returns it. The job runs prepare, when
// given, before it backs up: what a job changes in the database happens only once the
// job has the server's one job slot.
func (s *Server) startCreation(ctx context.Context, src engine.Source, kind string, prepare func(context.Context) error) (*job, error) {
	r, err := s.repository(ctx)
	if err != nil {
		return nil, err
	}
	initial, total, err := s.newCreation(ctx, r, kind)
	if err != nil {
		return nil, err
	}
	id := initial.ID
	return s.jobs.start(creation, id, initial, func(ctx context.Context, progress func(float64)) (Backup, error) {
		if prepare != nil {
			if err := prepare(ctx); err != nil {
				return Backup{}, err
			}
		}
		// A lock for the job, and the index as it is after it: a prune running
		// meanwhile then deletes nothing this backup uses.
		if err := r.Lock(ctx, "backup"); err != nil {
			s.forgetRepository()
			return Backup{}, err
		}
		defer r.Release(context.WithoutCancel(ctx))
		sn, err := engine.Backup(ctx, r, src, engine.BackupOptions{
			ID: id, Kind: kind, DeviceName: s.cfg.DeviceName, Platform: s.cfg.Platform, Now: s.cfg.Now,
			Progress: engine.ProgressFunc(func(e engine.Event) {
				if total > 0 {
					progress(100 * float64(e.BytesDone) / float64(total))
				}
			}),
		})
		if err != nil {
			s.forgetRepository()
			return Backup{}, err
		}
		return backupOf(sn), nil
	})
}

// newCreation picks a new backup's id (version_timestamp, free in the repository)
// and returns the Backup clients see while it runs, and the bytes it will read when
// it backs up the whole database.
func (s *Server) newCreation(ctx context.Context, r *repo.Repository, kind string) (Backup, int64, error) {
	meta, err := s.cfg.DB.Meta()
	if err != nil {
		return Backup{}, 0, err
	}
	list, err := r.Snapshots(ctx)
	if err != nil {
		return Backup{}, 0, err
	}
	now := s.cfg.Now()
	id := repo.SnapshotID(meta.Version, now)
	for slices.ContainsFunc(list, func(sn *repo.Snapshot) bool { return sn.ID == id }) {
		now = now.Add(time.Millisecond)
		id = repo.SnapshotID(meta.Version, now)
	}
	var total int64
	if kind == repo.KindDatabase {
		st, err := s.cfg.DB.Stats()
		if err != nil {
			return Backup{}, 0, err
		}
		total = st.Bytes
	}
	return Backup{ID: id, Version: meta.Version, Timestamp: strconv.FormatInt(now.UnixMilli(), 10),
		Created:    GroupedTimestamp{Value: now.UTC().Format("2006-01-02T15:04:05.000Z"), Readable: readable(now.UTC())},
		DeviceName: s.cfg.DeviceName, Platform: s.cfg.Platform}, total, nil
}

func (s *Server) backupsCreate(w http.ResponseWriter, r *http.Request) {
	answer(w, r, s.createFromRequest)
}

// answer starts a job, waits for it and answers its Backup. A client that leaves
// gets nothing; the job goes on.
func answer(w http.ResponseWriter, r *http.Request, start func(*http.Request) (*job, error)) {
	j, err := start(r)
	if err != nil {
		writeError(w, err)
		return
	}
	b, err := j.result(r.Context())
	if r.Context().Err() != nil {
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// createFromRequest reads a SeededBackup and starts a backup of the whole database.
func (s *Server) createFromRequest(r *http.Request) (*job, error) {
	var seed SeededBackup
	if err := decodeBody(r, &seed, true); err != nil {
		return nil, err
	}
	if err := checkSchemaValue(seed.Schema); err != nil {
		return nil, err
	}
	return s.startCreation(r.Context(), engine.DatabaseSource{DB: s.cfg.DB}, repo.KindDatabase, nil)
}

func (s *Server) backupsList(w http.ResponseWriter, r *http.Request) {
	_, list, err := s.snapshots(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := Backups{Iterable: []Backup{}}
	for i := len(list) - 1; i >= 0; i-- {
		out.Iterable = append(out.Iterable, backupOf(list[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// snapshot finds a snapshot by its exact id.
func (s *Server) snapshot(r *http.Request) (*repo.Repository, *repo.Snapshot, error) {
	id, err := backupID(r)
	if err != nil {
		return nil, nil, err
	}
	rp, list, err := s.snapshots(r.Context())
	if err != nil {
		return nil, nil, err
	}
	if sn := findSnapshot(list, id); sn != nil {
		return rp, sn, nil
	}
	return nil, nil, errorf(http.StatusNotFound, "no backup %q", id)
}

// findSnapshot returns the snapshot of list whose id is id, or nil.
func findSnapshot(list []*repo.Snapshot, id string) *repo.Snapshot {
	for _, sn := range list {
		if sn.ID == id {
			return sn
		}
	}
	return nil
}

func (s *Server) backupsDelete(w http.ResponseWriter, r *http.Request) {
	var body Backup
	if err := decodeBody(r, &body, true); err != nil {
		writeError(w, err)
		return
	}
	rp, sn, err := s.snapshot(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if j := s.jobs.active(); j != nil && j.id == sn.ID {
		writeError(w, errBusy)
		return
	}
	if err := engine.Forget(r.Context(), rp, []*repo.Snapshot{sn}); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) backupGet(w http.ResponseWriter, r *http.Request) {
	_, sn, err := s.snapshot(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, backupOf(sn))
}

// assetLines checks assets (JSON objects with a string id) and returns them as
// records, one per line.
func assetLines(raws []json.RawMessage) ([]byte, error) {
	var out bytes.Buffer
	for i, raw := range raws {
		if _, err := record.ID(raw); err != nil {
			return nil, errorf(http.StatusBadRequest, "asset %d: %v (an asset is a JSON object with a string \"id\" of 1 to %d bytes)", i, err, record.MaxID)
		}
		if err := json.Compact(&out, raw); err != nil {
			return nil, errorf(http.StatusBadRequest, "asset %d: %v", i, err)
		}
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// backupAssetsOf stores assets in the local database and snapshots just them, in one
// job: while another job runs it answers 409 and the database stays as it was.
func (s *Server) backupAssetsOf(w http.ResponseWriter, r *http.Request, raws []json.RawMessage) {
	lines, err := assetLines(raws)
	if err != nil {
		writeError(w, err)
		return
	}
	meta, err := s.cfg.DB.Meta()
	if err != nil {
		writeError(w, err)
		return
	}
	src := engine.BytesSource{Version: meta.Version, Collections: map[string][]byte{"assets": lines}}
	store := func(ctx context.Context) error {
		return s.cfg.DB.Merge(ctx, func(wr *localdb.Writer) error {
			return wr.Collection("assets", bytes.NewReader(lines))
		})
	}
	j, err := s.startCreation(r.Context(), src, repo.KindAssets, store)
	if err != nil {
		writeError(w, err)
		return
	}
	_, err = j.result(r.Context())
	switch {
	case r.Context().Err() != nil:
	case err != nil:
		writeError(w, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) backupAssets(w http.ResponseWriter, r *http.Request) {
	var body Assets
	if err := decodeBody(r, &body, false); err != nil {
		writeError(w, err)
		return
	}
	if err := checkSchemaValue(body.Schema); err != nil {
		writeError(w, err)
		return
	}
	if body.Iterable == nil {
		writeError(w, errorf(http.StatusBadRequest, "assets need an \"iterable\" array"))
		return
	}
	s.backupAssetsOf(w, r, body.Iterable)
}

func (s *Server) backupAsset(w http.ResponseWriter, r *http.Request) {
	raw, err := readRaw(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.backupAssetsOf(w, r, []json.RawMessage{raw})
}

// readRaw reads a body that must be one JSON value.
func readRaw(r *http.Request) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := decodeBody(r, &raw, false); err != nil {
		return nil, err
	}
	return raw, nil
}

// startRestoration starts restoring a snapshot into the local database.
func (s *Server) startRestoration(r *http.Request) (*job, error) {
	var body Backup
	if err := decodeBody(r, &body, true); err != nil {
		return nil, err
	}
	rp, sn, err := s.snapshot(r)
	if err != nil {
		return nil, err
	}
	b := backupOf(sn)
	total := sn.Totals.RawBytes
	return s.jobs.start(restoration, sn.ID, b, func(ctx context.Context, progress func(float64)) (Backup, error) {
		if err := rp.Lock(ctx, "restore"); err != nil {
			s.forgetRepository()
			return b, err
		}
		defer rp.Release(context.WithoutCancel(ctx))
		sink := engine.NewDatabaseSink(ctx, s.cfg.DB, sn.Kind == repo.KindAssets)
		err := engine.Restore(ctx, rp, sn, sink, engine.RestoreOptions{Progress: engine.ProgressFunc(func(e engine.Event) {
			if total > 0 {
				progress(100 * float64(e.BytesDone) / float64(total))
			}
		})})
		return b, err
	})
}

func (s *Server) backupRestore(w http.ResponseWriter, r *http.Request) {
	answer(w, r, s.startRestoration)
}

func (s *Server) status(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := backupID(r)
		if err != nil {
			writeError(w, err)
			return
		}
		if j := s.jobs.find(kind, id); j != nil {
			f := j.frame()
			writeJSON(w, http.StatusOK, BackupStatus{Value: f.Status, Percentage: f.Percentage, Backup: *f.Backup})
			return
		}
		if kind == creation {
			if _, sn, err := s.snapshot(r); err == nil {
				writeJSON(w, http.StatusOK, BackupStatus{Value: StatusCompleted, Percentage: pct(100), Backup: backupOf(sn)})
				return
			}
		}
		writeError(w, errorf(http.StatusNotFound, "no %s of backup %q is known", kind, id))
	}
}

func (s *Server) cancel(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := backupID(r)
		if err != nil {
			writeError(w, err)
			return
		}
		var body Backup
		if err := decodeBody(r, &body, true); err != nil {
			writeError(w, err)
			return
		}
		j := s.jobs.active()
		if j == nil || j.kind != kind || j.id != id {
			writeError(w, errorf(http.StatusInternalServerError, "no %s of backup %q is running", kind, id))
			return
		}
		j.cancel()
		select {
		case <-j.done:
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		}
	}
}

// backupsProgress answers the running jobs' progress: one JSON value to a plain GET,
// a frame on every change to a websocket (progress_ws.go).
func (s *Server) backupsProgress(w http.ResponseWriter, r *http.Request) {
	if isUpgrade(r) {
		s.progressWebsocket(w, r)
		return
	}
	writeJSON(w, http.StatusOK, s.progress())
}

// progress lists the running job, if any.
func (s *Server) progress() BackupsStreamedProgress {
	out := BackupsStreamedProgress{Backups: []BackupStreamedProgress{}, Restorations: []BackupStreamedProgress{}}
	if j := s.jobs.active(); j != nil {
		if j.kind == creation {
			out.Backups = append(out.Backups, j.frame())
		} else {
			out.Restorations = append(out.Restorations, j.frame())
		}
	}
	return out
}

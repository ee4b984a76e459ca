// Package httpapi serves the Pieces Database, Backup and Backups API over cairn's
// engine: the documented paths, JSON models and status codes, nothing more.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"cairn/engine/localdb"
	"cairn/repo"
)

// Config is what the server needs.
type Config struct {
	DB *localdb.DB
	// OpenRepo connects to the backup repository; it may fail when none is configured
	// or reachable, which the API answers with 511.
	OpenRepo   func(ctx context.Context) (*repo.Repository, error)
	DeviceName string
	Platform   string // PlatformEnum value
	Logger     *slog.Logger
	Now        func() time.Time
	MaxBody    int64 // largest request body for everything but import; 16 MiB when 0
	MaxImport  int64 // largest import body; 16 GiB when 0

	// HeaderTimeout bounds the reading of a request's headers; 10 s when 0.
	HeaderTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that sends no request; 2 min when 0.
	IdleTimeout time.Duration
	// IOTimeout is the time a client has for each 64 KiB of a request body or of a
	// response: a client that stops reading an export, or trickles an import in, is
	// cut off after it; 30 s when 0.
	IOTimeout time.Duration

	// Schedule is the daemon's schedule, shown at GET /cairn/v1/schedule; nil when it
	// has none.
	Schedule Scheduler
}

// Server is the HTTP API. Shut it down to cancel running jobs and wait for them.
type Server struct {
	cfg    Config
	jobs   *jobs
	stop   context.CancelFunc
	repoMu chan struct{} // held (one token) while the repository is opened
	repo   atomic.Pointer[repo.Repository]
}

// New returns a server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 16 << 20
	}
	if cfg.MaxImport == 0 {
		cfg.MaxImport = 16 << 30
	}
	if cfg.HeaderTimeout == 0 {
		cfg.HeaderTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.IOTimeout == 0 {
		cfg.IOTimeout = 30 * time.Second
	}
	if !platforms[cfg.Platform] {
		cfg.Platform = "UNKNOWN"
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Server{cfg: cfg, jobs: newJobs(ctx), stop: stop, repoMu: make(chan struct{}, 1)}
}

// Shutdown cancels running jobs and waits until they have ended or ctx is done; a
// cancelled restore leaves the database as it was, a cancelled backup leaves no
// snapshot.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	return s.jobs.wait(ctx)
}

// HTTPServer returns an http.Server for the API with its timeouts.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
}

// Handler returns the API's routes behind the local-service guards.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := map[string]http.HandlerFunc{
		"GET /database/export":                            s.databaseExport,
		"POST /database/import":                           s.databaseImport,
		"POST /backups/create":                            s.backupsCreate,
		"POST /backups/create/streamed":                   s.backupsCreateStreamed,
		"GET /backups/create/streamed/websocket":          s.backupsCreateWebsocket,
		"GET /backups":                                    s.backupsList,
		"GET /backups/streamed/progress":                  s.backupsProgress,
		"POST /backups/{backup}/delete":                   s.backupsDelete,
		"POST /backup":                                    s.backupAssets,
		"POST /backup/asset":                              s.backupAsset,
		"GET /backup/{backup}":                            s.backupGet,
		"POST /backup/{backup}/restore":                   s.backupRestore,
		"POST /backup/{backup}/restore/streamed":          s.backupRestoreStreamed,
		"GET /backup/{backup}/restore/streamed/websocket": s.backupRestoreWebsocket,
		"GET /backup/{backup}/creation/status":            s.status(creation),
		"GET /backup/{backup}/restoration/status":         s.status(restoration),
		"POST /backup/{backup}/creation/cancel":           s.cancel(creation),
		"POST /backup/{backup}/restoration/cancel":        s.cancel(restoration),
		"GET /cairn/v1/schedule":                          s.scheduleStatus,
		"GET /cairn/v1/overview":                          s.overview,
		"GET /cairn/v1/snapshots":                         s.snapshotList,
		"GET /{$}":                                        s.dashboardIndex,
		"GET /web/{file}":                                 s.dashboardFile,
		"GET /cairn/v1/records":                           s.recordsList,
		"GET /cairn/v1/record":                            s.recordGet,
		"POST /cairn/v1/records/restore":                  s.recordsRestore,
		"GET /cairn/v1/diff":                              s.snapshotDiff,
		"GET /cairn/v1/diff/record":                       s.recordDiff,
		"GET /cairn/v1/find":                              s.recordFind,
		"GET /cairn/v1/log":                               s.recordLog,
	}
	for pattern, h := range routes {
		mux.HandleFunc(pattern, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return s.exchange(s.guard(mux))
}

// decodeBody reads a JSON body strictly into v: no unknown fields, one value. An
// empty body leaves v as it is when optional.
func decodeBody(r *http.Request, v any, optional bool) error {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		if optional {
			return nil
		}
		return errorf(http.StatusBadRequest, "request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "invalid request body: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "invalid request body: more than one JSON value")
	}
	return nil
}

// backupID reads and checks the {backup} path value.
func backupID(r *http.Request) (string, error) {
	id := r.PathValue("backup")
	if err := repo.ValidSnapshotID(id); err != nil {
		return "", errorf(http.StatusBadRequest, "%v", err)
	}
	return id, nil
}

// repository returns the open repository, connecting on first use. Callers wait for
// one another's connecting until their ctx ends.
func (s *Server) repository(ctx context.Context) (*repo.Repository, error) {
	if r := s.repo.Load(); r != nil {
		return r, nil
	}
	select {
	case s.repoMu <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.repoMu }()
	if r := s.repo.Load(); r != nil {
		return r, nil
	}
	if s.cfg.OpenRepo == nil {
		return nil, errNoRepository
	}
	r, err := s.cfg.OpenRepo(ctx)
	if err != nil {
		if errors.Is(err, repo.ErrNewerFormat) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errNoRepository, err)
	}
	s.repo.Store(r)
	return r, nil
}

// snapshots returns the open repository and its snapshots, for the handlers that
// list or search them.
func (s *Server) snapshots(ctx context.Context) (*repo.Repository, []*repo.Snapshot, error) {
	rp, err := s.repository(ctx)
	if err != nil {
		return nil, nil, err
	}
	list, err := rp.Snapshots(ctx)
	if err != nil {
		return nil, nil, err
	}
	return rp, list, nil
}

// forgetRepository drops the open repository, so the next call reconnects and
// reloads its index (after a failed job, say).
func (s *Server) forgetRepository() { s.repo.Store(nil) }

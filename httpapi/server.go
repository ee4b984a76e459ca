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
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
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
}

// Server is the HTTP API. Close it to cancel running jobs and wait for them.
type Server struct {
	cfg    Config
	jobs   *jobs
	stop   context.CancelFunc
	repoMu sync.Mutex
	repo   *repo.Repository
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
	if !platforms[cfg.Platform] {
		cfg.Platform = "UNKNOWN"
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Server{cfg: cfg, jobs: newJobs(ctx), stop: stop}
}

// Close cancels running jobs and waits until they have ended; a cancelled restore
// leaves the database as it was, a cancelled backup leaves no snapshot.
func (s *Server) Close() {
	s.stop()
	s.jobs.wait()
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
	}
	for pattern, h := range routes {
		mux.HandleFunc(pattern, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return s.guard(mux)
}

// guard refuses requests that are not for a loopback host (DNS rebinding), that come
// from a web page of another origin, or whose path is not clean; it sets no CORS
// headers, so browsers keep other origins out.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			writeError(w, errorf(http.StatusForbidden, "host %q is not a loopback name; this service answers only on localhost", r.Host))
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || !loopbackHost(u.Host) {
				writeError(w, errorf(http.StatusForbidden, "requests from origin %q are not allowed", o))
				return
			}
		}
		if p := r.URL.EscapedPath(); p != "/" && (path.Clean(p) != p || strings.Contains(p, "//")) {
			writeError(w, errorf(http.StatusBadRequest, "invalid path %q", p))
			return
		}
		limit := s.cfg.MaxBody
		if r.URL.Path == "/database/import" {
			limit = s.cfg.MaxImport
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		start := s.cfg.Now()
		next.ServeHTTP(w, r)
		s.cfg.Logger.Debug("request", "method", r.Method, "path", r.URL.Path, "took", s.cfg.Now().Sub(start))
	})
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// decodeBody reads a JSON body strictly into v: no unknown fields, one value. An
// empty body leaves v as it is when optional.
func decodeBody(r *http.Request, v any, optional bool) error {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", mbe.Limit)
		}
		return errorf(http.StatusBadRequest, "read request body: %v", err)
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

// repository returns the open repository, connecting on first use.
func (s *Server) repository(ctx context.Context) (*repo.Repository, error) {
	s.repoMu.Lock()
	defer s.repoMu.Unlock()
	if s.repo != nil {
		return s.repo, nil
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
	s.repo = r
	return r, nil
}

// forgetRepository drops the open repository, so the next call reconnects and
// reloads its index (after a failed job, say).
func (s *Server) forgetRepository() {
	s.repoMu.Lock()
	defer s.repoMu.Unlock()
	s.repo = nil
}

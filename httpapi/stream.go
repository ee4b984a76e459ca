package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// frameInterval is how often a stream looks for new progress.
const frameInterval = 100 * time.Millisecond

// frames calls send with the job's state whenever it changes, and once more at the
// end. It returns when the job has ended, ctx is done, or send fails.
func frames(ctx context.Context, j *job, send func(BackupStreamedProgress) error) error {
	t := time.NewTicker(frameInterval)
	defer t.Stop()
	var last BackupStreamedProgress
	first := true
	for {
		f := j.frame()
		if first || f.Status != last.Status || *f.Percentage != *last.Percentage {
			if err := send(f); err != nil {
				return err
			}
			last, first = f, false
		}
		if j.finished() {
			if f = j.frame(); f.Status != last.Status || *f.Percentage != *last.Percentage {
				return send(f)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-j.done:
		}
	}
}

// stream answers a streamed endpoint. A client that accepts application/x-ndjson gets
// a BackupStreamedProgress per line as the work goes; any other client (the SDK parses
// one JSON value) gets the final BackupStreamedProgress once the job has ended.
func stream(w http.ResponseWriter, r *http.Request, j *job) {
	if !strings.Contains(r.Header.Get("Accept"), "application/x-ndjson") {
		j.result(r.Context()) // a failed or cancelled job answers its frame like any other
		if r.Context().Err() == nil {
			writeJSON(w, http.StatusOK, j.frame())
		}
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	frames(r.Context(), j, func(f BackupStreamedProgress) error {
		if err := enc.Encode(f); err != nil {
			return err
		}
		return rc.Flush()
	})
}

func (s *Server) backupsCreateStreamed(w http.ResponseWriter, r *http.Request) {
	j, err := s.createFromRequest(r)
	if err != nil {
		writeError(w, err)
		return
	}
	stream(w, r, j)
}

func (s *Server) backupRestoreStreamed(w http.ResponseWriter, r *http.Request) {
	j, err := s.startRestoration(r)
	if err != nil {
		writeError(w, err)
		return
	}
	stream(w, r, j)
}

// websocketFrames upgrades the connection and sends the job's progress frames as
// text messages, then closes it normally. The job goes on if the client leaves; a
// client that stops reading is left after the write timeout.
func (s *Server) websocketFrames(w http.ResponseWriter, r *http.Request, start func() (*job, error)) {
	// Errors before the upgrade are plain HTTP answers. The handshake is checked before
	// the job starts: a request that is not one (a plain GET, which any web page can
	// make) starts nothing.
	if err := checkHandshake(r); err != nil {
		writeError(w, err)
		return
	}
	j, err := start()
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := websocket.Accept(w, r, nil) // refuses cross-origin upgrades
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := c.CloseRead(r.Context())
	err = frames(ctx, j, func(f BackupStreamedProgress) error {
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, s.cfg.IOTimeout)
		defer cancel()
		return c.Write(wctx, websocket.MessageText, b)
	})
	if err == nil {
		c.Close(websocket.StatusNormalClosure, "done")
	}
}

// checkHandshake refuses what websocket.Accept would refuse, as a JSON error.
func checkHandshake(r *http.Request) error {
	hasToken := func(name, token string) bool {
		for _, v := range r.Header.Values(name) {
			for _, t := range strings.Split(v, ",") {
				if strings.EqualFold(strings.TrimSpace(t), token) {
					return true
				}
			}
		}
		return false
	}
	if !r.ProtoAtLeast(1, 1) || !hasToken("Connection", "upgrade") || !hasToken("Upgrade", "websocket") {
		return errorf(http.StatusUpgradeRequired, "this endpoint answers a websocket handshake only")
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		return errorf(http.StatusBadRequest, "websocket version %q: 13 is supported", v)
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.Join(keys, ""))); len(keys) != 1 || err != nil || len(key) != 16 {
		return errorf(http.StatusBadRequest, "invalid Sec-WebSocket-Key: want one of 16 bytes in base64")
	}
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || !strings.EqualFold(u.Host, r.Host) {
			return errorf(http.StatusForbidden, "websocket from origin %q is not allowed for host %q", o, r.Host)
		}
	}
	return nil
}

func (s *Server) backupsCreateWebsocket(w http.ResponseWriter, r *http.Request) {
	s.websocketFrames(w, r, func() (*job, error) { return s.createFromRequest(r) })
}

func (s *Server) backupRestoreWebsocket(w http.ResponseWriter, r *http.Request) {
	s.websocketFrames(w, r, func() (*job, error) { return s.startRestoration(r) })
}

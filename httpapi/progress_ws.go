package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// isUpgrade reports whether a request asks for a websocket.
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		if strings.Contains(strings.ToLower(v), "websocket") {
			return true
		}
	}
	return false
}

// progressWebsocket upgrades GET /backups/streamed/progress and sends a
// BackupsStreamedProgress text frame at once and then on every change of a job
// (started, moved on by a tenth of a percent, ended), until the client leaves or the
// server stops. A client that stops reading is left after the write timeout.
func (s *Server) progressWebsocket(w http.ResponseWriter, r *http.Request) {
	if err := checkHandshake(r); err != nil {
		writeError(w, err)
		return
	}
	c, err := websocket.Accept(w, r, nil) // refuses cross-origin upgrades
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := c.CloseRead(r.Context())
	var last []byte
	for {
		changed := s.jobs.watch() // before reading: no change is missed
		b, err := json.Marshal(s.progress())
		if err != nil {
			return
		}
		if !bytes.Equal(b, last) {
			wctx, cancel := context.WithTimeout(ctx, s.cfg.IOTimeout)
			err := c.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
			last = b
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-s.jobs.base.Done():
			c.Close(websocket.StatusGoingAway, "cairn is stopping")
			return
		}
	}
}

package httpapi

import (
	"errors"
	"io"
	"net/http"

	"cairn/engine/exported"
	"cairn/engine/localdb"
)

// countingWriter notes whether anything reached the client.
type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// databaseExport streams the database as an ExportedDatabase document from one read
// transaction; memory does not grow with the database.
func (s *Server) databaseExport(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	cw := &countingWriter{w: w}
	enc := exported.NewEncoder(cw)
	m, err := s.cfg.DB.Read(r.Context(), func(name string, rd io.Reader) error {
		if !exported.IsCollection(name) {
			return nil // not part of the document's model
		}
		return enc.WriteCollection(name, rd)
	})
	if err == nil {
		err = enc.Close(exported.Meta{Version: m.Version, Schema: m.Schema})
	}
	if err != nil {
		if cw.n == 0 {
			writeError(w, err)
			return
		}
		// Part of the document is out: end the connection so the client sees a
		// truncated response, never a valid-looking partial database.
		s.cfg.Logger.Error("export failed midway", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// databaseImport merges a document into the database, all or nothing: it is written
// into a copy of the database in batches (memory stays flat) that replaces the live
// one only when the whole document was good.
func (s *Server) databaseImport(w http.ResponseWriter, r *http.Request) {
	if j := s.jobs.active(); j != nil && j.kind == restoration {
		writeError(w, errBusy)
		return
	}
	before, err := s.cfg.DB.Meta()
	if err != nil {
		writeError(w, err)
		return
	}
	p, err := s.cfg.DB.BeginMerge(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	em, err := exported.Decode(r.Body, func(name string, body io.Reader) error {
		return p.Collection(name, body)
	})
	if err == nil {
		err = checkSchema(em.Schema)
	}
	if err == nil && before.Version == localdb.DefaultVersion && em.Version != "" {
		err = p.SetMeta(localdb.Meta{Version: em.Version, Schema: em.Schema})
	}
	if err != nil {
		p.Abort()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = errorf(http.StatusRequestEntityTooLarge, "import body is larger than %d bytes", mbe.Limit)
		}
		writeError(w, err)
		return
	}
	if err := p.Commit(r.Context()); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

package httpapi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// ioStep is how much of a request body or a response a client must move within
// Config.IOTimeout: a client that stops, or trickles slower than that, is cut off.
const ioStep = 64 << 10

// drainLimit bounds what is read and discarded of a request body the handler did not
// read to its end (an answer given before the body was needed), so that a client that
// sends its whole body before reading gets the answer rather than a reset connection.
const drainLimit = 64 << 20

// exchange gives each request deadlines that move as bytes flow, its body size limit,
// and, once answered, reads what is left of its body.
func (s *Server) exchange(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// A deadline left by the previous request on this connection must not cut an
		// answer that waited for a job.
		rc.SetWriteDeadline(time.Time{})
		body := &deadlineBody{body: r.Body, rc: rc, timeout: s.cfg.IOTimeout}
		limit := s.cfg.MaxBody
		if r.URL.Path == "/database/import" {
			limit = s.cfg.MaxImport
		}
		// The server's own writer, so that a body over the limit also closes the
		// connection after the answer.
		r.Body = http.MaxBytesReader(w, body, limit)
		dw := &deadlineWriter{ResponseWriter: w, rc: rc, timeout: s.cfg.IOTimeout}
		next.ServeHTTP(dw, r)
		if body.eof || body.err != nil || r.ContentLength == 0 {
			return
		}
		if body.n == 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
			return // the client waits for a 100 Continue it will not get, and sends nothing
		}
		if err := dw.FlushError(); err != nil {
			return
		}
		io.CopyN(io.Discard, body, drainLimit)
	})
}

// errSlowClient is a body that stopped arriving, or arrived too slowly.
type errSlowClient struct {
	step    int
	timeout time.Duration
}

func (e *errSlowClient) Error() string {
	return fmt.Sprintf("the request body arrived slower than %d KiB in %v", e.step>>10, e.timeout)
}

// deadlineBody reads a request body with a read deadline that moves forward by
// Config.IOTimeout each time another ioStep bytes have arrived. The deadline starts
// with the first read, so time the handler spends before it needs the body is not
// counted against the client; it is lifted at the end of the body.
type deadlineBody struct {
	body    io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	armed   bool
	since   int   // bytes since the deadline last moved
	n       int64 // bytes read
	eof     bool
	err     error // the first read error other than the end of the body
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if !b.armed || b.since >= ioStep {
		b.rc.SetReadDeadline(time.Now().Add(b.timeout))
		b.armed, b.since = true, 0
	}
	n, err := b.body.Read(p)
	b.since += n
	b.n += int64(n)
	switch {
	case err == io.EOF:
		b.eof = true
		// Past the body the server watches the connection for the client leaving; a
		// deadline there would cancel the request while it is still being answered.
		b.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = &errSlowClient{step: ioStep, timeout: b.timeout}
		b.err = err
	case err != nil:
		b.err = err
	}
	return n, err
}

func (b *deadlineBody) Close() error { return b.body.Close() }

// deadlineWriter gives every ioStep bytes of a response Config.IOTimeout to reach the
// client: a client that stops reading blocks a write, which then fails. Time the
// handler spends between writes (waiting for a job) is not counted.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (w *deadlineWriter) arm() { w.rc.SetWriteDeadline(time.Now().Add(w.timeout)) }

func (w *deadlineWriter) WriteHeader(code int) {
	w.arm()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), ioStep)
		w.arm()
		m, err := w.ResponseWriter.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// FlushError sends what is buffered, within the same deadline as a write.
func (w *deadlineWriter) FlushError() error {
	w.arm()
	return w.rc.Flush()
}

// Flush is FlushError for callers that ask for an http.Flusher.
func (w *deadlineWriter) Flush() { w.FlushError() }

// Hijack hands the connection over (to a websocket) without deadlines: the new owner
// sets its own.
func (w *deadlineWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := w.rc.Hijack()
	if err == nil {
		c.SetDeadline(time.Time{})
	}
	return c, brw, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

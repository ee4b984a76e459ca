package main

import (
	"io"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
)

// meter is a reverse proxy that counts the bytes clients send and receive.
type meter struct {
	next           http.Handler
	sent, received atomic.Int64
}

func (m *meter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	head, _ := httputil.DumpRequest(r, false)
	m.sent.Add(int64(len(head)))
	r.Body = &countBody{ReadCloser: r.Body, n: &m.sent}
	m.next.ServeHTTP(&countWriter{ResponseWriter: w, n: &m.received}, r)
}

type countBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

type countWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

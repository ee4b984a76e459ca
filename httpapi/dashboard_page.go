package httpapi

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
)

// The dashboard: a page, its script and its style sheet, served from the binary at /
// and /web/, on the API's own origin and behind the same guards.
//
//go:embed web/*.html web/*.js web/*.css
var webFiles embed.FS

// pageSecurity is the Content-Security-Policy of the dashboard: its own script, style
// and connections (the API and its websockets) only, no inline code, no frames.
const pageSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// dashboardIndex answers GET / with the page.
func (s *Server) dashboardIndex(w http.ResponseWriter, r *http.Request) {
	serveWebFile(w, r, "index.html")
}

// dashboardFile answers GET /web/{file} with one of the page's files.
func (s *Server) dashboardFile(w http.ResponseWriter, r *http.Request) {
	serveWebFile(w, r, r.PathValue("file"))
}

func serveWebFile(w http.ResponseWriter, r *http.Request, name string) {
	b, err := fs.ReadFile(webFiles, path.Join("web", name))
	if err != nil || name == "" || name != path.Base(name) {
		writeError(w, errorf(http.StatusNotFound, "no such file: %s", r.URL.Path))
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Content-Security-Policy", pageSecurity)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

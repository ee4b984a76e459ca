package httpapi

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// guard keeps the service to the local user's own programs. In order it refuses:
//   - a browser request from another site or another port of this one (Go's
//     cross-origin protection, by Sec-Fetch-Site, else Origin against Host), for
//     everything but GET, HEAD and OPTIONS;
//   - a request for a host that is not a loopback name (DNS rebinding);
//   - a request from a web page whose origin is not on a loopback host;
//   - a request that changes state (not GET, HEAD or OPTIONS) from any origin but the
//     service's own scheme, host and port;
//   - a request body that is not application/json (415): an HTML form or a
//     text/plain post, which a browser sends to any port without asking first; a
//     POST without a body and without a content type is fine;
//   - a path that is not clean.
//
// It sets no CORS headers, so browsers keep other origins from reading answers.
// Websocket upgrades, which are GETs, check their Origin in checkHandshake.
func (s *Server) guard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := cop.Check(r); err != nil {
			writeError(w, errorf(http.StatusForbidden, "cross-origin request refused (%v): only this service's own pages may change data", err))
			return
		}
		if !loopbackHost(r.Host) {
			writeError(w, errorf(http.StatusForbidden, "host %q is not a loopback name; this service answers only on localhost", r.Host))
			return
		}
		origin := r.Header.Get("Origin")
		if origin != "" {
			u, err := url.Parse(origin)
			if err != nil || !loopbackHost(u.Host) {
				writeError(w, errorf(http.StatusForbidden, "requests from origin %q are not allowed", origin))
				return
			}
		}
		changes := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
		if changes && origin != "" && !ownOrigin(origin, r) {
			writeError(w, errorf(http.StatusForbidden, "requests from origin %q may not change data; only %s may", origin, serviceOrigin(r)))
			return
		}
		if p := r.URL.EscapedPath(); p != "/" && (path.Clean(p) != p || strings.Contains(p, "//")) {
			writeError(w, errorf(http.StatusBadRequest, "invalid path %q", p))
			return
		}
		if changes {
			if err := checkContentType(r); err != nil {
				writeError(w, err)
				return
			}
		}
		start := s.cfg.Now()
		next.ServeHTTP(w, r)
		s.cfg.Logger.Debug("request", "method", r.Method, "path", r.URL.Path, "took", s.cfg.Now().Sub(start))
	})
}

// serviceOrigin is the origin of the service as the request reached it.
func serviceOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ownOrigin reports whether an Origin header names the service itself: the same
// scheme, host and port.
func ownOrigin(origin string, r *http.Request) bool {
	return strings.EqualFold(origin, serviceOrigin(r))
}

// checkContentType accepts an application/json body, or no body and no content type.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if empty, err := emptyBody(r); err != nil || empty {
			return err
		}
		return errorf(http.StatusUnsupportedMediaType, "a request body needs Content-Type: application/json")
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, "content type %q is not accepted: request bodies are application/json", ct)
	}
	return nil
}

// emptyBody reports whether the request has no body, reading one byte of a body of
// unknown length (and putting it back) to know.
func emptyBody(r *http.Request) (bool, error) {
	switch {
	case r.ContentLength == 0:
		return true, nil
	case r.ContentLength > 0:
		return false, nil
	}
	var b [1]byte
	n, err := io.ReadFull(r.Body, b[:])
	if n == 0 {
		if err == io.EOF {
			return true, nil
		}
		return false, bodyError(err)
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b[:n]), r.Body), r.Body}
	return false, nil
}

// bodyError is the answer to a failed read of a request body.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	var slow *errSlowClient
	switch {
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", mbe.Limit)
	case errors.As(err, &slow):
		return err
	}
	return errorf(http.StatusBadRequest, "read request body: %v", err)
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

package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"cairn/engine"
	"cairn/engine/exported"
	"cairn/engine/localdb"
	"cairn/repo"
)

// apiError is an error with the status code the API answers it with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// Errors the handlers branch on.
var (
	errBusy         = errors.New("another backup or restore is running")
	errNoRepository = errors.New("no cloud repository is configured or reachable")
)

// statusOf maps an error to its status code, in one place.
func statusOf(err error) int {
	var ae *apiError
	var se *exported.SyntaxError
	var slow *errSlowClient
	switch {
	case errors.As(err, &ae):
		return ae.status
	case errors.As(err, &slow):
		return http.StatusRequestTimeout
	case errors.Is(err, errBusy), errors.Is(err, localdb.ErrBusy), errors.Is(err, repo.ErrLockLost):
		return http.StatusConflict // a prune took the job for crashed: run it again
	case errors.Is(err, repo.ErrNewerFormat), errors.Is(err, exported.ErrNewerSchema):
		return http.StatusHTTPVersionNotSupported
	case errors.Is(err, errNoRepository), errors.Is(err, repo.ErrNoRepository), errors.Is(err, repo.ErrForeign):
		return http.StatusNetworkAuthenticationRequired
	case errors.Is(err, repo.ErrNotFound):
		return http.StatusNotFound
	case errors.As(err, &se), errors.Is(err, localdb.ErrBadRecord), errors.Is(err, engine.ErrBadSource), errors.Is(err, engine.ErrAmbiguous):
		return http.StatusBadRequest
	case errors.Is(err, context.Canceled):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// errorBody is what every error response carries.
type errorBody struct {
	Status  int    `json:"status"`
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, err error) {
	code := statusOf(err)
	msg := err.Error()
	var ae *apiError
	if code == http.StatusInternalServerError && !errors.As(err, &ae) {
		msg = "internal error: " + msg
	}
	writeJSON(w, code, errorBody{Status: code, Error: http.StatusText(code), Message: msg})
}

// writeJSON answers v with its length, so the answer goes out whole even when the
// connection closes after it.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"status":500,"error":"Internal Server Error","message":"internal error: encode the answer"}`)
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(b)
}

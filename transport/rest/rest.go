// Package rest stores a repository behind a server speaking restic's REST protocol,
// version 2 (rest-server, for one): objects are /config and /<kind>/<name>, uploaded with
// POST, read with GET and a Range header, listed with GET /<kind>/ as JSON.
//
// Every request is sent once. The HTTP client is go-retryablehttp with its own retries
// switched off (RetryMax 0 and a CheckRetry that never retries), so that exactly one
// layer retries: package transport/retry, which location.Open wraps around this
// backend. What it retries is what IsPermanent calls transient: a failure on the
// connection, 429, a 5xx but 501 and 507, and a response body cut short; every other
// answer is final.
package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"cairn/transport"
)

// Options tune the client.
type Options struct {
	Connections   int           // parallel connections to the server; 5 when 0
	HeaderTimeout time.Duration // longest wait for a response's headers; 60 s when 0
	MaxListBytes  int64         // the longest listing read; DefaultMaxListBytes when 0
	Transport     http.RoundTripper
}

// DefaultMaxListBytes bounds the JSON listing of one kind of object: room for about
// 2.5 million names of 64 hex digits (transport.MaxList are reported at most), and a
// bound on what a server that sends a listing without end makes a client read.
const DefaultMaxListBytes = 256 << 20

// Backend is a repository on a REST server.
type Backend struct {
	base     *url.URL // the repository's URL, path ending in "/", no credentials
	user     *url.Userinfo
	client   *retryablehttp.Client
	location string
	maxList  int64 // bytes of one listing
	conns    int   // parallel connections
}

var _ transport.Backend = (*Backend)(nil)

// StatusError is a final HTTP answer other than success.
type StatusError struct {
	Op     string
	Handle transport.Handle
	Status int
}

func (e *StatusError) Error() string {
	what := http.StatusText(e.Status)
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		what += " (the server rejected the credentials, or this repository is not theirs)"
	case http.StatusInsufficientStorage:
		what += " (the server is out of space)"
	}
	return fmt.Sprintf("%s %s: server answered %d %s", e.Op, e.Handle, e.Status, what)
}

// Unwrap makes 404 match transport.ErrNotExist.
func (e *StatusError) Unwrap() error {
	if e.Status == http.StatusNotFound {
		return transport.ErrNotExist
	}
	return nil
}

// Open connects to the repository at rawURL: http(s)://[user:password@]host:port/path.
// Credentials may instead come from CAIRN_REST_USER and CAIRN_REST_PASSWORD.
func Open(rawURL string, opt Options) (*Backend, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("rest repository %q: want http(s)://host:port/path", redact(rawURL))
	}
	user := u.User
	if user == nil && os.Getenv("CAIRN_REST_USER") != "" {
		user = url.UserPassword(os.Getenv("CAIRN_REST_USER"), os.Getenv("CAIRN_REST_PASSWORD"))
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if opt.Connections <= 0 {
		opt.Connections = 5
	}
	if opt.HeaderTimeout == 0 {
		opt.HeaderTimeout = 60 * time.Second
	}
	if opt.MaxListBytes <= 0 {
		opt.MaxListBytes = DefaultMaxListBytes
	}
	rt := opt.Transport
	if rt == nil {
		rt = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   opt.Connections,
			MaxConnsPerHost:       opt.Connections,
			ResponseHeaderTimeout: opt.HeaderTimeout,
			IdleConnTimeout:       90 * time.Second,
		}
	}
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: rt}
	c.Logger = nil
	c.RetryMax = 0 // package retry retries, around this backend
	c.CheckRetry = sendOnce
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return &Backend{base: u, user: user, client: c, location: "rest:" + u.String(), maxList: opt.MaxListBytes, conns: opt.Connections}, nil
}

// sendOnce is the client's retry policy: none. The request's answer, or its error, is
// handed back as it is.
func sendOnce(context.Context, *http.Response, error) (bool, error) { return false, nil }

// redact removes a password from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Location implements transport.Backend.
func (b *Backend) Location() string { return b.location }

// Connections implements transport.Connected.
func (b *Backend) Connections() int { return b.conns }

func (b *Backend) url(h transport.Handle) string {
	u := *b.base
	if h.Kind == transport.Config {
		u.Path += "config"
	} else if h.Name == "" {
		u.Path += string(h.Kind) + "/"
	} else {
		u.Path += string(h.Kind) + "/" + h.Name
	}
	return u.String()
}

func (b *Backend) do(ctx context.Context, method, u string, body []byte, header http.Header) (*http.Response, error) {
	var rd any
	if body != nil {
		rd = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if b.user != nil {
		pw, _ := b.user.Password()
		req.SetBasicAuth(b.user.Username(), pw)
	}
	return b.client.Do(req)
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func check(ctx context.Context, op string, h transport.Handle) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, h, err)
	}
	if err := h.Valid(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if h.Kind != transport.Config && len(h.Name) != 64 {
		return fmt.Errorf("%s %s: the REST protocol names objects by 64 hex digits", op, h)
	}
	return nil
}

// Create makes the repository on the server (POST /?create=true).
func (b *Backend) Create(ctx context.Context) error {
	resp, err := b.do(ctx, http.MethodPost, b.base.String()+"?create=true", []byte{}, nil)
	if err != nil {
		return fmt.Errorf("create repository at %s: %w", b.location, err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("create repository: %w", &StatusError{Op: "create", Handle: transport.Handle{Kind: transport.Config}, Status: resp.StatusCode})
	}
	return nil
}

// Save implements transport.Backend. The server refuses to overwrite an object; an
// object already there under its content's name counts as saved.
func (b *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := check(ctx, "save", h); err != nil {
		return err
	}
	if data == nil {
		data = []byte{}
	}
	resp, err := b.do(ctx, http.MethodPost, b.url(h), data, http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return fmt.Errorf("save %s: %w", h, err)
	}
	drain(resp)
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusForbidden && h.Kind != transport.Config:
		if fi, err := b.Stat(ctx, h); err == nil && fi.Size == int64(len(data)) {
			return nil
		}
	}
	return &StatusError{Op: "save", Handle: h, Status: resp.StatusCode}
}

// Load implements transport.Backend. A body cut short on the way fails the read with
// an error wrapping transport.ShortBody, which IsPermanent calls transient: package
// retry asks for the rest.
func (b *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := check(ctx, "load", h); err != nil {
		return err
	}
	return b.load(ctx, h, length, offset, fn)
}

func (b *Backend) load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if length < 0 || offset < 0 {
		return fmt.Errorf("load %s: negative range %d+%d", h, offset, length)
	}
	header := http.Header{}
	if length > 0 {
		header.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+int64(length)-1))
	} else if offset > 0 {
		header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := b.do(ctx, http.MethodGet, b.url(h), nil, header)
	if err != nil {
		return fmt.Errorf("load %s: %w", h, err)
	}
	defer drain(resp)
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent:
	case http.StatusRequestedRangeNotSatisfiable:
		if offset > 0 && length == 0 {
			// Everything from the end on: empty, if the object is exactly that long.
			if fi, err := b.Stat(ctx, h); err == nil && fi.Size == offset {
				return fn(bytes.NewReader(nil))
			}
		}
		return fmt.Errorf("load %s: range %d+%d outside the object: %w", h, offset, length, io.ErrUnexpectedEOF)
	default:
		return &StatusError{Op: "load", Handle: h, Status: resp.StatusCode}
	}
	if (offset > 0 || length > 0) && resp.StatusCode == http.StatusOK {
		// The server sent the whole object (rest-server does for config): cut the
		// range out here.
		size := resp.ContentLength
		if size >= 0 && (offset > size || length > 0 && offset+int64(length) > size) {
			return fmt.Errorf("load %s: range %d+%d outside %d bytes: %w", h, offset, length, size, io.ErrUnexpectedEOF)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
			return fmt.Errorf("load %s: %w", h, io.ErrUnexpectedEOF)
		}
		left := int64(-1)
		if size >= 0 {
			left = size - offset
		}
		if length > 0 {
			left = int64(length)
			return fn(transport.NewExactReader(io.LimitReader(resp.Body, left), left))
		}
		return fn(transport.NewExactReader(resp.Body, left))
	}
	want := resp.ContentLength
	if length > 0 && want != int64(length) {
		return fmt.Errorf("load %s: range %d+%d outside the object: %w", h, offset, length, io.ErrUnexpectedEOF)
	}
	return fn(transport.NewExactReader(resp.Body, want))
}

// Stat implements transport.Backend.
func (b *Backend) Stat(ctx context.Context, h transport.Handle) (transport.FileInfo, error) {
	if err := check(ctx, "stat", h); err != nil {
		return transport.FileInfo{}, err
	}
	resp, err := b.do(ctx, http.MethodHead, b.url(h), nil, nil)
	if err != nil {
		return transport.FileInfo{}, fmt.Errorf("stat %s: %w", h, err)
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return transport.FileInfo{}, &StatusError{Op: "stat", Handle: h, Status: resp.StatusCode}
	}
	if resp.ContentLength < 0 {
		return transport.FileInfo{}, fmt.Errorf("stat %s: the server sent no length", h)
	}
	return transport.FileInfo{Name: h.Name, Size: resp.ContentLength}, nil
}

// List implements transport.Backend. The listing is read as it arrives, up to
// MaxListBytes and transport.MaxList names, and reported once it is complete.
func (b *Backend) List(ctx context.Context, k transport.Kind, fn func(transport.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if k == transport.Config {
		return transport.ListConfig(ctx, b, fn)
	}
	if err := (transport.Handle{Kind: k, Name: strings.Repeat("0", 64)}).Valid(); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	items, err := b.list(ctx, k)
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}

// list reads the listing of kind k whole.
func (b *Backend) list(ctx context.Context, k transport.Kind) ([]transport.FileInfo, error) {
	h := transport.Handle{Kind: k}
	resp, err := b.do(ctx, http.MethodGet, b.url(h), nil, http.Header{"Accept": {"application/vnd.x.restic.rest.v2"}})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", k, err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Op: "list", Handle: h, Status: resp.StatusCode}
	}
	return b.readListing(k, resp)
}

// readListing decodes a v2 listing, [{"name": ..., "size": ...}, ...], keeping the
// entries whose names are valid handles of kind k. It stops with an error wrapping
// transport.ErrTooLarge once the body passes b.maxList bytes or names more than
// transport.MaxList objects.
func (b *Backend) readListing(k transport.Kind, resp *http.Response) ([]transport.FileInfo, error) {
	if resp.ContentLength > b.maxList {
		return nil, fmt.Errorf("list %s: %w", k, transport.TooLarge(resp.ContentLength, b.maxList))
	}
	body := &io.LimitedReader{R: transport.NewExactReader(resp.Body, resp.ContentLength), N: b.maxList + 1}
	bad := func(err error) error {
		if body.N <= 0 {
			return fmt.Errorf("list %s: %w", k, transport.TooLarge(-1, b.maxList))
		}
		var short *transport.ShortBody
		if errors.As(err, &short) {
			return err // cut on the way: read again
		}
		return fmt.Errorf("list %s: the server's answer is not a v2 listing: %w", k, err)
	}
	dec := json.NewDecoder(body)
	switch tok, err := dec.Token(); {
	case err != nil:
		return nil, bad(err)
	case tok == nil:
		return nil, nil // null: nothing listed
	case tok != json.Delim('['):
		return nil, bad(fmt.Errorf("starts with %v, not a list", tok))
	}
	var items []transport.FileInfo
	for dec.More() {
		var it struct {
			Name string `json:"name"`
			Size int64  `json:"size"`
		}
		if err := dec.Decode(&it); err != nil {
			return nil, bad(err)
		}
		if (transport.Handle{Kind: k, Name: it.Name}).Valid() != nil || it.Size < 0 {
			continue
		}
		if len(items) == transport.MaxList {
			return nil, fmt.Errorf("list %s: %w: the server lists more than %d objects", k, transport.ErrTooLarge, transport.MaxList)
		}
		items = append(items, transport.FileInfo{Name: it.Name, Size: it.Size})
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad(err)
	}
	return items, nil
}

// Remove implements transport.Backend. The server answers a delete of a missing
// object with success, so a HEAD asks first.
func (b *Backend) Remove(ctx context.Context, h transport.Handle) error {
	if err := check(ctx, "remove", h); err != nil {
		return err
	}
	if _, err := b.Stat(ctx, h); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	resp, err := b.do(ctx, http.MethodDelete, b.url(h), nil, nil)
	if err != nil {
		return fmt.Errorf("remove %s: %w", h, err)
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Op: "remove", Handle: h, Status: resp.StatusCode}
	}
	return nil
}

// IsNotExist implements transport.Backend.
func (b *Backend) IsNotExist(err error) bool { return errors.Is(err, transport.ErrNotExist) }

// IsPermanent implements transport.Backend. Transient, and so retried by package
// retry: 429 and 5xx answers but 501 and 507, a response body cut short, and failures
// on the connection but those no retry mends (a certificate the client does not
// trust, too many redirects, a malformed URL), as go-retryablehttp's policy judges
// them. Everything else is permanent: the server's other answers, a cancelled
// context, an invalid request, a listing or range the server got wrong.
func (b *Backend) IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if se, ok := errors.AsType[*StatusError](err); ok {
		transient := se.Status == http.StatusTooManyRequests ||
			se.Status >= 500 && se.Status != http.StatusNotImplemented && se.Status != http.StatusInsufficientStorage
		return !transient
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, transport.ErrTooLarge) {
		return true
	}
	if _, ok := errors.AsType[*transport.ShortBody](err); ok {
		return false
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		retry, _ := retryablehttp.DefaultRetryPolicy(context.Background(), nil, ue)
		return !retry
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return false
	}
	return true
}

// Close implements transport.Backend.
func (b *Backend) Close() error {
	b.client.HTTPClient.CloseIdleConnections()
	return nil
}

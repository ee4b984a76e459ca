// Package s3 stores a repository in a bucket of an S3-compatible object store (Amazon
// S3, MinIO, and the like). Objects are <prefix>/<kind>/<name>, the config is
// <prefix>/config; the location is s3:http(s)://host:port/bucket/prefix (prefix
// optional).
//
// Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
// AWS_SESSION_TOKEN when set), the region from AWS_REGION or AWS_DEFAULT_REGION (asked
// of the server when neither is set). They never appear in Location or in errors.
//
// Every request is sent once: the S3 client's own retries are turned off, and package
// transport/retry, which location.Open wraps around this backend, repeats what
// IsPermanent calls transient: a failure on the connection, a 5xx (but 501), 408, 429
// or a throttling code such as SlowDown, an upload the server found corrupted
// (BadDigest), a response body cut short. Every other answer is final: AccessDenied,
// SignatureDoesNotMatch, InvalidAccessKeyId, NoSuchBucket and the like.
//
// Uploads carry a Content-MD5 header, so the server rejects a body that changed on the
// way; objects up to 512 MiB go up in one PUT of known size.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"cairn/transport"
)

// Options tune the client. Credentials and region left empty come from the environment.
type Options struct {
	Connections   int           // parallel connections to the server; 5 when 0
	HeaderTimeout time.Duration // longest wait for a response's headers; 60 s when 0
	MaxList       int           // most objects one listing reports; transport.MaxList when 0
	Transport     http.RoundTripper

	AccessKeyID     string // AWS_ACCESS_KEY_ID when empty
	SecretAccessKey string // AWS_SECRET_ACCESS_KEY when empty
	SessionToken    string // AWS_SESSION_TOKEN when empty
	Region          string // AWS_REGION, then AWS_DEFAULT_REGION; asked of the server when none
}

// singlePutMax is the largest object sent in one PUT; larger ones go in parts.
const singlePutMax = 512 << 20

// Backend is a repository in an S3 bucket.
type Backend struct {
	client   *minio.Client
	core     minio.Core
	bucket   string
	prefix   string // "" or "some/prefix/", ending in "/"
	region   string
	location string
	opt      Options
	http     *http.Transport // ours to close, nil when the caller gave the transport
}

var _ transport.Backend = (*Backend)(nil)

// Error is an answer of the server other than success.
type Error struct {
	Op      string // "save data/0123…", "create bucket", …
	Status  int    // HTTP status; 0 when unknown
	Code    string // S3 error code, such as NoSuchKey or AccessDenied
	Message string // the server's explanation
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: server answered %d %s", e.Op, e.Status, e.Code)
	if e.Status == 0 {
		msg = fmt.Sprintf("%s: %s", e.Op, e.Code)
	}
	switch e.Code {
	case "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken", "TokenRefreshRequired":
		return msg + " (the server rejected the credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or they may not use this bucket)"
	case "NoSuchBucket":
		return msg + " (the bucket does not exist)"
	case "NoSuchKey":
		return msg + " (no such object)"
	case "BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest":
		return msg + " (the upload arrived corrupted)"
	}
	if e.Message != "" {
		return msg + ": " + e.Message
	}
	return msg
}

// Unwrap makes NoSuchKey match transport.ErrNotExist.
func (e *Error) Unwrap() error {
	if e.Code == "NoSuchKey" {
		return transport.ErrNotExist
	}
	return nil
}

// transient reports whether repeating the request may succeed.
func (e *Error) transient() bool {
	switch e.Code {
	case "SlowDown", "SlowDownRead", "SlowDownWrite", "Throttling", "ThrottlingException",
		"RequestLimitExceeded", "RequestThrottled", "RequestTimeout", "InternalError",
		"ServiceUnavailable", "XMinioServerNotInitialized",
		"BadDigest", "XAmzContentSHA256Mismatch", "IncompleteBody":
		return true
	case "NotImplemented":
		return false
	}
	switch {
	case e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooManyRequests, e.Status == 499:
		return true
	case e.Status == http.StatusNotImplemented:
		return false
	}
	return e.Status >= 500
}

// bucketMissing is the error of Ping for a bucket that does not exist. It matches
// fs.ErrNotExist, as a missing repository folder does.
type bucketMissing struct{ location, bucket string }

func (e *bucketMissing) Error() string {
	return fmt.Sprintf("%s: bucket %q does not exist (cairn init creates it)", e.location, e.bucket)
}

func (e *bucketMissing) Is(target error) bool { return target == fs.ErrNotExist }

// Open prepares a client for the bucket at rawURL, http(s)://host:port/bucket/prefix,
// without contacting the server: Create makes the bucket, Ping checks that it exists.
func Open(rawURL string, opt Options) (*Backend, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("s3 repository: want s3:http(s)://host:port/bucket/prefix")
	}
	if u.User != nil {
		return nil, fmt.Errorf("s3 repository: credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not in the location")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("s3 repository %s://%s%s: a location takes no query", u.Scheme, u.Host, u.Path)
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if bucket == "" {
		return nil, fmt.Errorf("s3 repository %s://%s: no bucket (want s3:http(s)://host:port/bucket/prefix)", u.Scheme, u.Host)
	}
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return nil, fmt.Errorf("s3 repository: bucket %q: %v", bucket, err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if clean := path.Clean(prefix); clean != prefix || strings.HasPrefix(clean, "..") || strings.Contains(prefix, "//") {
			return nil, fmt.Errorf("s3 repository: prefix %q is not a clean path", prefix)
		}
		prefix += "/"
	}
	location := "s3:" + u.Scheme + "://" + u.Host + "/" + bucket
	if prefix != "" {
		location += "/" + strings.TrimSuffix(prefix, "/")
	}

	env := func(v *string, names ...string) {
		for _, n := range names {
			if *v == "" {
				*v = os.Getenv(n)
			}
		}
	}
	env(&opt.AccessKeyID, "AWS_ACCESS_KEY_ID")
	env(&opt.SecretAccessKey, "AWS_SECRET_ACCESS_KEY")
	env(&opt.SessionToken, "AWS_SESSION_TOKEN")
	env(&opt.Region, "AWS_REGION", "AWS_DEFAULT_REGION")
	if opt.AccessKeyID == "" || opt.SecretAccessKey == "" {
		return nil, fmt.Errorf("%s: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", location)
	}
	if opt.Connections <= 0 {
		opt.Connections = 5
	}
	if opt.HeaderTimeout == 0 {
		opt.HeaderTimeout = 60 * time.Second
	}
	if opt.MaxList <= 0 {
		opt.MaxList = transport.MaxList
	}
	b := &Backend{bucket: bucket, prefix: prefix, region: opt.Region, location: location}
	rt := opt.Transport
	if rt == nil {
		b.http = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   opt.Connections,
			MaxConnsPerHost:       opt.Connections,
			ResponseHeaderTimeout: opt.HeaderTimeout,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
		rt = b.http
	}
	rt = bodyCap{next: rt}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:      credentials.NewStaticV4(opt.AccessKeyID, opt.SecretAccessKey, opt.SessionToken),
		Secure:     u.Scheme == "https",
		Transport:  rt,
		Region:     opt.Region,
		MaxRetries: 1, // one attempt: package retry retries
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", location, err)
	}
	b.client, b.core = client, minio.Core{Client: client}
	b.opt = opt
	return b, nil
}

// Location implements transport.Backend.
func (b *Backend) Location() string { return b.location }

// Connections implements transport.Connected.
func (b *Backend) Connections() int { return b.opt.Connections }

// Create makes the bucket when it does not exist yet (for init).
func (b *Backend) Create(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.bucket)
	if err != nil {
		return b.wrap("create bucket "+b.bucket, err)
	}
	if ok {
		return nil
	}
	err = b.client.MakeBucket(ctx, b.bucket, minio.MakeBucketOptions{Region: b.region})
	switch minio.ToErrorResponse(err).Code {
	case "BucketAlreadyOwnedByYou":
		return nil
	case "BucketAlreadyExists":
		// Taken by someone else, or made by us a moment ago: ask again.
		if ok, err2 := b.client.BucketExists(ctx, b.bucket); err2 == nil && ok {
			return nil
		}
	}
	return b.wrap("create bucket "+b.bucket, err)
}

// Ping checks that the bucket exists and the credentials may use it. A missing bucket
// gives an error that matches fs.ErrNotExist.
func (b *Backend) Ping(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.bucket)
	if err != nil {
		return fmt.Errorf("%s: %w", b.location, b.wrap("open bucket "+b.bucket, err))
	}
	if !ok {
		return &bucketMissing{location: b.location, bucket: b.bucket}
	}
	return nil
}

// key is the object name of h.
func (b *Backend) key(h transport.Handle) string {
	if h.Kind == transport.Config {
		return b.prefix + "config"
	}
	return b.prefix + string(h.Kind) + "/" + h.Name
}

// wrap turns an error of the S3 client into an *Error when the server answered.
func (b *Backend) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.StatusCode != 0 || er.Code != "") {
		return &Error{Op: op, Status: er.StatusCode, Code: er.Code, Message: er.Message}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// transient reports whether err may go away when the operation is repeated.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, transport.ErrTooLarge) {
		return false
	}
	if _, ok := errors.AsType[*rangeError](err); ok {
		return false
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.transient()
	}
	_, short := errors.AsType[*transport.ShortBody](err)
	_, ue := errors.AsType[*url.Error](err)
	_, ne := errors.AsType[net.Error](err)
	// A response cut short (a list's XML, say) shows as io.ErrUnexpectedEOF.
	return short || ue || ne || errors.Is(err, io.ErrUnexpectedEOF)
}

func check(ctx context.Context, op string, h transport.Handle) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, h, err)
	}
	if err := h.Valid(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Save implements transport.Backend: one PUT of known size with a Content-MD5 header,
// so a body changed on the way is refused (BadDigest, transient: package retry sends it
// again).
func (b *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := check(ctx, "save", h); err != nil {
		return err
	}
	opts := minio.PutObjectOptions{
		ContentType:          "application/octet-stream",
		SendContentMd5:       true,
		DisableContentSha256: true, // Content-MD5 guards the body; no per-chunk signing
		DisableMultipart:     len(data) <= singlePutMax,
		PartSize:             64 << 20,
	}
	_, err := b.client.PutObject(ctx, b.bucket, b.key(h), bytes.NewReader(data), int64(len(data)), opts)
	return b.wrap("save "+h.String(), err)
}

// Load implements transport.Backend. A body cut short on the way fails the read with
// an error wrapping transport.ShortBody, which IsPermanent calls transient: package
// retry asks for the rest.
func (b *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := check(ctx, "load", h); err != nil {
		return err
	}
	if length < 0 || offset < 0 {
		return fmt.Errorf("load %s: negative range %d+%d", h, offset, length)
	}
	return b.load(ctx, h, length, offset, fn)
}

// rangeError is a range outside the object: final.
type rangeError struct {
	h      transport.Handle
	offset int64
	length int
}

func (e *rangeError) Error() string {
	return fmt.Sprintf("load %s: range %d+%d outside the object: %v", e.h, e.offset, e.length, io.ErrUnexpectedEOF)
}

func (e *rangeError) Unwrap() error { return io.ErrUnexpectedEOF }

func errRange(h transport.Handle, offset int64, length int) error {
	return &rangeError{h: h, offset: offset, length: length}
}

func (b *Backend) load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	var opts minio.GetObjectOptions
	switch {
	case length > 0:
		opts.SetRange(offset, offset+int64(length)-1)
	case offset > 0:
		opts.SetRange(offset, 0)
	}
	rd, info, _, err := b.core.GetObject(ctx, b.bucket, b.key(h), opts)
	if err != nil {
		err = b.wrap("load "+h.String(), err)
		var e *Error
		if errors.As(err, &e) && (e.Code == "InvalidRange" || e.Status == http.StatusRequestedRangeNotSatisfiable) {
			if length == 0 {
				// Everything from the end on: empty, if the object is exactly that long.
				if fi, serr := b.stat(ctx, h); serr == nil && fi.Size == offset {
					return fn(bytes.NewReader(nil))
				}
			}
			return errRange(h, offset, length)
		}
		return err
	}
	defer rd.Close()
	if length > 0 && info.Size != int64(length) {
		return errRange(h, offset, length)
	}
	body := transport.NewExactReader(rd, info.Size)
	body.Final = func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
	return fn(body)
}

// Stat implements transport.Backend.
func (b *Backend) Stat(ctx context.Context, h transport.Handle) (transport.FileInfo, error) {
	if err := check(ctx, "stat", h); err != nil {
		return transport.FileInfo{}, err
	}
	return b.stat(ctx, h)
}

func (b *Backend) stat(ctx context.Context, h transport.Handle) (transport.FileInfo, error) {
	info, err := b.client.StatObject(ctx, b.bucket, b.key(h), minio.StatObjectOptions{})
	if err != nil {
		return transport.FileInfo{}, b.wrap("stat "+h.String(), err)
	}
	if info.Size < 0 {
		return transport.FileInfo{}, fmt.Errorf("stat %s: the server sent no length", h)
	}
	return transport.FileInfo{Name: h.Name, Size: info.Size}, nil
}

// List implements transport.Backend. S3 lists keys in ascending order, a page at a time: a server
// that repeats or reorders keys, or lists more than MaxList objects, fails the listing
// (each page's body is bounded by bodyCap), so a server cannot make it run or grow
// without end.
func (b *Backend) List(ctx context.Context, k transport.Kind, fn func(transport.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if k == transport.Config {
		return transport.ListConfig(ctx, b, fn)
	}
	if err := (transport.Handle{Kind: k, Name: "00000000"}).Valid(); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	prefix := b.prefix + string(k) + "/"
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var after string
	listed := 0
	for obj := range b.client.ListObjectsIter(lctx, b.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return b.wrap("list "+string(k), obj.Err)
		}
		if obj.Key <= after {
			return fmt.Errorf("list %s: the server listed %q after %q: not in ascending order", k, obj.Key, after)
		}
		if listed++; listed > b.opt.MaxList {
			return fmt.Errorf("list %s: %w: the server lists more than %d objects", k, transport.ErrTooLarge, b.opt.MaxList)
		}
		after = obj.Key
		name := strings.TrimPrefix(obj.Key, prefix)
		if (transport.Handle{Kind: k, Name: name}).Valid() != nil {
			continue
		}
		if err := fn(transport.FileInfo{Name: name, Size: obj.Size}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Remove implements transport.Backend. S3 answers a delete of a missing object with
// success, so a HEAD asks first.
func (b *Backend) Remove(ctx context.Context, h transport.Handle) error {
	if err := check(ctx, "remove", h); err != nil {
		return err
	}
	if _, err := b.Stat(ctx, h); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	return b.wrap("remove "+h.String(), b.client.RemoveObject(ctx, b.bucket, b.key(h), minio.RemoveObjectOptions{}))
}

// IsNotExist implements transport.Backend.
func (b *Backend) IsNotExist(err error) bool { return errors.Is(err, transport.ErrNotExist) }

// IsPermanent implements transport.Backend: a final answer from the server, an invalid
// request, a listing or range the server got wrong, or a cancelled context; failures
// on the connection, bodies cut short, throttling and 5xx answers are not.
func (b *Backend) IsPermanent(err error) bool { return err != nil && !transient(err) }

// Close implements transport.Backend.
func (b *Backend) Close() error {
	if b.http != nil {
		b.http.CloseIdleConnections()
	}
	return nil
}

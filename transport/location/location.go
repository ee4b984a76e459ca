// Package location turns a repository location string into a transport.Backend. The
// same strings work in the CLI, the daemon and the API:
//
//	/path/to/repo, ./repo, local:/path/to/repo   a folder on this machine
//	rest:http(s)://[user:pass@]host:port/path      a REST server (rest-server)
//	s3:http(s)://host:port/bucket[/prefix]         an S3 bucket (credentials from AWS_* variables)
package location

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"cairn/transport"
	"cairn/transport/cache"
	"cairn/transport/limit"
	"cairn/transport/local"
	"cairn/transport/rest"
	"cairn/transport/retry"
	"cairn/transport/s3"
)

// Location is a parsed location string.
type Location struct {
	Scheme string // "local", "rest" or "s3"
	Path   string // a folder, or the server's URL (with the bucket and prefix for s3)
}

// Parse reads a location string.
func Parse(s string) (Location, error) {
	if s == "" {
		return Location{}, fmt.Errorf("empty repository location")
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || len(scheme) <= 1 || strings.ContainsAny(scheme, `/\.`) {
		// A plain path (a one-letter "scheme" is a Windows drive).
		return Location{Scheme: "local", Path: s}, nil
	}
	switch scheme {
	case "local":
		if rest == "" {
			return Location{}, fmt.Errorf("repository location %q has no path", s)
		}
		return Location{Scheme: "local", Path: rest}, nil
	case "rest":
		if !strings.HasPrefix(rest, "http://") && !strings.HasPrefix(rest, "https://") {
			return Location{}, fmt.Errorf("repository location rest:...: want rest:http(s)://host:port/path")
		}
		return Location{Scheme: "rest", Path: rest}, nil
	case "s3":
		if !strings.HasPrefix(rest, "http://") && !strings.HasPrefix(rest, "https://") {
			return Location{}, fmt.Errorf("repository location s3:...: want s3:http(s)://host:port/bucket/prefix")
		}
		return Location{Scheme: "s3", Path: rest}, nil
	case "http", "https":
		return Location{}, fmt.Errorf("repository location: write rest:%s://... for a REST server", scheme)
	}
	return Location{}, fmt.Errorf("repository location: unknown scheme %q (this build knows local:, rest: and s3:)", scheme)
}

// Remote reports whether a location is on another machine (and so worth caching).
func Remote(s string) bool {
	loc, err := Parse(s)
	return err == nil && loc.Scheme != "local"
}

// Options apply to every location.
type Options struct {
	Connections   int           // parallel connections to a server; the transport's default when 0
	LimitUpload   int64         // bytes per second; none when 0
	LimitDownload int64         // bytes per second; none when 0
	CacheDir      string        // local copies of a remote repository's index files and manifests; none when empty
	Retry         retry.Options // how a remote repository's transient failures are retried; the defaults when zero
}

// Open connects to an existing location.
func Open(ctx context.Context, s string, opt Options) (transport.Backend, error) {
	return connect(ctx, s, false, opt)
}

// Create connects to a location and creates its layout when missing (for init).
func Create(ctx context.Context, s string, opt Options) (transport.Backend, error) {
	return connect(ctx, s, true, opt)
}

// connect opens the backend and composes the wrappers around it, in one place. From
// the inside out: the transport; the bandwidth limit, so that every attempt is paced;
// for a remote location the retries (the one layer that retries: rest and s3 send
// each request once); the cache, outermost, since what it has costs no request. The
// caller counts bytes by wrapping what Open returns in a count.Backend.
func connect(ctx context.Context, s string, create bool, opt Options) (transport.Backend, error) {
	loc, err := Parse(s)
	if err != nil {
		return nil, err
	}
	if loc.Scheme == "local" {
		be, err := openLocal(loc.Path, create)
		if err != nil {
			return nil, err
		}
		if opt.LimitUpload > 0 || opt.LimitDownload > 0 {
			return limit.New(be, opt.LimitUpload, opt.LimitDownload), nil
		}
		return be, nil
	}
	raw, prepare, err := openRemote(loc, create, opt)
	if err != nil {
		return nil, err
	}
	var be transport.Backend = raw
	if opt.LimitUpload > 0 || opt.LimitDownload > 0 {
		be = limit.New(be, opt.LimitUpload, opt.LimitDownload)
	}
	rb := retry.New(be, opt.Retry)
	if err := rb.Do(ctx, prepare); err != nil {
		raw.Close()
		return nil, err
	}
	be = rb
	if opt.CacheDir != "" {
		c, err := cache.New(be, opt.CacheDir)
		if err != nil {
			raw.Close()
			return nil, err
		}
		return c, nil
	}
	return be, nil
}

// openRemote prepares a client for a rest: or s3: location, and returns what checks
// (Open) or makes (Create) the repository there, for the caller to run with retries.
func openRemote(loc Location, create bool, opt Options) (transport.Backend, func(context.Context) error, error) {
	switch loc.Scheme {
	case "s3":
		be, err := s3.Open(loc.Path, s3.Options{Connections: opt.Connections})
		if err != nil {
			return nil, nil, err
		}
		if create {
			return be, be.Create, nil
		}
		return be, be.Ping, nil
	case "rest":
		be, err := rest.Open(loc.Path, rest.Options{Connections: opt.Connections})
		if err != nil {
			return nil, nil, err
		}
		if create {
			return be, be.Create, nil
		}
		return be, func(context.Context) error { return nil }, nil
	}
	return nil, nil, fmt.Errorf("repository location: unknown scheme %q", loc.Scheme)
}

// openLocal opens or creates a repository folder.
func openLocal(path string, create bool) (transport.Backend, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if create {
		return local.Create(p)
	}
	return local.Open(p)
}

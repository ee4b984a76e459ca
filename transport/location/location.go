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
	Connections   int    // parallel connections to a server; the transport's default when 0
	LimitUpload   int64  // bytes per second; none when 0
	LimitDownload int64  // bytes per second; none when 0
	CacheDir      string // local copies of a remote repository's index files and manifests; none when empty
}

// Open connects to an existing location.
func Open(ctx context.Context, s string, opt Options) (transport.Backend, error) {
	return connect(ctx, s, false, opt)
}

// Create connects to a location and creates its layout when missing (for init).
func Create(ctx context.Context, s string, opt Options) (transport.Backend, error) {
	return connect(ctx, s, true, opt)
}

// connect opens the backend and composes the wrappers around it, in one place.
func connect(ctx context.Context, s string, create bool, opt Options) (transport.Backend, error) {
	be, err := open(ctx, s, create, opt)
	if err != nil {
		return nil, err
	}
	if opt.LimitUpload > 0 || opt.LimitDownload > 0 {
		be = limit.New(be, opt.LimitUpload, opt.LimitDownload)
	}
	if opt.CacheDir != "" && Remote(s) {
		// Outermost: what the cache has costs no bandwidth.
		return cache.New(be, opt.CacheDir)
	}
	return be, nil
}

func open(ctx context.Context, s string, create bool, opt Options) (transport.Backend, error) {
	loc, err := Parse(s)
	if err != nil {
		return nil, err
	}
	if loc.Scheme == "s3" {
		be, err := s3.Open(loc.Path, s3.Options{Connections: opt.Connections})
		if err != nil {
			return nil, err
		}
		check := be.Ping
		if create {
			check = be.Create
		}
		if err := check(ctx); err != nil {
			be.Close()
			return nil, err
		}
		return be, nil
	}
	if loc.Scheme == "rest" {
		be, err := rest.Open(loc.Path, rest.Options{Connections: opt.Connections})
		if err != nil {
			return nil, err
		}
		if create {
			if err := be.Create(ctx); err != nil {
				return nil, err
			}
		}
		return be, nil
	}
	p, err := filepath.Abs(loc.Path)
	if err != nil {
		return nil, err
	}
	if create {
		return local.Create(p)
	}
	return local.Open(p)
}

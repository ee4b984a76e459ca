// Package location turns a repository location string into a transport.Backend. The
// same strings work in the CLI, the daemon and the API:
//
//	/path/to/repo, ./repo, local:/path/to/repo   a folder on this machine
package location

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"cairn/transport"
	"cairn/transport/local"
)

// Location is a parsed location string.
type Location struct {
	Scheme string // "local"
	Path   string
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
	}
	return Location{}, fmt.Errorf("repository location %q: unknown scheme %q (this build knows local:)", s, scheme)
}

// Open connects to an existing location.
func Open(_ context.Context, s string) (transport.Backend, error) { return connect(s, local.Open) }

// Create connects to a location and creates its layout when missing (for init).
func Create(_ context.Context, s string) (transport.Backend, error) {
	return connect(s, local.Create)
}

func connect(s string, openLocal func(string) (*local.Backend, error)) (transport.Backend, error) {
	loc, err := Parse(s)
	if err != nil {
		return nil, err
	}
	p, err := filepath.Abs(loc.Path)
	if err != nil {
		return nil, err
	}
	return openLocal(p)
}

package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cairn/transport/cache"
)

// ErrRepositoryChanged means the repository at a location is not the one this client
// saw there before: another id, or no encryption where it had encryption or where a
// password was given. Whoever holds the storage can swap what a location serves; a
// client that went along would write into a repository it never chose, or in
// plaintext.
var ErrRepositoryChanged = errors.New("refused: the repository at this location is not the one this client expects")

// Pins remembers, per repository location, the id and encryption mode of the
// repository found there first: one file per location in Dir, named by the SHA-256 of
// the location (normalized, without credentials). Init records what it creates; Open
// records what it finds on first contact and refuses, before writing anything, a
// repository that differs.
type Pins struct{ Dir string }

// WithPins makes Init record, and Open check, the repository's pin in p.
func WithPins(p Pins) Option { return func(o *options) { o.pins = &p } }

// pin is what a pin file holds.
type pin struct {
	Location   string    `json:"location"`
	ID         string    `json:"id"`
	Encryption string    `json:"encryption"`
	FirstSeen  time.Time `json:"first_seen"`
}

// maxPinFile bounds what is read of a pin file.
const maxPinFile = 64 << 10

// Path is the pin file of a location.
func (p Pins) Path(location string) string {
	sum := sha256.Sum256([]byte(normalizeLocation(location)))
	return filepath.Join(p.Dir, hex.EncodeToString(sum[:]))
}

// load returns the pin of a location, if there is one.
func (p Pins) load(location string) (pin, bool, error) {
	name := p.Path(location)
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return pin{}, false, nil
	}
	if err != nil {
		return pin{}, false, fmt.Errorf("read pin %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPinFile+1))
	if err != nil {
		return pin{}, false, fmt.Errorf("read pin %s: %w", name, err)
	}
	var pn pin
	if err := json.Unmarshal(b, &pn); err != nil || len(b) > maxPinFile || !validHex(pn.ID, idLen) ||
		pn.Encryption != EncryptionNone && pn.Encryption != EncryptionXChaCha || normalizeLocation(pn.Location) != normalizeLocation(location) {
		return pin{}, false, fmt.Errorf("pin %s is damaged: delete it to trust the repository at %s as it is now", name, location)
	}
	return pn, true, nil
}

// save records cfg as the repository at location.
func (p Pins) save(location string, cfg Config) error {
	b, err := json.Marshal(pin{Location: normalizeLocation(location), ID: cfg.ID, Encryption: cfg.Encryption, FirstSeen: time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("pin %s: %w", location, err)
	}
	return cache.WriteFile(p.Path(location), b)
}

// compare refuses cfg unless it is the repository pn recorded at location.
func (p Pins) compare(location string, pn pin, cfg Config) error {
	way := fmt.Sprintf("if you re-created the repository there yourself, delete %s and run again", p.Path(location))
	switch {
	case pn.Encryption != cfg.Encryption:
		return fmt.Errorf("%w: it was stored with encryption %q, its config now says %q; whoever holds the storage may have replaced it to read what is written next (%s)",
			ErrRepositoryChanged, pn.Encryption, cfg.Encryption, way)
	case pn.ID != cfg.ID:
		return fmt.Errorf("%w: it was repository %s, it is now %s; whoever holds the storage may have swapped it (%s)",
			ErrRepositoryChanged, pn.ID[:8], cfg.ID[:8], way)
	}
	return nil
}

// trust refuses a repository that cannot be the one the caller means: other than its
// pin says, or unencrypted although a password was given. It runs right after the
// config is decoded, before anything is written; on first contact it records the pin
// of a repository it accepts.
func (o options) trust(location string, cfg Config) error {
	pinned := false
	if o.pins != nil {
		pn, ok, err := o.pins.load(location)
		if err != nil {
			return err
		}
		if ok {
			if err := o.pins.compare(location, pn, cfg); err != nil {
				return err
			}
		}
		pinned = ok
	}
	if o.password != "" && cfg.Encryption == EncryptionNone {
		return fmt.Errorf("%w: a password was given but its config says it is not encrypted; whoever holds the storage may have replaced an encrypted repository to read what is written next (for a repository made with --no-encryption, give no password)",
			ErrRepositoryChanged)
	}
	if o.pins != nil && !pinned {
		return o.pins.save(location, cfg)
	}
	return nil
}

// normalizeLocation is the form of a location a pin is keyed by: for a server, the
// URL without credentials, query or fragment, with a lowercase scheme and host and no
// trailing slash; for a folder, its clean path.
func normalizeLocation(loc string) string {
	scheme, rest, ok := strings.Cut(loc, ":")
	if !ok {
		return filepath.Clean(loc)
	}
	if l := strings.ToLower(rest); strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") {
		if u, err := url.Parse(rest); err == nil {
			u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
			u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
			u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), ""
			return scheme + ":" + u.String()
		}
	}
	if scheme == "local" {
		return "local:" + filepath.Clean(rest)
	}
	return loc
}

package repo

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"cairn/chunk"
)

// FormatVersion is the repository format this build gives new repositories and the
// newest it reads. Format 2 names chunks by 128-bit ids and stores pack tables and
// index files compactly; format 3 leaves the ids out of pack tables and may store
// frames split, UUIDs and timestamps apart (FORMAT.md). A repository of format 1 or 2
// is read and written in its own format.
const FormatVersion = 3

// Config is the repository's single config object.
type Config struct {
	Format      int          `json:"format"`
	ID          string       `json:"id"`
	Created     time.Time    `json:"created"`
	Chunking    chunk.Params `json:"chunking"`
	Compression string       `json:"compression"` // "zstd"
	Encryption  string       `json:"encryption"`  // EncryptionNone or EncryptionXChaCha
	PackSize    int          `json:"pack_size"`   // target pack size in bytes
}

// The encryption modes of a repository.
const (
	EncryptionNone    = "none"
	EncryptionXChaCha = "xchacha20-poly1305" // with argon2id key slots and keyed BLAKE3 chunk ids
)

// idLen is the length of a repository id: 16 random bytes in lowercase hex.
const idLen = 32

// DefaultPackSize is small enough that a backup cut off on a thin link loses little.
const DefaultPackSize = 4 << 20

// NewConfig returns a config with a fresh id, polynomial and boundary seed.
func NewConfig(now time.Time) (Config, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Config{}, fmt.Errorf("random repository id: %w", err)
	}
	params, err := chunk.NewParams(binary.LittleEndian.Uint64(b[16:]))
	if err != nil {
		return Config{}, err
	}
	return Config{
		Format:      FormatVersion,
		ID:          hex.EncodeToString(b[:idLen/2]),
		Created:     now.UTC(),
		Chunking:    params,
		Compression: "zstd",
		Encryption:  EncryptionNone,
		PackSize:    DefaultPackSize,
	}, nil
}

func (c Config) validate() error {
	if c.Format > FormatVersion {
		return fmt.Errorf("repository format %d (this build reads up to %d): %w", c.Format, FormatVersion, ErrNewerFormat)
	}
	if c.Format < 1 {
		return fmt.Errorf("repository format %d: %w", c.Format, ErrDamaged)
	}
	if !validHex(c.ID, idLen) {
		// The id names local folders (the list cache): it must never be a path.
		return fmt.Errorf("repository id %q is not %d lowercase hex digits: %w", clip(c.ID), idLen, ErrDamaged)
	}
	if c.Encryption != EncryptionNone && c.Encryption != EncryptionXChaCha {
		return fmt.Errorf("repository encryption %q: %w", c.Encryption, ErrNewerFormat)
	}
	if c.Compression != "zstd" {
		return fmt.Errorf("repository compression %q: %w", c.Compression, ErrNewerFormat)
	}
	if c.PackSize < 64<<10 || c.PackSize > 64<<20 {
		return fmt.Errorf("repository pack size %d out of range: %w", c.PackSize, ErrDamaged)
	}
	if err := c.Chunking.Validate(); err != nil {
		return fmt.Errorf("repository config: %v: %w", err, ErrDamaged)
	}
	return nil
}

func encodeConfig(k *box, c Config) ([]byte, error) {
	js, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return sealObject(k, TypeConfig, codecNone, js), nil
}

func decodeConfig(k *box, data []byte) (Config, error) {
	payload, err := openObject(k, data, TypeConfig)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(payload, &c); err != nil {
		return Config{}, fmt.Errorf("read config: %v: %w", err, ErrDamaged)
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// validHex reports whether s is exactly n lowercase hex digits: the only form a value
// read from storage may have when it names a local file or folder.
func validHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// clip shortens a hostile value for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

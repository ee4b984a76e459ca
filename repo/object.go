package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Every stored object starts with an 8-byte envelope header:
//
//	"CAIRN" | envelope version (1) | object type | codec
//
// The version is bumped when the envelope changes (encryption adds a version whose
// payload is sealed); readers reject versions they do not know instead of misreading them.
const (
	magic           = "CAIRN"
	envelopeVersion = 1
	headerSize      = len(magic) + 3
)

// ObjectType says what an object holds.
type ObjectType byte

// The object types.
const (
	TypeConfig   ObjectType = 1
	TypePack     ObjectType = 2
	TypeIndex    ObjectType = 3
	TypeSnapshot ObjectType = 4
)

func (t ObjectType) String() string {
	switch t {
	case TypeConfig:
		return "config"
	case TypePack:
		return "pack"
	case TypeIndex:
		return "index"
	case TypeSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("type %d", byte(t))
}

// Codecs of an object payload, and of each chunk in a pack.
const (
	codecNone byte = 0
	codecZstd byte = 1
)

// Errors that callers branch on.
var (
	// ErrForeign means the bytes are not a cairn object: the location holds something else.
	ErrForeign = errors.New("not a cairn repository object")
	// ErrNewerFormat means the object was written by a newer cairn than this build.
	ErrNewerFormat = errors.New("written in a newer format than this build of cairn reads; upgrade cairn")
	// ErrDamaged means an object failed a consistency check.
	ErrDamaged = errors.New("damaged object")
	// ErrNotFound means a chunk, snapshot or object is not in the repository.
	ErrNotFound = errors.New("not found")
	// ErrNoRepository means the location holds no repository at all.
	ErrNoRepository = errors.New("no cairn repository here (run cairn init)")
)

// ObjectID names a stored object: the SHA-256 of its stored bytes.
type ObjectID [32]byte

func (id ObjectID) String() string { return hex.EncodeToString(id[:]) }

// Short is the first eight hex digits.
func (id ObjectID) Short() string { return hex.EncodeToString(id[:4]) }

// ParseObjectID parses a 64-digit hex object name.
func ParseObjectID(s string) (ObjectID, error) {
	var id ObjectID
	if len(s) != 64 {
		return id, fmt.Errorf("invalid object name %q", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid object name %q: %w", s, err)
	}
	return id, nil
}

func objectID(data []byte) ObjectID { return ObjectID(sha256.Sum256(data)) }

var (
	zenc     *zstd.Encoder
	zdec     *zstd.Decoder
	zstdOnce sync.Once
)

func codecs() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		var err error
		zenc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(4), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err)
		}
		zdec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(4), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			panic(err)
		}
	})
	return zenc, zdec
}

// seal wraps a payload in the envelope, compressing it when codec says so.
func seal(t ObjectType, codec byte, payload []byte) []byte {
	out := make([]byte, 0, headerSize+len(payload)/2+64)
	out = append(out, magic...)
	out = append(out, envelopeVersion, byte(t), codec)
	if codec == codecZstd {
		enc, _ := codecs()
		return enc.EncodeAll(payload, out)
	}
	return append(out, payload...)
}

// checkHeader validates the envelope header of data against the wanted type.
func checkHeader(data []byte, want ObjectType) (codec byte, err error) {
	if len(data) < headerSize || string(data[:len(magic)]) != magic {
		return 0, ErrForeign
	}
	if v := data[len(magic)]; v > envelopeVersion {
		return 0, fmt.Errorf("object envelope version %d: %w", v, ErrNewerFormat)
	} else if v == 0 {
		return 0, fmt.Errorf("object envelope version 0: %w", ErrDamaged)
	}
	if t := ObjectType(data[len(magic)+1]); t != want {
		return 0, fmt.Errorf("object is a %s, want a %s: %w", t, want, ErrDamaged)
	}
	codec = data[len(magic)+2]
	if codec > codecZstd {
		return 0, fmt.Errorf("object codec %d: %w", codec, ErrNewerFormat)
	}
	return codec, nil
}

// open checks the envelope and returns the payload.
func open(data []byte, want ObjectType) ([]byte, error) {
	codec, err := checkHeader(data, want)
	if err != nil {
		return nil, err
	}
	payload := data[headerSize:]
	if codec == codecZstd {
		_, dec := codecs()
		out, err := dec.DecodeAll(payload, nil)
		if err != nil {
			return nil, fmt.Errorf("decompress %s: %v: %w", want, err, ErrDamaged)
		}
		return out, nil
	}
	return payload, nil
}

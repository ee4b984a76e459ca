package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/crypto/chacha20poly1305"
)

// Every stored object starts with an 8-byte envelope header:
//
//	"CAIRN" | envelope version | object type | codec
//
// Version 1 is a plain payload; version 2 is a sealed one (the objects of an encrypted
// repository); version 3 is a sealed pack whose entry table is padded, so that its
// length does not give the entry count away (see pack.go). Readers reject versions
// they do not know instead of misreading them, and an encrypted repository rejects
// plain objects, so bytes swapped in by the storage owner cannot pass for the owner's
// data.
const (
	magic           = "CAIRN"
	envelopePlain   = 1
	envelopeSealed  = 2
	envelopePadded  = 3
	envelopeVersion = envelopePadded // the newest this build reads
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
	TypeKey      ObjectType = 5
	TypeLock     ObjectType = 6
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
	case TypeKey:
		return "key"
	case TypeLock:
		return "lock"
	}
	return fmt.Sprintf("type %d", byte(t))
}

// Codecs of an object payload, and of each chunk in a pack.
const (
	codecNone byte = 0
	codecZstd byte = 1
	// codecZstdSplit: zstd of the frame's split form (frame_split.go); frames only,
	// from format 3 on.
	codecZstdSplit byte = 2
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
		zenc, err = zstd.NewWriter(nil,
			// The window first: set after the level, it would leave the level's 64 KiB
			// blocks, and a frame just over frameTarget would be split in two blocks.
			zstd.WithWindowSize(1<<18), zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(encoderConcurrency()), zstd.WithLowerEncoderMem(true))
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

func envelopeOf(k *box) byte {
	if k == nil {
		return envelopePlain
	}
	return envelopeSealed
}

// appendHeader appends the header this build writes: sealed packs are version 3.
func appendHeader(dst []byte, k *box, t ObjectType, codec byte) []byte {
	v := envelopeOf(k)
	if k != nil && t == TypePack {
		v = envelopePadded
	}
	dst = append(dst, magic...)
	return append(dst, v, byte(t), codec)
}

// sealObject wraps a payload in the envelope, compressing it when codec says so and
// encrypting it (with the header as associated data) when k is not nil.
func sealObject(k *box, t ObjectType, codec byte, payload []byte) []byte {
	// Room for the payload even if it does not compress (zstd's bound), so that it is
	// compressed and sealed where it lies, without another copy.
	out := appendHeader(make([]byte, 0, headerSize+sealOverhead+len(payload)+len(payload)>>7+64), k, t, codec)
	if k != nil {
		out = out[:headerSize+chacha20poly1305.NonceSizeX]
	}
	if codec == codecZstd {
		enc, _ := codecs()
		out = enc.EncodeAll(payload, out)
	} else {
		out = append(out, payload...)
	}
	if k == nil {
		return out
	}
	return k.sealAt(out, headerSize, out[:headerSize])
}

// checkHeader validates the envelope header of data against the wanted type and the
// repository's mode (k is nil in an unencrypted repository).
func checkHeader(k *box, data []byte, want ObjectType) (codec byte, err error) {
	if len(data) < headerSize || string(data[:len(magic)]) != magic {
		return 0, ErrForeign
	}
	switch v := data[len(magic)]; {
	case v > envelopeVersion:
		return 0, fmt.Errorf("object envelope version %d: %w", v, ErrNewerFormat)
	case v == 0:
		return 0, fmt.Errorf("object envelope version 0: %w", ErrDamaged)
	case v == envelopePlain && k != nil:
		return 0, fmt.Errorf("unencrypted object in an encrypted repository: %w", ErrDamaged)
	case v != envelopePlain && k == nil:
		return 0, fmt.Errorf("encrypted object in an unencrypted repository: %w", ErrDamaged)
	case v == envelopePadded && want != TypePack:
		return 0, fmt.Errorf("a %s in envelope version %d, which only packs use: %w", want, v, ErrDamaged)
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

// openObject checks the envelope and returns the payload.
func openObject(k *box, data []byte, want ObjectType) ([]byte, error) {
	return openObjectTo(k, data, want, false)
}

// openObjectInPlace is openObject decrypting into data's own bytes (which it changes):
// for a caller that owns data and needs it no more, one buffer fewer.
func openObjectInPlace(k *box, data []byte, want ObjectType) ([]byte, error) {
	return openObjectTo(k, data, want, true)
}

func openObjectTo(k *box, data []byte, want ObjectType, inPlace bool) ([]byte, error) {
	codec, err := checkHeader(k, data, want)
	if err != nil {
		return nil, err
	}
	payload := data[headerSize:]
	if k != nil {
		var dst []byte
		if inPlace && len(payload) >= sealOverhead {
			dst = payload[chacha20poly1305.NonceSizeX:chacha20poly1305.NonceSizeX] // the AEAD allows exactly this overlap
		}
		if payload, err = k.open(dst, payload, data[:headerSize]); err != nil {
			return nil, fmt.Errorf("%s: %w", want, err)
		}
	}
	if codec == codecZstd {
		out, err := decodeZstd(payload, nil, objectMax(want))
		if err != nil {
			return nil, fmt.Errorf("decompress %s: %w", want, err)
		}
		return out, nil
	}
	return payload, nil
}

// decodeZstd decompresses a zstd stream, appended to dst, when it decodes to limit
// bytes at most. It knows before decoding: the stream's frames declare their sizes
// (which the decoder holds them to) or are bounded by their blocks, so a stream that
// would decode to more is refused before anything is allocated for it, in a plain
// repository as in an encrypted one.
func decodeZstd(b, dst []byte, limit int64) ([]byte, error) {
	size, err := zstdSize(b)
	if err != nil {
		return nil, err
	}
	if size > uint64(limit) {
		return nil, fmt.Errorf("zstd stream decodes to up to %d bytes, more than the %d read of it: %w", size, limit, ErrDamaged)
	}
	_, dec := codecs()
	out, err := dec.DecodeAll(b, dst)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrDamaged)
	}
	return out, nil
}

// zstdSize is the most a zstd stream decodes to: the sum of its frames' declared sizes,
// and for a frame that declares none, of its blocks' (a block decodes to 128 KiB at
// most, and to no more than the frame's window, which the decoder holds it to). It refuses a frame that declares more content than its blocks can hold: the
// decoder reserves a frame's declared size before it reads the blocks, so a few
// damaged or forged header bytes would make it allocate for content that is not there.
func zstdSize(b []byte) (uint64, error) {
	var total uint64
	for len(b) > 0 {
		var h zstd.Header
		rest, err := h.DecodeAndStrip(b)
		if err != nil {
			return 0, fmt.Errorf("zstd frame header: %v: %w", err, ErrDamaged)
		}
		if h.Skippable {
			if uint64(len(rest)) < uint64(h.SkippableSize) {
				return 0, fmt.Errorf("zstd frame truncated: %w", ErrDamaged)
			}
			b = rest[h.SkippableSize:]
			continue
		}
		blockMax := uint64(128 << 10)
		if h.WindowSize > 0 {
			blockMax = min(blockMax, h.WindowSize)
		}
		var most uint64
		for last := false; !last; {
			if len(rest) < 3 {
				return 0, fmt.Errorf("zstd frame truncated: %w", ErrDamaged)
			}
			bh := int(rest[0]) | int(rest[1])<<8 | int(rest[2])<<16
			size, stored := bh>>3, bh>>3 // what the block decodes to, what it takes
			switch bh >> 1 & 3 {
			case 1: // RLE: one byte repeated
				stored = 1
			case 2: // compressed
				size = 128 << 10
			case 3:
				return 0, fmt.Errorf("zstd block type 3: %w", ErrDamaged)
			}
			if len(rest) < 3+stored {
				return 0, fmt.Errorf("zstd frame truncated: %w", ErrDamaged)
			}
			last, rest, most = bh&1 != 0, rest[3+stored:], most+min(uint64(size), blockMax)
		}
		if h.HasCheckSum {
			if len(rest) < 4 {
				return 0, fmt.Errorf("zstd frame truncated: %w", ErrDamaged)
			}
			rest = rest[4:]
		}
		if h.HasFCS && h.FrameContentSize > most {
			return 0, fmt.Errorf("zstd frame declares %d bytes, its blocks hold at most %d: %w", h.FrameContentSize, most, ErrDamaged)
		}
		if h.HasFCS {
			most = h.FrameContentSize // the decoder fails a frame that decodes to more
		}
		total += most
		b = rest
	}
	return total, nil
}

package repo

import (
	"crypto/cipher"
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"cairn/chunk"
)

// masterKey is the secret of an encrypted repository. It is made once, at init, from
// the system's random source; key slots store it wrapped by keys derived from
// passwords, so changing a password never re-encrypts data.
type masterKey struct {
	Encrypt []byte `json:"encrypt"`  // 32 bytes: XChaCha20-Poly1305 key of every object
	ChunkID []byte `json:"chunk_id"` // 32 bytes: BLAKE3 key that names chunks
}

func newMasterKey() (*masterKey, error) {
	k := &masterKey{Encrypt: make([]byte, chacha20poly1305.KeySize), ChunkID: make([]byte, 32)}
	if _, err := rand.Read(k.Encrypt); err != nil {
		return nil, fmt.Errorf("random master key: %w", err)
	}
	if _, err := rand.Read(k.ChunkID); err != nil {
		return nil, fmt.Errorf("random master key: %w", err)
	}
	return k, nil
}

func (k *masterKey) valid() bool {
	return k != nil && len(k.Encrypt) == chacha20poly1305.KeySize && len(k.ChunkID) == 32
}

// box seals and opens the objects of an encrypted repository and names its chunks by
// a keyed hash, so that whoever holds the stored bytes can neither read them nor test
// whether a known snippet is among them.
type box struct {
	aead cipher.AEAD
	ids  *chunk.Hasher // keyed by the master key's chunk id key
}

const sealOverhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

func newBox(k *masterKey) (*box, error) {
	if !k.valid() {
		return nil, fmt.Errorf("master key has the wrong size: %w", ErrDamaged)
	}
	aead, err := chacha20poly1305.NewX(k.Encrypt)
	if err != nil {
		return nil, err
	}
	return &box{aead: aead, ids: chunk.NewHasher((*[32]byte)(k.ChunkID))}, nil
}

// seal appends nonce | ciphertext | tag of plaintext to dst. ad is authenticated, not
// stored.
func (b *box) seal(dst, plaintext, ad []byte) []byte {
	n := len(dst)
	dst = append(append(dst, make([]byte, chacha20poly1305.NonceSizeX)...), plaintext...)
	return b.sealAt(dst, n, ad)
}

// sealAt seals in place: dst[start:start+NonceSizeX] gets the nonce, the bytes after
// it are the plaintext, encrypted where they are, and the tag is appended.
func (b *box) sealAt(dst []byte, start int, ad []byte) []byte {
	ns := chacha20poly1305.NonceSizeX
	nonce := dst[start : start+ns]
	if _, err := rand.Read(nonce); err != nil {
		// The system's random source does not fail on supported platforms; a repeated
		// nonce would be worse than stopping.
		panic(fmt.Sprintf("cairn: random nonce: %v", err))
	}
	return b.aead.Seal(dst[:start+ns], nonce, dst[start+ns:], ad)
}

// open appends the plaintext of a sealed blob to dst.
func (b *box) open(dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < sealOverhead {
		return nil, fmt.Errorf("sealed data of %d bytes is too short: %w", len(sealed), ErrDamaged)
	}
	ns := chacha20poly1305.NonceSizeX
	out, err := b.aead.Open(dst, sealed[:ns], sealed[ns:], ad)
	if err != nil {
		return nil, fmt.Errorf("authentication failed (wrong key or altered bytes): %w", ErrDamaged)
	}
	return out, nil
}

// plainIDs names chunks in an unencrypted repository.
var plainIDs = chunk.NewHasher(nil)

func (r *Repository) hasher() *chunk.Hasher {
	if r.box == nil {
		return plainIDs
	}
	return r.box.ids
}

// ChunkID names data as this repository does: the plain BLAKE3-256 hash in an
// unencrypted repository, a BLAKE3 hash keyed by the master key in an encrypted one;
// cut to its first 128 bits in a repository of format 2 or later.
func (r *Repository) ChunkID(data []byte) chunk.ID {
	id := r.hasher().Hash(data)
	if r.narrowIDs() {
		return id.Narrow()
	}
	return id
}

// ChunkIDs sets ids[i] to ChunkID(chunks[i]), hashing small chunks many at a time.
func (r *Repository) ChunkIDs(chunks [][]byte, ids []chunk.ID) {
	r.hasher().HashMany(chunks, ids)
	if r.narrowIDs() {
		for i := range chunks {
			ids[i] = ids[i].Narrow()
		}
	}
}

// Encrypted reports whether the repository encrypts its objects.
func (r *Repository) Encrypted() bool { return r.box != nil }

package repo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"cairn/transport"
)

// Errors of encrypted repositories.
var (
	// ErrPasswordNeeded means the repository is encrypted and no password was given.
	ErrPasswordNeeded = errors.New("the repository is encrypted: a password is needed")
	// ErrWrongPassword means no key slot opens with the password given.
	ErrWrongPassword = errors.New("wrong password: no key slot of the repository opens with it")
)

// KDFParams are the argon2id parameters that turn a password into the key wrapping a
// key slot. They are stored in the slot, so each slot can have its own.
type KDFParams struct {
	Time      uint32 `json:"time"`       // passes
	MemoryKiB uint32 `json:"memory_kib"` // memory in KiB
	Threads   uint8  `json:"threads"`
}

// DefaultKDF costs about a tenth of a second and 32 MiB on a 2-core machine: each
// password guess costs an attacker the same.
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 32 << 10, Threads: 2}

// Bounds on slot parameters: a slot asking for more is refused rather than obeyed, so a
// planted key file cannot make opening the repository exhaust memory.
const (
	maxKDFMemoryKiB = 4 << 20
	maxKDFTime      = 64
	minKDFMemoryKiB = 64
)

func (p KDFParams) validate() error {
	if p.Time < 1 || p.Time > maxKDFTime || p.Threads < 1 || p.MemoryKiB < minKDFMemoryKiB || p.MemoryKiB > maxKDFMemoryKiB || p.MemoryKiB < 8*uint32(p.Threads) {
		return fmt.Errorf("argon2id parameters time=%d memory=%dKiB threads=%d out of range (time 1-%d, memory %d KiB-%d GiB)",
			p.Time, p.MemoryKiB, p.Threads, maxKDFTime, minKDFMemoryKiB, maxKDFMemoryKiB>>20)
	}
	return nil
}

// keySlot is one stored key: the master key sealed by a key derived from a password.
// It is the only object of an encrypted repository stored in the clear, and it says
// nothing but who made it, when, and how to derive the wrapping key.
type keySlot struct {
	Created  time.Time `json:"created"`
	Username string    `json:"username,omitempty"`
	Hostname string    `json:"hostname,omitempty"`
	KDF      string    `json:"kdf"` // "argon2id"
	KDFParams
	Salt   []byte `json:"salt"`
	Sealed []byte `json:"sealed"` // nonce | XChaCha20-Poly1305 of the master key's JSON
}

// KeyInfo describes a key slot.
type KeyInfo struct {
	Name     string    `json:"name"`
	Current  bool      `json:"current"` // the slot this handle was opened with
	Created  time.Time `json:"created"`
	Username string    `json:"username,omitempty"`
	Hostname string    `json:"hostname,omitempty"`
	KDF      string    `json:"kdf"`
	KDFParams
}

func wrapKey(password string) func(salt []byte, p KDFParams) []byte {
	return func(salt []byte, p KDFParams) []byte {
		return argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, chacha20poly1305.KeySize)
	}
}

func newKeySlot(master *masterKey, password string, p KDFParams) ([]byte, error) {
	if password == "" {
		return nil, errors.New("empty password")
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	ks := keySlot{Created: time.Now().UTC().Truncate(time.Second), KDF: "argon2id", KDFParams: p, Salt: make([]byte, 32)}
	if u, err := user.Current(); err == nil {
		ks.Username = u.Username
	}
	ks.Hostname, _ = os.Hostname()
	if _, err := rand.Read(ks.Salt); err != nil {
		return nil, fmt.Errorf("random salt: %w", err)
	}
	plain, err := json.Marshal(master)
	if err != nil {
		return nil, err
	}
	wrap, err := chacha20poly1305.NewX(wrapKey(password)(ks.Salt, p))
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("random nonce: %w", err)
	}
	ks.Sealed = wrap.Seal(nonce, nonce, plain, nil)
	js, err := json.Marshal(ks)
	if err != nil {
		return nil, err
	}
	return sealObject(nil, TypeKey, codecNone, js), nil
}

func decodeKeySlot(data []byte) (keySlot, error) {
	var ks keySlot
	payload, err := openObject(nil, data, TypeKey)
	if err != nil {
		return ks, err
	}
	if err := json.Unmarshal(payload, &ks); err != nil {
		return ks, fmt.Errorf("key slot: %v: %w", err, ErrDamaged)
	}
	if ks.KDF != "argon2id" {
		return ks, fmt.Errorf("key slot derives its key with %q: %w", ks.KDF, ErrNewerFormat)
	}
	if err := ks.KDFParams.validate(); err != nil {
		return ks, fmt.Errorf("key slot: %v: %w", err, ErrDamaged)
	}
	if len(ks.Salt) < 16 || len(ks.Sealed) < sealOverhead {
		return ks, fmt.Errorf("key slot: salt or sealed key too short: %w", ErrDamaged)
	}
	return ks, nil
}

// unlock opens the slot with password; ok is false when the password does not fit.
func (ks keySlot) unlock(password string) (*masterKey, bool, error) {
	wrap, err := chacha20poly1305.NewX(wrapKey(password)(ks.Salt, ks.KDFParams))
	if err != nil {
		return nil, false, err
	}
	ns := chacha20poly1305.NonceSizeX
	plain, err := wrap.Open(nil, ks.Sealed[:ns], ks.Sealed[ns:], nil)
	if err != nil {
		return nil, false, nil
	}
	var mk masterKey
	if err := json.Unmarshal(plain, &mk); err != nil || !mk.valid() {
		return nil, false, fmt.Errorf("key slot opened but holds no valid master key: %w", ErrDamaged)
	}
	return &mk, true, nil
}

func saveKeySlot(ctx context.Context, be transport.Backend, master *masterKey, password string, p KDFParams) (string, error) {
	data, err := newKeySlot(master, password, p)
	if err != nil {
		return "", err
	}
	// Named like every other object, by the SHA-256 of its bytes (unique: the salt is random).
	name := objectID(data).String()
	if err := be.Save(ctx, transport.Handle{Kind: transport.Keys, Name: name}, data); err != nil {
		return "", fmt.Errorf("save key slot: %w", err)
	}
	return name, nil
}

// KeyCache remembers the master keys a long-running process has unlocked, so that
// opening the same repository again with the same password costs no key derivation.
type KeyCache struct {
	mu sync.Mutex
	m  map[[32]byte]*masterKey
}

func cacheKey(slot []byte, password string) [32]byte {
	h := sha256.New()
	h.Write(slot)
	h.Write([]byte{0})
	h.Write([]byte(password))
	return [32]byte(h.Sum(nil))
}

func (c *KeyCache) get(k [32]byte) *masterKey {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *KeyCache) put(k [32]byte, mk *masterKey) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[32]byte]*masterKey{}
	}
	c.m[k] = mk
}

// unlockRepository tries password against every key slot and returns the master key
// and the name of the slot that opened.
func unlockRepository(ctx context.Context, be transport.Backend, password string, cache *KeyCache) (*masterKey, string, error) {
	if password == "" {
		return nil, "", ErrPasswordNeeded
	}
	var names []string
	if err := be.List(ctx, transport.Keys, func(fi transport.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		return nil, "", fmt.Errorf("list key slots: %w", err)
	}
	if len(names) == 0 {
		return nil, "", fmt.Errorf("the repository has no key slots: %w", ErrDamaged)
	}
	slices.Sort(names)
	var damaged error
	for _, name := range names {
		data, err := transport.LoadAll(ctx, be, transport.Handle{Kind: transport.Keys, Name: name})
		if err != nil {
			return nil, "", fmt.Errorf("load key slot %s: %w", name[:8], err)
		}
		ck := cacheKey(data, password)
		if mk := cache.get(ck); mk != nil {
			return mk, name, nil
		}
		ks, err := decodeKeySlot(data)
		if err != nil {
			damaged = fmt.Errorf("key slot %s: %w", name[:8], err)
			continue
		}
		mk, ok, err := ks.unlock(password)
		if err != nil {
			return nil, "", fmt.Errorf("key slot %s: %w", name[:8], err)
		}
		if ok {
			cache.put(ck, mk)
			return mk, name, nil
		}
	}
	if damaged != nil {
		return nil, "", errors.Join(ErrWrongPassword, damaged)
	}
	return nil, "", ErrWrongPassword
}

// Keys lists the key slots of an encrypted repository.
func (r *Repository) Keys(ctx context.Context) ([]KeyInfo, error) {
	if r.box == nil {
		return nil, errors.New("the repository is not encrypted: it has no keys")
	}
	var out []KeyInfo
	err := r.be.List(ctx, transport.Keys, func(fi transport.FileInfo) error {
		data, err := transport.LoadAll(ctx, r.be, transport.Handle{Kind: transport.Keys, Name: fi.Name})
		if err != nil {
			return err
		}
		ks, err := decodeKeySlot(data)
		if err != nil {
			return fmt.Errorf("key slot %s: %w", fi.Name, err)
		}
		out = append(out, KeyInfo{Name: fi.Name, Current: fi.Name == r.keyName, Created: ks.Created,
			Username: ks.Username, Hostname: ks.Hostname, KDF: ks.KDF, KDFParams: ks.KDFParams})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list key slots: %w", err)
	}
	slices.SortFunc(out, func(a, b KeyInfo) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// AddKey stores a new key slot for password and returns its name.
func (r *Repository) AddKey(ctx context.Context, password string, p KDFParams) (string, error) {
	if r.box == nil {
		return "", errors.New("the repository is not encrypted: it takes no keys")
	}
	return saveKeySlot(ctx, r.be, r.master, password, p)
}

// RemoveKey deletes a key slot. The slot this handle was opened with cannot be
// removed (ChangePassword replaces it), so a repository always keeps a slot someone
// can open.
func (r *Repository) RemoveKey(ctx context.Context, name string) error {
	if r.box == nil {
		return errors.New("the repository is not encrypted: it has no keys")
	}
	if name == r.keyName {
		return errors.New("that is the key slot in use; open the repository with another password to remove it, or change its password")
	}
	h := transport.Handle{Kind: transport.Keys, Name: name}
	if err := h.Valid(); err != nil {
		return err
	}
	if _, err := r.be.Stat(ctx, h); err != nil {
		if r.be.IsNotExist(err) {
			return fmt.Errorf("key slot %s: %w", name, ErrNotFound)
		}
		return err
	}
	return r.be.Remove(ctx, h)
}

// ChangePassword replaces the slot in use by one for a new password: the new slot is
// stored before the old one is removed.
func (r *Repository) ChangePassword(ctx context.Context, password string, p KDFParams) (string, error) {
	name, err := r.AddKey(ctx, password, p)
	if err != nil {
		return "", err
	}
	old := r.keyName
	r.keyName = name
	if old != "" {
		if err := r.be.Remove(ctx, transport.Handle{Kind: transport.Keys, Name: old}); err != nil {
			return name, fmt.Errorf("new key slot %s stored, old slot %s not removed: %w", name[:8], old[:8], err)
		}
	}
	return name, nil
}

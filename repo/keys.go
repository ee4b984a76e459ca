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
	"runtime/debug"
	"slices"
	"strings"
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
	// ErrTooManyKeySlots means the repository has more key slots than opening tries
	// (maxKeySlots): the password may fit one that was not tried. Errors that wrap it
	// wrap ErrWrongPassword too.
	ErrTooManyKeySlots = errors.New("the repository has more key slots than cairn tries when opening")
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

// Bounds on slot parameters. A slot asking for more is skipped as damaged, never
// obeyed: whoever holds the storage can plant slots, and each slot tried costs one
// derivation before the password is known to be right, so one derivation is held to
// about 20 s of two cores and 1 GiB. A user asking for a strong slot still gets 1 GiB
// with 4 passes, or 256 MiB with 16.
const (
	MaxKDFMemoryKiB = 1 << 20 // 1 GiB
	MaxKDFTime      = 16      // passes
	MaxKDFThreads   = 16
	MaxKDFWork      = 4 << 20 // memory × passes, in KiB: 4 GiB
	MinKDFMemoryKiB = 64
)

// Validate reports whether a slot may use these parameters.
func (p KDFParams) Validate() error {
	switch {
	case p.Time < 1 || p.Time > MaxKDFTime:
		return fmt.Errorf("argon2id passes %d out of range (1 to %d)", p.Time, MaxKDFTime)
	case p.MemoryKiB < MinKDFMemoryKiB || p.MemoryKiB > MaxKDFMemoryKiB:
		return fmt.Errorf("argon2id memory %d KiB out of range (%d KiB to %d GiB)", p.MemoryKiB, MinKDFMemoryKiB, MaxKDFMemoryKiB>>20)
	case p.Threads < 1 || p.Threads > MaxKDFThreads || p.MemoryKiB < 8*uint32(p.Threads):
		return fmt.Errorf("argon2id threads %d out of range (1 to %d, and 8 KiB of memory each)", p.Threads, MaxKDFThreads)
	case uint64(p.MemoryKiB)*uint64(p.Time) > MaxKDFWork:
		return fmt.Errorf("argon2id memory %d MiB × %d passes is more than %d GiB × 1 pass", p.MemoryKiB>>10, p.Time, MaxKDFWork>>20)
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

// deriveFunc turns a password into the key wrapping a slot.
type deriveFunc func(password string, salt []byte, p KDFParams) []byte

// argon2Key is the deriveFunc of every key slot: argon2id. Its memory (32 MiB by
// default) is garbage once the key is out; collected at once, it does not set the
// collector's goal for the rest of the run at twice that (an incremental backup
// peaked 13 MiB higher without it), and given back to the system at once, it is not
// resident still when the index is installed from the local cache (9 MiB higher).
func argon2Key(password string, salt []byte, p KDFParams) []byte {
	k := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, chacha20poly1305.KeySize)
	debug.FreeOSMemory()
	return k
}

func newKeySlot(master *masterKey, password string, p KDFParams) ([]byte, error) {
	if password == "" {
		return nil, errors.New("empty password")
	}
	if err := p.Validate(); err != nil {
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
	wrap, err := chacha20poly1305.NewX(argon2Key(password, ks.Salt, p))
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
	if err := ks.KDFParams.Validate(); err != nil {
		return ks, fmt.Errorf("key slot: %v: %w", err, ErrDamaged)
	}
	if len(ks.Salt) < 16 || len(ks.Sealed) < sealOverhead {
		return ks, fmt.Errorf("key slot: salt or sealed key too short: %w", ErrDamaged)
	}
	return ks, nil
}

// unlock opens the slot with password; ok is false when the password does not fit.
func (ks keySlot) unlock(password string, derive deriveFunc) (*masterKey, bool, error) {
	wrap, err := chacha20poly1305.NewX(derive(password, ks.Salt, ks.KDFParams))
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

// unlockRepository tries the password against the key slots and returns the master key
// and the name of the slot that opened. It looks at maxKeySlots slots at most, the
// first by name, and skips as damaged, without deriving a key, a slot larger than
// maxKeySlotBytes, one whose bytes do not match its name and one whose parameters are
// out of bounds: whatever the storage holds, opening costs maxKeySlots derivations
// within the bounds at most.
func unlockRepository(ctx context.Context, be transport.Backend, o options) (*masterKey, string, error) {
	if o.password == "" {
		return nil, "", ErrPasswordNeeded
	}
	var slots []transport.FileInfo
	if err := be.List(ctx, transport.Keys, func(fi transport.FileInfo) error {
		slots = append(slots, fi)
		return nil
	}); err != nil {
		return nil, "", fmt.Errorf("list key slots: %w", err)
	}
	if len(slots) == 0 {
		return nil, "", fmt.Errorf("the repository has no key slots: %w", ErrDamaged)
	}
	slices.SortFunc(slots, func(a, b transport.FileInfo) int { return strings.Compare(a.Name, b.Name) })
	var damaged []error
	for _, fi := range slots[:min(len(slots), maxKeySlots)] {
		mk, err := tryKeySlot(ctx, be, fi, o)
		switch {
		case errors.Is(err, ErrDamaged):
			damaged = append(damaged, err)
		case err != nil:
			return nil, "", err
		case mk != nil:
			return mk, fi.Name, nil
		}
	}
	var wrong error = ErrWrongPassword
	if len(slots) > maxKeySlots {
		wrong = tooManySlots{len(slots)}
	}
	return nil, "", errors.Join(append([]error{wrong}, damaged...)...)
}

// tryKeySlot opens one slot with the password: the master key, nil when the password
// does not fit, or an error (wrapping ErrDamaged for a slot skipped as damaged).
func tryKeySlot(ctx context.Context, be transport.Backend, fi transport.FileInfo, o options) (*masterKey, error) {
	name := fi.Name
	if len(name) < 8 {
		return nil, fmt.Errorf("key slot %q: invalid name: %w", name, ErrDamaged)
	}
	short := name[:8]
	limit := o.limits.of(TypeKey)
	if fi.Size > limit {
		return nil, fmt.Errorf("key slot %s: %w", short, tooLarge(transport.TooLarge(fi.Size, limit)))
	}
	data, err := transport.LoadMax(ctx, be, transport.Handle{Kind: transport.Keys, Name: name}, limit)
	switch {
	case be.IsNotExist(err):
		return nil, nil // removed since the listing (cairn key passwd elsewhere, say)
	case err != nil:
		if errors.Is(err, transport.ErrTooLarge) {
			return nil, fmt.Errorf("key slot %s: %w", short, tooLarge(err))
		}
		return nil, fmt.Errorf("load key slot %s: %w", short, err)
	}
	// Named by the SHA-256 of its bytes: a slot that is not was not stored by cairn
	// (or was changed since), and costs no derivation.
	if objectID(data).String() != name {
		return nil, fmt.Errorf("key slot %s: its bytes do not match its name: %w", short, ErrDamaged)
	}
	ck := cacheKey(data, o.password)
	if mk := o.keys.get(ck); mk != nil {
		return mk, nil
	}
	ks, err := decodeKeySlot(data)
	if err != nil {
		return nil, fmt.Errorf("key slot %s: %w", short, err)
	}
	mk, ok, err := ks.unlock(o.password, o.derive)
	if err != nil {
		return nil, fmt.Errorf("key slot %s: %w", short, err)
	}
	if !ok {
		return nil, nil
	}
	o.keys.put(ck, mk)
	return mk, nil
}

// tooManySlots is the error of a password that opens none of the slots tried when the
// repository has more than maxKeySlots.
type tooManySlots struct{ n int }

func (e tooManySlots) Error() string {
	return fmt.Sprintf("%v: the password opens none of the first %d key slots by name, and the repository has %d; "+
		"the others were not tried (anyone with access to the storage can add slots: remove the ones you do not know)",
		ErrTooManyKeySlots, maxKeySlots, e.n)
}

func (e tooManySlots) Is(target error) bool {
	return target == ErrTooManyKeySlots || target == ErrWrongPassword
}

// Keys lists the key slots of an encrypted repository.
func (r *Repository) Keys(ctx context.Context) ([]KeyInfo, error) {
	if r.box == nil {
		return nil, errors.New("the repository is not encrypted: it has no keys")
	}
	var out []KeyInfo
	err := r.be.List(ctx, transport.Keys, func(fi transport.FileInfo) error {
		data, err := transport.LoadMax(ctx, r.be, transport.Handle{Kind: transport.Keys, Name: fi.Name}, r.limits.of(TypeKey))
		if err != nil {
			return fmt.Errorf("key slot %s: %w", fi.Name, tooLarge(err))
		}
		if objectID(data).String() != fi.Name {
			return fmt.Errorf("key slot %s: its bytes do not match its name: %w", fi.Name, ErrDamaged)
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

// AddKey stores a new key slot for password and returns its name. A repository holds
// maxKeySlots slots at most: opening tries no more.
func (r *Repository) AddKey(ctx context.Context, password string, p KDFParams) (string, error) {
	if r.box == nil {
		return "", errors.New("the repository is not encrypted: it takes no keys")
	}
	n := 0
	if err := r.be.List(ctx, transport.Keys, func(transport.FileInfo) error {
		n++
		return nil
	}); err != nil {
		return "", fmt.Errorf("list key slots: %w", err)
	}
	if n >= maxKeySlots {
		return "", fmt.Errorf("the repository has %d key slots, the most cairn tries when opening: remove one first (cairn key remove)", n)
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
// stored before the old one is removed, so for a moment the repository may hold one
// slot more than AddKey allows.
func (r *Repository) ChangePassword(ctx context.Context, password string, p KDFParams) (string, error) {
	if r.box == nil {
		return "", errors.New("the repository is not encrypted: it takes no keys")
	}
	name, err := saveKeySlot(ctx, r.be, r.master, password, p)
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

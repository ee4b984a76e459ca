package repo

import (
	"context"
	"fmt"

	"cairn/transport"
	"cairn/transport/count"
)

// An Option changes how Init creates or Open opens a repository.
type Option func(*options)

type options struct {
	password string
	kdf      KDFParams
	keys     *KeyCache
	lock     string // the kind of lock Open takes, none when empty
	timing   LockTiming
	limits   readLimits
	derive   deriveFunc // argon2id unless a test counts the calls
	pins     *Pins      // nil: nothing remembered
	comp     CompressionOptions
	icache   string // the folder of the local index cache (WithIndexCache), none when empty
}

// WithKeyCache lets Open reuse master keys unlocked before in this process.
func WithKeyCache(c *KeyCache) Option { return func(o *options) { o.keys = c } }

// WithPassword gives the password of an encrypted repository: Init stores its first
// key slot with it (argon2id with kdf, DefaultKDF when kdf is zero); Open tries it
// against every key slot.
func WithPassword(password string, kdf KDFParams) Option {
	return func(o *options) {
		o.password = password
		if kdf != (KDFParams{}) {
			o.kdf = kdf
		}
	}
}

func collect(opts []Option) options {
	o := options{kdf: DefaultKDF, derive: argon2Key}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Init creates a repository in an empty location. A config with EncryptionXChaCha
// needs WithPassword: a random master key is made and its first key slot stored
// before the config, which is sealed with it. WithPins records the new repository as
// the one this client trusts at the location.
func Init(ctx context.Context, be transport.Backend, cfg Config, opts ...Option) (*Repository, error) {
	o := collect(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := be.Stat(ctx, transport.Handle{Kind: transport.Config}); err == nil {
		return nil, fmt.Errorf("init %s: a repository already exists there", be.Location())
	} else if !be.IsNotExist(err) {
		return nil, fmt.Errorf("init %s: %w", be.Location(), err)
	}
	var keys unlocked
	if cfg.Encryption == EncryptionXChaCha {
		var err error
		if keys, err = newKeys(ctx, be, o); err != nil {
			return nil, err
		}
	}
	data, err := encodeConfig(keys.box, cfg)
	if err != nil {
		return nil, err
	}
	if err := be.Save(ctx, transport.Handle{Kind: transport.Config}, data); err != nil {
		return nil, fmt.Errorf("init %s: save config: %w", be.Location(), err)
	}
	if o.pins != nil {
		// What was made here is what this client trusts from now on.
		if err := o.pins.save(be.Location(), cfg); err != nil {
			return nil, fmt.Errorf("init %s: the repository was created but cannot be remembered: %w", be.Location(), err)
		}
	}
	r := newRepository(be, cfg)
	r.box, r.master, r.keyName, r.limits = keys.box, keys.master, keys.name, o.limits
	r.comp.set(o.comp)
	return r, nil
}

// unlocked is the master key a repository was created or opened with, all empty in an
// unencrypted one.
type unlocked struct {
	master *masterKey
	box    *box
	name   string // the key slot
}

// newKeys makes the master key of a new encrypted repository and stores its first key
// slot, under o's password.
func newKeys(ctx context.Context, be transport.Backend, o options) (unlocked, error) {
	if o.password == "" {
		return unlocked{}, fmt.Errorf("init %s: %w", be.Location(), ErrPasswordNeeded)
	}
	mk, err := newMasterKey()
	if err != nil {
		return unlocked{}, err
	}
	k, err := newBox(mk)
	if err != nil {
		return unlocked{}, err
	}
	name, err := saveKeySlot(ctx, be, mk, o.password, o.kdf)
	if err != nil {
		return unlocked{}, fmt.Errorf("init %s: %w", be.Location(), err)
	}
	return unlocked{master: mk, box: k, name: name}, nil
}

// Open reads the config of an existing repository and loads its index. An encrypted
// repository needs WithPassword; given a password, Open refuses an unencrypted one
// (ErrRepositoryChanged), and with WithPins a repository other than the one pinned
// for the location, before it writes anything.
func Open(ctx context.Context, be transport.Backend, opts ...Option) (*Repository, error) {
	o := collect(opts)
	cb := count.New(be)
	pre := o.prefetchIndex(ctx, cb) // while the key is derived
	defer pre.stop()
	cfg, keys, err := readConfig(ctx, be, o)
	if err != nil {
		return nil, err
	}
	if err := o.trust(be.Location(), cfg); err != nil {
		return nil, fmt.Errorf("open %s: %w", be.Location(), err)
	}
	r := newRepositoryOn(cb, cfg)
	r.box, r.master, r.keyName, r.limits = keys.box, keys.master, keys.name, o.limits
	r.comp.set(o.comp)
	r.timing = o.timing.withDefaults()
	r.icache.dir = o.icache
	if o.lock != "" {
		if err := r.writeLock(ctx, o.lock); err != nil {
			return nil, err
		}
	}
	r.prefetch = pre
	err = r.LoadIndex(ctx)
	r.prefetch = nil
	if err != nil {
		r.Release(ctx)
		return nil, err
	}
	return r, nil
}

// readConfig loads and decodes the config, unlocking the master key first when the
// config is sealed.
func readConfig(ctx context.Context, be transport.Backend, o options) (Config, unlocked, error) {
	data, err := transport.LoadMax(ctx, be, transport.Handle{Kind: transport.Config}, o.limits.of(TypeConfig))
	if err != nil {
		if be.IsNotExist(err) {
			return Config{}, unlocked{}, fmt.Errorf("open %s: %w", be.Location(), ErrNoRepository)
		}
		return Config{}, unlocked{}, fmt.Errorf("open %s: %w", be.Location(), tooLarge(err))
	}
	var keys unlocked
	if len(data) > len(magic) && string(data[:len(magic)]) == magic && data[len(magic)] == envelopeSealed {
		if keys.master, keys.name, err = unlockRepository(ctx, be, o); err != nil {
			return Config{}, unlocked{}, fmt.Errorf("open %s: %w", be.Location(), err)
		}
		if keys.box, err = newBox(keys.master); err != nil {
			return Config{}, unlocked{}, err
		}
	}
	cfg, err := decodeConfig(keys.box, data)
	if err != nil {
		return Config{}, unlocked{}, fmt.Errorf("open %s: %w", be.Location(), err)
	}
	if (keys.box != nil) != (cfg.Encryption == EncryptionXChaCha) {
		return Config{}, unlocked{}, fmt.Errorf("open %s: config says encryption %q but is stored otherwise: %w", be.Location(), cfg.Encryption, ErrDamaged)
	}
	return cfg, keys, nil
}

package repo

import (
	"context"
	"fmt"

	"cairn/transport"
)

// An Option changes how Init creates or Open opens a repository.
type Option func(*options)

type options struct {
	password string
	kdf      KDFParams
	keys     *KeyCache
	marker   string
	timing   MarkerTiming
	limits   readLimits
	derive   deriveFunc // argon2id unless a test counts the calls
	pins     *Pins      // nil: nothing remembered
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
	var (
		mk      *masterKey
		k       *box
		keyName string
		err     error
	)
	if cfg.Encryption == EncryptionXChaCha {
		if o.password == "" {
			return nil, fmt.Errorf("init %s: %w", be.Location(), ErrPasswordNeeded)
		}
		if mk, err = newMasterKey(); err != nil {
			return nil, err
		}
		if k, err = newBox(mk); err != nil {
			return nil, err
		}
		if keyName, err = saveKeySlot(ctx, be, mk, o.password, o.kdf); err != nil {
			return nil, fmt.Errorf("init %s: %w", be.Location(), err)
		}
	}
	data, err := encodeConfig(k, cfg)
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
	r.box, r.master, r.keyName, r.limits = k, mk, keyName, o.limits
	return r, nil
}

// Open reads the config of an existing repository and loads its index. An encrypted
// repository needs WithPassword; given a password, Open refuses an unencrypted one
// (ErrRepositoryChanged), and with WithPins a repository other than the one pinned
// for the location, before it writes anything.
func Open(ctx context.Context, be transport.Backend, opts ...Option) (*Repository, error) {
	o := collect(opts)
	data, err := transport.LoadMax(ctx, be, transport.Handle{Kind: transport.Config}, o.limits.of(TypeConfig))
	if err != nil {
		if be.IsNotExist(err) {
			return nil, fmt.Errorf("open %s: %w", be.Location(), ErrNoRepository)
		}
		return nil, fmt.Errorf("open %s: %w", be.Location(), tooLarge(err))
	}
	var (
		mk      *masterKey
		k       *box
		keyName string
	)
	if len(data) > len(magic) && string(data[:len(magic)]) == magic && data[len(magic)] == envelopeSealed {
		if mk, keyName, err = unlockRepository(ctx, be, o); err != nil {
			return nil, fmt.Errorf("open %s: %w", be.Location(), err)
		}
		if k, err = newBox(mk); err != nil {
			return nil, err
		}
	}
	cfg, err := decodeConfig(k, data)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", be.Location(), err)
	}
	if (k != nil) != (cfg.Encryption == EncryptionXChaCha) {
		return nil, fmt.Errorf("open %s: config says encryption %q but is stored otherwise: %w", be.Location(), cfg.Encryption, ErrDamaged)
	}
	if err := o.trust(be.Location(), cfg); err != nil {
		return nil, fmt.Errorf("open %s: %w", be.Location(), err)
	}
	r := newRepository(be, cfg)
	r.box, r.master, r.keyName, r.limits = k, mk, keyName, o.limits
	r.timing = o.timing.withDefaults()
	if o.marker != "" {
		if err := r.writeMarker(ctx, o.marker); err != nil {
			return nil, err
		}
	}
	if err := r.LoadIndex(ctx); err != nil {
		r.Release(ctx)
		return nil, err
	}
	return r, nil
}

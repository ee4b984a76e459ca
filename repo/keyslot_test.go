package repo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/transport"
)

// kdfCalls counts key derivations. One that asks for more than the tests ever need
// (fastKDF) is recorded and not run: a build that obeyed it would take minutes and
// gigabytes before failing the test.
type kdfCalls struct {
	mu     sync.Mutex
	n      int
	absurd []KDFParams
}

func (c *kdfCalls) derive(password string, salt []byte, p KDFParams) []byte {
	c.mu.Lock()
	c.n++
	if uint64(p.MemoryKiB)*uint64(p.Time) > 1<<10 || p.Threads > 4 {
		c.absurd = append(c.absurd, p)
		c.mu.Unlock()
		return make([]byte, 32)
	}
	c.mu.Unlock()
	return argon2Key(password, salt, p)
}

func (c *kdfCalls) calls() (int, []KDFParams) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.absurd
}

func withDerive(f deriveFunc) Option { return func(o *options) { o.derive = f } }

// plantSlot stores a key slot as whoever holds the storage may: well formed, named by
// its bytes, with the parameters p and a sealed key no password opens.
func plantSlot(t *testing.T, be transport.Backend, p KDFParams) string {
	t.Helper()
	ks := keySlot{Created: time.Unix(1700000000, 0), KDF: "argon2id", KDFParams: p,
		Salt: make([]byte, 32), Sealed: make([]byte, sealOverhead+64)}
	rand.Read(ks.Salt)
	rand.Read(ks.Sealed)
	js, err := json.Marshal(ks)
	if err != nil {
		t.Fatal(err)
	}
	data := sealObject(nil, TypeKey, codecNone, js)
	name := objectID(data).String()
	if err := be.Save(context.Background(), transport.Handle{Kind: transport.Keys, Name: name}, data); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestAbsurdKeySlots: slots whose argon2id parameters are out of bounds are skipped as
// damaged without a key being derived for them, whether or not the password opens
// another slot.
func TestAbsurdKeySlots(t *testing.T) {
	ctx := context.Background()
	_, be := encryptedRepo(t, "pw")
	for _, p := range []KDFParams{
		{Time: 1, MemoryKiB: 4 << 20, Threads: 2},             // 4 GiB
		{Time: 64, MemoryKiB: 32 << 10, Threads: 2},           // 64 passes
		{Time: 16, MemoryKiB: 1 << 20, Threads: 2},            // 1 GiB × 16 passes
		{Time: 1, MemoryKiB: 1 << 20, Threads: 255},           // 255 threads
		{Time: 1 << 31, MemoryKiB: 1 << 31, Threads: 1},       // 2 TiB × 2^31
		{Time: 3, MemoryKiB: MaxKDFMemoryKiB + 1, Threads: 2}, // just over
	} {
		plantSlot(t, be, p)
	}
	for _, pw := range []string{"pw", "wrong"} {
		kdf := &kdfCalls{}
		start := time.Now()
		_, err := Open(ctx, be, WithPassword(pw, KDFParams{}), withDerive(kdf.derive))
		if pw == "pw" && err != nil {
			t.Fatalf("the password of the real slot: %v", err)
		}
		if pw == "wrong" && (!errors.Is(err, ErrWrongPassword) || !errors.Is(err, ErrDamaged)) {
			t.Fatalf("a wrong password: %v, want ErrWrongPassword naming damaged slots", err)
		}
		if n, absurd := kdf.calls(); len(absurd) > 0 || n > 1 {
			t.Fatalf("password %q: %d derivations, %d with absurd parameters: %+v", pw, n, len(absurd), absurd)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("password %q: opening took %v", pw, d)
		}
	}
}

// TestManyKeySlots: of a thousand planted slots, opening tries maxKeySlots and says
// so, rather than deriving a key for each.
func TestManyKeySlots(t *testing.T) {
	ctx := context.Background()
	r, be := encryptedRepo(t, "pw")
	// The real slot sorts after at least maxKeySlots of the planted ones.
	for r.keyName < "8" {
		if _, err := r.ChangePassword(ctx, "pw", fastKDF); err != nil {
			t.Fatal(err)
		}
	}
	for range 1000 {
		plantSlot(t, be, fastKDF)
	}
	s := newHostile(be)
	kdf := &kdfCalls{}
	_, err := Open(ctx, s, WithPassword("pw", KDFParams{}), withDerive(kdf.derive))
	if !errors.Is(err, ErrTooManyKeySlots) || !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("1001 key slots: %v, want ErrTooManyKeySlots", err)
	}
	if !strings.Contains(err.Error(), "1001") {
		t.Fatalf("the error does not say how many slots there are: %v", err)
	}
	if n, _ := kdf.calls(); n != maxKeySlots || s.loaded(transport.Keys) != maxKeySlots {
		t.Fatalf("%d derivations, %d slots loaded; want %d", n, s.loaded(transport.Keys), maxKeySlots)
	}
	t.Log(err)
}

// TestKeySlotNameChecked: a slot whose bytes do not match its name is skipped as
// damaged, not tried, even when the password would open it.
func TestKeySlotNameChecked(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []string{"moved", "changed"} {
		_, be := encryptedRepo(t, "pw")
		name := objectNames(t, be, transport.Keys)[0]
		h := transport.Handle{Kind: transport.Keys, Name: name}
		data, err := transport.LoadAll(ctx, be, h)
		if err != nil {
			t.Fatal(err)
		}
		switch tc {
		case "moved": // the same bytes under another name
			be.Remove(ctx, h)
			h.Name = strings.Repeat("ab", 32)
		case "changed": // the sealed key kept, the rest of the slot altered
			var ks keySlot
			if err := json.Unmarshal(data[headerSize:], &ks); err != nil {
				t.Fatal(err)
			}
			ks.Username = "someone else"
			js, _ := json.Marshal(ks)
			data = sealObject(nil, TypeKey, codecNone, js)
			be.Remove(ctx, h)
		}
		if err := be.Save(ctx, h, data); err != nil {
			t.Fatal(err)
		}
		kdf := &kdfCalls{}
		_, err = Open(ctx, be, WithPassword("pw", KDFParams{}), withDerive(kdf.derive))
		if !errors.Is(err, ErrWrongPassword) || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "do not match its name") {
			t.Fatalf("%s slot: %v, want it skipped as damaged", tc, err)
		}
		if n, _ := kdf.calls(); n != 0 {
			t.Fatalf("%s slot: %d derivations, want none", tc, n)
		}
	}
}

// TestKeySlotCount: a repository takes maxKeySlots slots; changing a password still
// works when it has that many.
func TestKeySlotCount(t *testing.T) {
	ctx := context.Background()
	r, be := encryptedRepo(t, "pw")
	for range maxKeySlots - 1 {
		if _, err := r.AddKey(ctx, "more", fastKDF); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.AddKey(ctx, "one too many", fastKDF); err == nil {
		t.Fatalf("a slot added past %d", maxKeySlots)
	}
	if _, err := r.ChangePassword(ctx, "new", fastKDF); err != nil {
		t.Fatal(err)
	}
	if n := len(objectNames(t, be, transport.Keys)); n != maxKeySlots {
		t.Fatalf("%d slots after changing a password, want %d", n, maxKeySlots)
	}
	if _, err := Open(ctx, be, WithPassword("new", KDFParams{})); err != nil {
		t.Fatal(err)
	}
}

func TestKDFBounds(t *testing.T) {
	for _, tc := range []struct {
		p  KDFParams
		ok bool
	}{
		{DefaultKDF, true},
		{fastKDF, true},
		{KDFParams{Time: 4, MemoryKiB: 1 << 20, Threads: 4}, true},    // 1 GiB × 4
		{KDFParams{Time: 16, MemoryKiB: 256 << 10, Threads: 2}, true}, // 256 MiB × 16
		{KDFParams{Time: 16, MemoryKiB: 64, Threads: 8}, true},
		{KDFParams{Time: 5, MemoryKiB: 1 << 20, Threads: 2}, false},
		{KDFParams{Time: 17, MemoryKiB: 64, Threads: 1}, false},
		{KDFParams{Time: 1, MemoryKiB: 1<<20 + 1, Threads: 1}, false},
		{KDFParams{Time: 1, MemoryKiB: 63, Threads: 1}, false},
		{KDFParams{Time: 1, MemoryKiB: 1 << 10, Threads: 17}, false},
		{KDFParams{Time: 1, MemoryKiB: 64, Threads: 9}, false}, // 8 KiB a thread
		{KDFParams{Time: 0, MemoryKiB: 64, Threads: 1}, false},
		{KDFParams{Time: 1, MemoryKiB: 64, Threads: 0}, false},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok %v", tc.p, err, tc.ok)
		}
	}
}

// Package faulty wraps a transport.Backend and injects faults, for tests of what the
// engine does when storage misbehaves: failed calls, slow calls, short or corrupted
// reads. It also counts calls, so a test can assert, say, that no pack was saved twice.
//
// A Fault says which calls it hits (a method, a handle predicate, the Nth call, a
// seeded probability) and what it does to them (delay, fail, truncate, flip a byte):
//
//	be := faulty.New(mem.New(),
//		faulty.FailNth(faulty.Save, 3),
//		faulty.Fault{Method: faulty.Load, Probability: 0.1, Seed: 1, Flip: true},
//	)
//
// Injected errors match ErrInjected with errors.Is and are transient (IsPermanent is
// false) unless the fault says Permanent.
package faulty

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"cairn/transport"
)

// The methods faults and counts name.
const (
	Save   = "save"
	Load   = "load"
	Stat   = "stat"
	List   = "list"
	Remove = "remove"
)

// ErrInjected is matched (errors.Is) by every error a fault injects.
var ErrInjected = errors.New("injected fault")

// Fault is one rule. A call is hit when every condition set holds; the zero Fault hits
// every call and does nothing to it. Effects combine: the delay comes first, then the
// hook, then the failure; Truncate and Flip act on the bytes a hit Load returns.
type Fault struct {
	// Which calls it hits.
	Method      string                      // Save, Load, Stat, List or Remove; "" for all
	Match       func(transport.Handle) bool // nil for all; List passes Handle{Kind: k}
	Nth         int                         // only the Nth call of the method (1-based, as Calls counts); 0 for all
	Probability float64                     // if > 0, only this fraction of calls, drawn from a source seeded with Seed
	Seed        uint64

	// What it does to them.
	Delay     time.Duration                                 // wait this long first, or until the context is done
	Hook      func(method string, h transport.Handle) error // a non-nil error fails the call
	Fail      bool                                          // fail the call with ErrInjected
	Permanent bool                                          // injected errors are permanent
	Truncate  bool                                          // Load: the reader ends halfway through the range
	Flip      bool                                          // Load: the middle byte of the range is inverted
}

// FailNth fails the nth call of method (1-based, counting every call as Calls does).
func FailNth(method string, n int) Fault { return Fault{Method: method, Nth: n, Fail: true} }

// Hook runs fn on every call; a non-nil error fails the call, transiently.
func Hook(fn func(method string, h transport.Handle) error) Fault { return Fault{Hook: fn} }

// fault is a Fault with its random source.
type fault struct {
	Fault
	mu  sync.Mutex
	rng *rand.Rand // nil unless Probability > 0
}

// hits reports whether f applies to the nth call of method on h.
func (f *fault) hits(method string, h transport.Handle, n int) bool {
	if f.Method != "" && f.Method != method || f.Nth != 0 && f.Nth != n ||
		f.Match != nil && !f.Match(h) {
		return false
	}
	if f.rng == nil {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < f.Probability
}

type key struct {
	method string
	h      transport.Handle
}

// Backend is the wrapper. All its methods are safe for concurrent use.
type Backend struct {
	be transport.Backend

	mu     sync.Mutex
	faults []*fault
	calls  map[string]int // by method
	byObj  map[key]int    // by method and handle
}

var _ transport.Backend = (*Backend)(nil)

// New wraps be with the given faults.
func New(be transport.Backend, faults ...Fault) *Backend {
	f := &Backend{be: be, calls: map[string]int{}, byObj: map[key]int{}}
	return f.Fail(faults...)
}

// Fail adds faults; they apply from the next call on.
func (f *Backend) Fail(faults ...Fault) *Backend {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, flt := range faults {
		nf := &fault{Fault: flt}
		if flt.Probability > 0 {
			nf.rng = rand.New(rand.NewPCG(flt.Seed, flt.Seed))
		}
		f.faults = append(f.faults, nf)
	}
	return f
}

// Corrupt flips a byte in every load of an object match accepts.
func (f *Backend) Corrupt(match func(transport.Handle) bool) *Backend {
	return f.Fail(Fault{Method: Load, Match: match, Flip: true})
}

// Truncate cuts every load of an object match accepts to half its length.
func (f *Backend) Truncate(match func(transport.Handle) bool) *Backend {
	return f.Fail(Fault{Method: Load, Match: match, Truncate: true})
}

// Clear removes every fault, keeping the counts.
func (f *Backend) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// Calls returns how many calls of method were made, including those a fault failed.
func (f *Backend) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// CallsFor returns how many calls of method were made for h, including those a fault
// failed; List counts under Handle{Kind: k}.
func (f *Backend) CallsFor(method string, h transport.Handle) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byObj[key{method, h}]
}

// effects is what the faults hitting one call do to it.
type effects struct {
	truncate, flip bool
}

// enter counts a call, applies the delays, hooks and failures of the faults it hits,
// and returns what remains to do to a Load's bytes.
func (f *Backend) enter(ctx context.Context, method string, h transport.Handle) (effects, error) {
	f.mu.Lock()
	f.calls[method]++
	f.byObj[key{method, h}]++
	n := f.calls[method]
	faults := f.faults
	f.mu.Unlock()

	var e effects
	for _, flt := range faults {
		if !flt.hits(method, h, n) {
			continue
		}
		if flt.Delay > 0 {
			if err := transport.Sleep(ctx, flt.Delay); err != nil {
				return e, fmt.Errorf("%s %s: %w", method, h, err)
			}
		}
		if flt.Hook != nil {
			if err := flt.Hook(method, h); err != nil {
				return e, &injectedError{method, h, n, err, flt.Permanent}
			}
		}
		if flt.Fail {
			return e, &injectedError{method, h, n, nil, flt.Permanent}
		}
		e.truncate = e.truncate || flt.Truncate
		e.flip = e.flip || flt.Flip
	}
	return e, nil
}

// Location implements transport.Backend.
func (f *Backend) Location() string { return "faulty:" + f.be.Location() }

// Unwrap returns the wrapped backend.
func (f *Backend) Unwrap() transport.Backend { return f.be }

// Save implements transport.Backend.
func (f *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if _, err := f.enter(ctx, Save, h); err != nil {
		return err
	}
	return f.be.Save(ctx, h, data)
}

// Load implements transport.Backend. A truncated or flipped load reads the range into
// memory first.
func (f *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	e, err := f.enter(ctx, Load, h)
	if err != nil {
		return err
	}
	if !e.truncate && !e.flip {
		return f.be.Load(ctx, h, length, offset, fn)
	}
	return f.be.Load(ctx, h, length, offset, func(rd io.Reader) error {
		b, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		if e.flip && len(b) > 0 {
			b[len(b)/2] ^= 0xff
		}
		if e.truncate {
			b = b[:len(b)/2]
		}
		return fn(bytes.NewReader(b))
	})
}

// Stat implements transport.Backend.
func (f *Backend) Stat(ctx context.Context, h transport.Handle) (transport.FileInfo, error) {
	if _, err := f.enter(ctx, Stat, h); err != nil {
		return transport.FileInfo{}, err
	}
	return f.be.Stat(ctx, h)
}

// List implements transport.Backend.
func (f *Backend) List(ctx context.Context, k transport.Kind, fn func(transport.FileInfo) error) error {
	if _, err := f.enter(ctx, List, transport.Handle{Kind: k}); err != nil {
		return err
	}
	return f.be.List(ctx, k, fn)
}

// Remove implements transport.Backend.
func (f *Backend) Remove(ctx context.Context, h transport.Handle) error {
	if _, err := f.enter(ctx, Remove, h); err != nil {
		return err
	}
	return f.be.Remove(ctx, h)
}

// IsNotExist implements transport.Backend.
func (f *Backend) IsNotExist(err error) bool { return f.be.IsNotExist(err) }

// IsPermanent implements transport.Backend: an injected error is permanent only if its
// fault says so; other errors are the wrapped backend's to judge.
func (f *Backend) IsPermanent(err error) bool {
	if ie, ok := errors.AsType[*injectedError](err); ok {
		return ie.permanent
	}
	return f.be.IsPermanent(err)
}

// Close implements transport.Backend; it closes the wrapped backend.
func (f *Backend) Close() error { return f.be.Close() }

// injectedError is the error a fault injects; it matches ErrInjected and the hook's
// error, if any.
type injectedError struct {
	method    string
	h         transport.Handle
	n         int   // the call's number
	err       error // the hook's error, or nil
	permanent bool
}

func (e *injectedError) Error() string {
	msg := fmt.Sprintf("%s %s: %v (call %d)", e.method, e.h, ErrInjected, e.n)
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

func (e *injectedError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrInjected}
	}
	return []error{ErrInjected, e.err}
}

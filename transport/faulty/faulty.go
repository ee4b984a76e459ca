// Package faulty wraps a transport.Backend and injects failures, for tests of what the
// engine does when storage fails: errors on chosen calls, truncated or corrupted reads.
package faulty

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"cairn/transport"
)

// ErrInjected is the error injected calls return.
var ErrInjected = errors.New("injected fault")

// Rule decides whether a call fails: it gets the method ("save", "load", "stat",
// "list", "remove"), the handle, and the 1-based count of calls of that method so far.
type Rule func(method string, h transport.Handle, n int) error

// Backend is the wrapper.
type Backend struct {
	transport.Backend
	mu       sync.Mutex
	rules    []Rule
	calls    map[string]int
	corrupt  func(h transport.Handle) bool
	truncate func(h transport.Handle) bool
}

var _ transport.Backend = (*Backend)(nil)

// New wraps b.
func New(b transport.Backend) *Backend { return &Backend{Backend: b, calls: map[string]int{}} }

// Fail adds a rule.
func (f *Backend) Fail(r Rule) *Backend {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, r)
	return f
}

// FailNth makes the n-th call of method fail.
func FailNth(method string, n int) Rule {
	return func(m string, _ transport.Handle, k int) error {
		if m == method && k == n {
			return fmt.Errorf("%s call %d: %w", m, k, ErrInjected)
		}
		return nil
	}
}

// FailAfter makes every call of method after the first n fail.
func FailAfter(method string, n int) Rule {
	return func(m string, _ transport.Handle, k int) error {
		if m == method && k > n {
			return fmt.Errorf("%s call %d: %w", m, k, ErrInjected)
		}
		return nil
	}
}

// Corrupt flips a bit in the middle of every load of a matching object.
func (f *Backend) Corrupt(match func(transport.Handle) bool) *Backend { f.corrupt = match; return f }

// Truncate cuts every load of a matching object to half its length.
func (f *Backend) Truncate(match func(transport.Handle) bool) *Backend { f.truncate = match; return f }

// Calls returns how many calls of method were made.
func (f *Backend) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// Clear removes every rule, keeping the counts.
func (f *Backend) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules, f.corrupt, f.truncate = nil, nil, nil
}

func (f *Backend) check(method string, h transport.Handle) error {
	f.mu.Lock()
	f.calls[method]++
	n := f.calls[method]
	rules := f.rules
	f.mu.Unlock()
	for _, r := range rules {
		if err := r(method, h, n); err != nil {
			return err
		}
	}
	return nil
}

// Save implements transport.Backend.
func (f *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := f.check("save", h); err != nil {
		return err
	}
	return f.Backend.Save(ctx, h, data)
}

// Load implements transport.Backend.
func (f *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := f.check("load", h); err != nil {
		return err
	}
	corrupt := f.corrupt != nil && f.corrupt(h)
	truncate := f.truncate != nil && f.truncate(h)
	if !corrupt && !truncate {
		return f.Backend.Load(ctx, h, length, offset, fn)
	}
	return f.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		b, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		if corrupt && len(b) > 0 {
			b[len(b)/2] ^= 0x10
		}
		if truncate {
			b = b[:len(b)/2]
		}
		return fn(bytes.NewReader(b))
	})
}

// Stat implements transport.Backend.
func (f *Backend) Stat(ctx context.Context, h transport.Handle) (transport.FileInfo, error) {
	if err := f.check("stat", h); err != nil {
		return transport.FileInfo{}, err
	}
	return f.Backend.Stat(ctx, h)
}

// List implements transport.Backend.
func (f *Backend) List(ctx context.Context, k transport.Kind, fn func(transport.FileInfo) error) error {
	if err := f.check("list", transport.Handle{Kind: k}); err != nil {
		return err
	}
	return f.Backend.List(ctx, k, fn)
}

// Remove implements transport.Backend.
func (f *Backend) Remove(ctx context.Context, h transport.Handle) error {
	if err := f.check("remove", h); err != nil {
		return err
	}
	return f.Backend.Remove(ctx, h)
}

// IsPermanent implements transport.Backend: injected faults are transient.
func (f *Backend) IsPermanent(err error) bool {
	if errors.Is(err, ErrInjected) {
		return false
	}
	return f.Backend.IsPermanent(err)
}

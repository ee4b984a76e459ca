// Package mem is an in-memory transport.Backend for tests.
//
// Objects live in a map guarded by a mutex. Save and Load copy the bytes, so neither
// the caller nor the backend can change an object behind the other's back.
package mem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"cairn/transport"
)

// Backend keeps objects in a map. The zero value is not usable; call New.
type Backend struct {
	mu   sync.RWMutex
	objs map[transport.Handle][]byte
}

var _ transport.Backend = (*Backend)(nil)

// New returns an empty backend.
func New() *Backend { return &Backend{objs: map[transport.Handle][]byte{}} }

// Location implements transport.Backend.
func (b *Backend) Location() string { return "mem:" }

// Save implements transport.Backend. Saving an object that exists succeeds and keeps
// the stored bytes: objects are named by their content.
func (b *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := check(ctx, "save", h); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objs[h]; !ok {
		b.objs[h] = bytes.Clone(data)
	}
	return nil
}

// Load implements transport.Backend. fn reads a copy of the range.
func (b *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := check(ctx, "load", h); err != nil {
		return err
	}
	b.mu.RLock()
	data, ok := b.objs[h]
	if ok {
		var err error
		data, err = cut(data, length, offset)
		if err != nil {
			b.mu.RUnlock()
			return fmt.Errorf("load %s: %w", h, err)
		}
		data = bytes.Clone(data)
	}
	b.mu.RUnlock()
	if !ok {
		return fmt.Errorf("load %w", transport.NotExist(h))
	}
	return fn(bytes.NewReader(data))
}

// cut returns the length bytes of data at offset (to the end when length is 0).
func cut(data []byte, length int, offset int64) ([]byte, error) {
	size := int64(len(data))
	switch {
	case offset < 0 || length < 0:
		return nil, permanentError{fmt.Errorf("invalid range %d+%d", offset, length)}
	case offset > size || int64(length) > size-offset:
		return nil, permanentError{fmt.Errorf("range %d+%d outside %d bytes: %w", offset, length, size, io.ErrUnexpectedEOF)}
	}
	if length == 0 {
		return data[offset:], nil
	}
	return data[offset : offset+int64(length)], nil
}

// Stat implements transport.Backend.
func (b *Backend) Stat(ctx context.Context, h transport.Handle) (transport.FileInfo, error) {
	if err := check(ctx, "stat", h); err != nil {
		return transport.FileInfo{}, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	data, ok := b.objs[h]
	if !ok {
		return transport.FileInfo{}, fmt.Errorf("stat %w", transport.NotExist(h))
	}
	return transport.FileInfo{Name: h.Name, Size: int64(len(data))}, nil
}

// List implements transport.Backend. It lists a snapshot taken when it starts, so fn
// may call the backend.
func (b *Backend) List(ctx context.Context, k transport.Kind, fn func(transport.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", k, err)
	}
	if !slices.Contains(transport.Kinds, k) {
		return fmt.Errorf("list %s: %w", k, permanentError{fmt.Errorf("unknown kind %q", k)})
	}
	b.mu.RLock()
	var list []transport.FileInfo
	for h, data := range b.objs {
		if h.Kind == k {
			list = append(list, transport.FileInfo{Name: h.Name, Size: int64(len(data))})
		}
	}
	b.mu.RUnlock()
	for _, fi := range list {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", k, err)
		}
		if err := fn(fi); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements transport.Backend.
func (b *Backend) Remove(ctx context.Context, h transport.Handle) error {
	if err := check(ctx, "remove", h); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objs[h]; !ok {
		return fmt.Errorf("remove %w", transport.NotExist(h))
	}
	delete(b.objs, h)
	return nil
}

// IsNotExist implements transport.Backend.
func (b *Backend) IsNotExist(err error) bool { return errors.Is(err, transport.ErrNotExist) }

// IsPermanent implements transport.Backend: a missing object, an invalid handle or
// range, and the caller's context being done are permanent.
func (b *Backend) IsPermanent(err error) bool {
	_, marked := errors.AsType[permanentError](err)
	return marked || errors.Is(err, transport.ErrNotExist) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// Close implements transport.Backend. The objects stay; a closed backend still works.
func (b *Backend) Close() error { return nil }

// check rejects a done context and an invalid handle, naming the operation op.
func check(ctx context.Context, op string, h transport.Handle) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, h, err)
	}
	if err := h.Valid(); err != nil {
		return fmt.Errorf("%s: %w", op, permanentError{err})
	}
	return nil
}

// permanentError marks an error that retrying will not cure.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Package mem is an in-memory transport.Backend for tests.
package mem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"cairn/transport"
)

// Backend keeps objects in a map.
type Backend struct {
	mu   sync.RWMutex
	objs map[transport.Handle][]byte
}

var _ transport.Backend = (*Backend)(nil)

// New returns an empty backend.
func New() *Backend { return &Backend{objs: map[transport.Handle][]byte{}} }

// Location implements transport.Backend.
func (b *Backend) Location() string { return "mem:" }

func check(ctx context.Context, h transport.Handle) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return h.Valid()
}

// Save implements transport.Backend.
func (b *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := check(ctx, h); err != nil {
		return fmt.Errorf("save %s: %w", h, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objs[h]; !ok {
		b.objs[h] = bytes.Clone(data)
	}
	return nil
}

// Load implements transport.Backend.
func (b *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := check(ctx, h); err != nil {
		return fmt.Errorf("load %s: %w", h, err)
	}
	b.mu.RLock()
	data, ok := b.objs[h]
	b.mu.RUnlock()
	if !ok {
		return transport.NotExist(h)
	}
	if offset < 0 || length < 0 || offset > int64(len(data)) {
		return fmt.Errorf("load %s: range %d+%d outside %d bytes", h, offset, length, len(data))
	}
	data = data[offset:]
	if length > 0 {
		if length > len(data) {
			return fmt.Errorf("load %s: range %d+%d outside the object: %w", h, offset, length, io.ErrUnexpectedEOF)
		}
		data = data[:length]
	}
	return fn(bytes.NewReader(data))
}

// Stat implements transport.Backend.
func (b *Backend) Stat(ctx context.Context, h transport.Handle) (transport.FileInfo, error) {
	if err := check(ctx, h); err != nil {
		return transport.FileInfo{}, fmt.Errorf("stat %s: %w", h, err)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	data, ok := b.objs[h]
	if !ok {
		return transport.FileInfo{}, transport.NotExist(h)
	}
	return transport.FileInfo{Name: h.Name, Size: int64(len(data))}, nil
}

// List implements transport.Backend.
func (b *Backend) List(ctx context.Context, k transport.Kind, fn func(transport.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
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
		if err := fn(fi); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements transport.Backend.
func (b *Backend) Remove(ctx context.Context, h transport.Handle) error {
	if err := check(ctx, h); err != nil {
		return fmt.Errorf("remove %s: %w", h, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objs[h]; !ok {
		return transport.NotExist(h)
	}
	delete(b.objs, h)
	return nil
}

// IsNotExist implements transport.Backend.
func (b *Backend) IsNotExist(err error) bool { return errors.Is(err, transport.ErrNotExist) }

// IsPermanent implements transport.Backend.
func (b *Backend) IsPermanent(err error) bool { return err != nil }

// Close implements transport.Backend.
func (b *Backend) Close() error { return nil }

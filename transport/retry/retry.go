// Package retry wraps a transport.Backend and repeats the calls that fail transiently.
// It is the one layer of cairn that retries: the remote transports (rest, s3) send each
// request once and say, through their IsPermanent, which failures may go away.
//
// A call is repeated while the wrapped backend's IsPermanent says its error is not
// permanent, the caller's context is not done, and retries are left: at most
// Options.Max retries per call, so one call sends at most Max+1 requests for the
// operation (and no more whatever the failure), with a backoff between them
// (exponential, with full jitter, capped at WaitMax).
//
// Save is repeated with the same bytes. Stat is repeated as it is. Remove that
// failed and then finds the object gone counts as done: the earlier attempt removed
// it. List calls its callback once per name however often the listing is asked for
// again. Load calls its callback once: a load that fails before the callback has its
// reader is asked for again, and a body cut short while the callback reads it is
// asked for again from the byte where it stopped, so the callback reads one unbroken
// stream (see Load). The wrapped backend must call Load's callback in the goroutine
// that called Load, as every cairn transport does.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"cairn/transport"
)

// The defaults of Options.
const (
	DefaultMax     = 5
	DefaultWaitMin = 200 * time.Millisecond
	DefaultWaitMax = 10 * time.Second
)

// Options say how often and how patiently to retry. The zero value gives the defaults.
type Options struct {
	Max     int           // retries of a transient failure per call; DefaultMax when 0, none when negative
	WaitMin time.Duration // the first backoff; DefaultWaitMin when 0
	WaitMax time.Duration // the longest backoff; DefaultWaitMax when 0
}

// withDefaults fills in the zero fields.
func (o Options) withDefaults() Options {
	switch {
	case o.Max == 0:
		o.Max = DefaultMax
	case o.Max < 0:
		o.Max = 0
	}
	if o.WaitMin <= 0 {
		o.WaitMin = DefaultWaitMin
	}
	if o.WaitMax <= 0 {
		o.WaitMax = DefaultWaitMax
	}
	o.WaitMax = max(o.WaitMax, o.WaitMin)
	return o
}

// Backend is the retrying wrapper.
type Backend struct {
	transport.Backend
	opt   Options
	sleep func(context.Context, time.Duration) error // transport.Sleep; tests count the waits
}

var _ transport.Backend = (*Backend)(nil)

// New wraps be; its IsPermanent decides what is retried.
func New(be transport.Backend, opt Options) *Backend {
	return &Backend{Backend: be, opt: opt.withDefaults(), sleep: transport.Sleep}
}

// Options returns the options in use, defaults filled in.
func (b *Backend) Options() Options { return b.opt }

// Unwrap returns the wrapped backend.
func (b *Backend) Unwrap() transport.Backend { return b.Backend }

// Do runs fn under the same rules as the backend's calls: again while it fails with
// an error the wrapped backend's IsPermanent calls transient. It is for the calls of a
// transport that are not part of transport.Backend, such as creating a repository or
// checking that a bucket exists.
func (b *Backend) Do(ctx context.Context, fn func(context.Context) error) error {
	return b.retry(ctx, func(int) error { return fn(ctx) })
}

// retry calls fn (with the number of the attempt, from 0) until it succeeds, fails
// permanently, the context is done, or the retries run out. The last error is
// returned; when ctx is done it matches ctx.Err().
func (b *Backend) retry(ctx context.Context, fn func(attempt int) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := fn(attempt)
		if err == nil {
			return nil
		}
		if s, ok := errors.AsType[*stop](err); ok {
			return s.err
		}
		if cerr := ctx.Err(); cerr != nil {
			if errors.Is(err, cerr) {
				return err
			}
			return fmt.Errorf("%w (%v)", cerr, err)
		}
		if b.Backend.IsPermanent(err) {
			return err
		}
		if attempt >= b.opt.Max {
			return exhausted(err, attempt)
		}
		if werr := b.wait(ctx, attempt); werr != nil {
			return fmt.Errorf("%w (after %v)", werr, err)
		}
	}
}

// backoff is the wait before retry number attempt (from 0): minWait/2, and a random
// time up to minWait*2^attempt or maxWait, whichever is less ("full jitter"), so that
// clients that failed together do not retry together.
func backoff(minWait, maxWait time.Duration, attempt int) time.Duration {
	ceil := minWait << min(attempt, 30)
	if ceil <= 0 || ceil > maxWait {
		ceil = maxWait
	}
	return minWait/2 + time.Duration(rand.Int64N(int64(ceil)))
}

// stop is an error that ends retry at once, handed back as s.err: the error of a
// caller's callback, which is no failure of the storage.
type stop struct{ err error }

func (s *stop) Error() string { return s.err.Error() }

// wait sleeps the backoff before retry number attempt (from 0).
func (b *Backend) wait(ctx context.Context, attempt int) error {
	return b.sleep(ctx, backoff(b.opt.WaitMin, b.opt.WaitMax, attempt))
}

// exhausted says how often a transient error was met; it stays the same error for
// errors.Is and As, and for the wrapped backend's IsPermanent.
func exhausted(err error, attempt int) error {
	if attempt == 0 {
		return err
	}
	return fmt.Errorf("%w (tried %d times)", err, attempt+1)
}

// Save implements transport.Backend: the same bytes are sent again.
func (b *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	return b.retry(ctx, func(int) error { return b.Backend.Save(ctx, h, data) })
}

// Stat implements transport.Backend.
func (b *Backend) Stat(ctx context.Context, h transport.Handle) (transport.FileInfo, error) {
	var fi transport.FileInfo
	err := b.retry(ctx, func(int) error {
		var err error
		fi, err = b.Backend.Stat(ctx, h)
		return err
	})
	return fi, err
}

// Remove implements transport.Backend. When an attempt failed transiently and a later
// one finds the object missing, the object is gone as asked: the earlier attempt
// removed it before its answer was lost, and Remove succeeds.
func (b *Backend) Remove(ctx context.Context, h transport.Handle) error {
	return b.retry(ctx, func(attempt int) error {
		err := b.Backend.Remove(ctx, h)
		if attempt > 0 && err != nil && b.Backend.IsNotExist(err) {
			return nil
		}
		return err
	})
}

// List implements transport.Backend. A listing that fails is asked for again from the
// start; fn is called once per name all the same (the names already reported are
// remembered and skipped), and an error of fn ends the listing at once, unretried.
func (b *Backend) List(ctx context.Context, k transport.Kind, fn func(transport.FileInfo) error) error {
	listed := map[string]struct{}{}
	return b.retry(ctx, func(int) error {
		var fnErr error
		err := b.Backend.List(ctx, k, func(fi transport.FileInfo) error {
			if _, seen := listed[fi.Name]; seen {
				return nil
			}
			listed[fi.Name] = struct{}{}
			fnErr = fn(fi)
			return fnErr
		})
		if fnErr != nil {
			return &stop{fnErr}
		}
		return err
	})
}

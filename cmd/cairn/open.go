package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport/location"
)

// openRepo opens the repository named by --repo. Options such as repo.WithLock
// apply to the open; locks are removed when the run ends (see release).
func (e *env) openRepo(ctx context.Context, extra ...repo.Option) (*repo.Repository, error) {
	loc := e.opts.Repo
	if loc == "" {
		return nil, usagef("no repository: pass --repo or set CAIRN_REPOSITORY")
	}
	pw, err := e.givenPassword(ctx)
	if err != nil {
		return nil, err
	}
	return e.openAt(ctx, loc, pw, "repository password", "pass --password-file or --password-command, set CAIRN_PASSWORD, or run on a terminal", extra...)
}

// openSnapshots opens the repository (as openRepo) and lists its snapshots.
func (e *env) openSnapshots(ctx context.Context) (*repo.Repository, []*repo.Snapshot, error) {
	r, err := e.openRepo(ctx)
	if err != nil {
		return nil, nil, err
	}
	list, err := r.Snapshots(ctx)
	if err != nil {
		return nil, nil, err
	}
	return r, list, nil
}

// openAt opens the repository at loc with the password pw, pinned and with a local
// store of its lists; without a password where one is needed it asks on the terminal
// (prompt), else says how to give one (hint). The run releases it at the end.
func (e *env) openAt(ctx context.Context, loc, pw, prompt, hint string, extra ...repo.Option) (*repo.Repository, error) {
	be, err := location.Open(ctx, loc, e.locationOptions())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", loc, repo.ErrNoRepository)
	}
	if err != nil {
		return nil, err
	}
	opts := append([]repo.Option{repo.WithPassword(pw, repo.KDFParams{})}, e.pinOptions()...)
	if c := e.locationOptions().CacheDir; c != "" {
		opts = append(opts, repo.WithIndexCache(filepath.Join(c, "index"))) // local repositories too
	}
	opts = append(opts, extra...)
	r, err := repo.Open(ctx, be, opts...)
	if errors.Is(err, repo.ErrPasswordNeeded) && pw == "" {
		if pw, err = promptPassword(prompt, false); err == nil {
			opts[0] = repo.WithPassword(pw, repo.KDFParams{})
			r, err = repo.Open(ctx, be, opts...)
		} else if errors.Is(err, repo.ErrPasswordNeeded) {
			err = fmt.Errorf("%w: %s", err, hint)
		}
	}
	if err != nil {
		be.Close()
		return nil, err
	}
	if err := keepLists(r, loc, e.locationOptions()); err != nil {
		r.Release(ctx)
		be.Close()
		return nil, err
	}
	e.mu.Lock()
	e.opened = append(e.opened, r)
	e.mu.Unlock()
	return r, nil
}

// release releases the locks of the repositories this run opened.
func (e *env) release() {
	e.mu.Lock()
	defer e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range e.opened {
		r.Release(ctx)
	}
	e.opened = nil
}

// keepLists gives a remote repository a local store of its chunk lists, beside the
// cache of its index files and manifests.
func keepLists(r *repo.Repository, loc string, opt location.Options) error {
	if opt.CacheDir == "" || !location.Remote(loc) {
		return nil
	}
	s, err := repo.NewDirListStore(filepath.Join(opt.CacheDir, "lists"), r.Config())
	if err != nil {
		return err
	}
	r.SetListStore(s)
	return nil
}

// pinOptions remembers each repository's id and encryption in the cache folder's
// pins/, with --no-cache too (which only stops the copies of objects).
func (e *env) pinOptions() []repo.Option {
	if e.opts.CacheDir == "" {
		return nil
	}
	return []repo.Option{repo.WithPins(repo.Pins{Dir: filepath.Join(e.opts.CacheDir, "pins")})}
}

// locationOptions are the global transport options.
func (e *env) locationOptions() location.Options {
	opt := location.Options{
		Connections:   e.opts.Connections,
		LimitUpload:   int64(e.opts.LimitUpload) << 10,
		LimitDownload: int64(e.opts.LimitDownload) << 10,
		CacheDir:      e.opts.CacheDir,
	}
	if e.opts.NoCache {
		opt.CacheDir = ""
	}
	return opt
}

// loadSnapshot finds one snapshot of r by id or prefix.
func loadSnapshot(ctx context.Context, r *repo.Repository, ref string) (*repo.Snapshot, error) {
	list, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	return engine.FindSnapshot(list, ref)
}

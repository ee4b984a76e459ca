package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"cairn/engine"
	"cairn/engine/localdb"
	"cairn/engine/schedule"
	"cairn/httpapi"
	"cairn/repo"
	"cairn/transport/location"
)

// scheduleFile keeps the schedule's last run across restarts, in the data folder.
const scheduleFile = "schedule.json"

// plan is the schedule the settings ask for.
func (o *serveOptions) plan() schedule.Plan {
	p := schedule.Plan{Every: o.BackupEvery}
	if o.BackupAt != "" {
		d, _ := schedule.ParseDaily(o.BackupAt) // checked by validate
		p.At = &d
	}
	return p
}

// newScheduler builds the daemon's schedule over the API's job slot: the steps the
// settings configure, alerts to --notify-url, its state in the data folder.
func (o *serveOptions) newScheduler(e *env, api *httpapi.Server, db *localdb.DB, pins []repo.Option, logger *slog.Logger) (*schedule.Scheduler, *schedule.Notifier, error) {
	var notify *schedule.Notifier
	if o.NotifyURL != "" {
		notify = schedule.NewNotifier(schedule.NotifierConfig{URL: o.NotifyURL, Device: o.Device, Logger: logger})
	}
	steps := schedule.Steps{
		DB: db, DeviceName: o.Device, Platform: o.Platform,
		Retention: o.Keep, GroupBy: o.groupBy, Prune: o.Prune,
		CheckEvery: o.CheckEvery, CheckRead: o.CheckReadData, CheckSubset: o.checkSubset,
	}
	if o.CopyTo != "" {
		steps.Copy = o.copyTo(e, pins)
	}
	s, err := schedule.New(schedule.Config{
		Plan: o.plan(), Steps: steps.List(), Slot: api.Slot(), Logger: logger, Notify: notify,
		StateFile: filepath.Join(o.Data, scheduleFile),
	})
	return s, notify, err
}

// copyTo is the copy step: it opens the target with its own password (from
// --copy-to-password-file or CAIRN_TO_PASSWORD) under a backup lock, the source under
// a copy lock, copies every snapshot the target lacks and releases both.
func (o *serveOptions) copyTo(e *env, pins []repo.Option) func(context.Context, *repo.Repository, []string) (string, error) {
	return func(ctx context.Context, src *repo.Repository, ids []string) (string, error) {
		pw := os.Getenv("CAIRN_TO_PASSWORD")
		if o.CopyToPasswordFile != "" {
			var err error
			if pw, err = readPasswordFile(o.CopyToPasswordFile); err != nil {
				return "", fmt.Errorf("copy target: %w", err)
			}
		}
		be, err := location.Open(ctx, o.CopyTo, e.locationOptions())
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("copy target %s: %w", location.Redact(o.CopyTo), repo.ErrNoRepository)
		}
		if err != nil {
			return "", fmt.Errorf("copy target: %w", err)
		}
		defer be.Close()
		opts := append([]repo.Option{repo.WithPassword(pw, repo.KDFParams{}), repo.WithLock("backup"), compressionAt(o.compression)}, pins...)
		dst, err := repo.Open(ctx, be, opts...)
		if err != nil {
			return "", fmt.Errorf("copy target: %w", err)
		}
		defer dst.Release(context.WithoutCancel(ctx))
		if dst.Config().ID == src.Config().ID {
			return "", fmt.Errorf("copy target %s is the daemon's own repository", location.Redact(o.CopyTo))
		}
		if err := src.Lock(ctx, "copy"); err != nil {
			return "", err
		}
		defer src.Release(context.WithoutCancel(ctx))
		st, err := engine.Copy(ctx, src, dst, engine.CopyOptions{Snapshots: ids})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d snapshots copied, %d already there; %d chunks and %d bytes sent", len(st.Copied), len(st.Skipped), st.ChunksSent, st.BytesSent), nil
	}
}

// scheduleView shows the schedule made after the API (it needs the API's job slot).
type scheduleView struct{ s **schedule.Scheduler }

func (v scheduleView) Status() schedule.Status {
	if *v.s == nil {
		return schedule.Status{Plan: "off", Steps: []string{}}
	}
	return (*v.s).Status()
}

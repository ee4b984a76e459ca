package main

import (
	"fmt"
	"net/url"
	"time"

	"cairn/engine"
	"cairn/engine/schedule"
	"cairn/repo"
	"cairn/transport/location"
)

// validate checks the settings of cairn serve once they are all read. A bad value from
// the settings file names its line there; one from a flag or the environment is a
// usage error.
func (o *serveOptions) validate(fromFile map[string]int, file string) error {
	bad := func(key, format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		if line, ok := fromFile[key]; ok {
			return fmt.Errorf("%s: line %d: %s: %s: %w", file, line, key, msg, errBadConfig)
		}
		return usagef("%s: %s", key, msg)
	}
	var err error
	if o.compression, err = repo.ParseLevel(o.Compression); err != nil {
		return bad("repository.compression", "%v", err)
	}
	if o.BackupEvery < 0 || o.BackupEvery > 0 && o.BackupEvery < time.Second {
		return bad("schedule.backup_every", "%s: give 0 (no schedule) or at least 1s", o.BackupEvery)
	}
	if o.BackupAt != "" {
		if _, err := schedule.ParseDaily(o.BackupAt); err != nil {
			return bad("schedule.backup_at", "%v", err)
		}
		if o.BackupEvery > 0 {
			return bad("schedule.backup_at", "give either backup_at (--backup-at) or backup_every (--backup-every), not both")
		}
	}
	keeps := []struct {
		key string
		n   int
	}{{"keep_last", o.Keep.Last}, {"keep_hourly", o.Keep.Hourly}, {"keep_daily", o.Keep.Daily},
		{"keep_weekly", o.Keep.Weekly}, {"keep_monthly", o.Keep.Monthly}, {"keep_yearly", o.Keep.Yearly}}
	for _, k := range keeps {
		if k.n < -1 {
			return bad("retention."+k.key, "%d: give a count, or -1 for no limit", k.n)
		}
	}
	within, err := engine.ParseWithin(o.KeepWithin)
	if err != nil {
		return bad("retention.keep_within", "%v", err)
	}
	o.Keep.Within = within
	if o.groupBy, err = engine.ParseGroupBy(o.GroupBy); err != nil {
		return bad("retention.group_by", "%v", err)
	}
	if o.CheckSubset != "" {
		if o.checkSubset, err = engine.ParseSubset(o.CheckSubset); err != nil {
			return bad("check.read_data_subset", "%v", err)
		}
		if o.CheckReadData {
			return bad("check.read_data_subset", "give read_data (every pack) or read_data_subset, not both")
		}
	}
	if o.CheckEvery < 0 {
		return bad("check.every", "%s is negative", o.CheckEvery)
	}
	if o.CopyTo != "" {
		if _, err := location.Parse(o.CopyTo); err != nil {
			return bad("replication.copy_to", "%v", err)
		}
	}
	if o.NotifyURL != "" {
		u, err := url.Parse(o.NotifyURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The URL itself is not repeated: it may carry a token.
			return bad("notifications.url", "not an http:// or https:// URL")
		}
	}
	return nil
}

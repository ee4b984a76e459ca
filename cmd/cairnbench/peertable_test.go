package main

import (
	"testing"
	"time"
)

func TestReadAgainst(t *testing.T) {
	const mib = 1 << 20
	borg := rowFigures{rss: 200 * mib}
	for _, tc := range []struct {
		name, op, where     string
		cairn, best         rowFigures
		changed             int64
		wantRatio, wantRead string
	}{
		{
			name: "initial backup, local: time, bytes stored and memory", op: opInitial,
			cairn:     rowFigures{wall: 3 * time.Second, bytes: 150 * mib, haveBytes: true, rss: 100 * mib},
			best:      rowFigures{wall: 2 * time.Second, bytes: 100 * mib, haveBytes: true},
			wantRatio: "**1.50x** time, **1.50x** bytes",
			wantRead:  "time 1.50x ≤ 1.00x: missed; bytes 1.50x ≤ 1.00x: missed; peak RSS / borg's 0.50x ≤ 1.00x: met",
		},
		{
			name: "incremental backup through rest-server: bytes against the changed records", op: opIncremental, where: "rest-server",
			cairn:     rowFigures{wall: time.Second, bytes: 3 * mib, haveBytes: true},
			best:      rowFigures{wall: 4 * time.Second, bytes: 130 * mib, haveBytes: true},
			changed:   4 * mib,
			wantRatio: "**0.25x** time, **0.02x** bytes",
			wantRead:  "time 0.25x ≤ 0.33x: met; bytes / changed records' 0.75x ≤ 1.00x: met",
		},
		{
			name: "restore, local: no bytes counted", op: opRestore,
			cairn:     rowFigures{wall: 1200 * time.Millisecond},
			best:      rowFigures{wall: 2 * time.Second},
			wantRatio: "**0.60x** time",
			wantRead:  "time 0.60x ≤ 0.60x: met",
		},
		{
			name: "restore through rest-server: bytes received", op: opRestore, where: "rest-server",
			cairn:     rowFigures{wall: 3 * time.Second, bytes: 170 * mib, haveBytes: true},
			best:      rowFigures{wall: 2 * time.Second, bytes: 136 * mib, haveBytes: true},
			wantRatio: "**1.50x** time, **1.25x** bytes",
			wantRead:  "time 1.50x ≤ 0.60x: missed; bytes 1.25x ≤ 1.00x: missed",
		},
		{
			name: "restore with an empty cache through rest-server: the same targets", op: opRestoreNew, where: "rest-server",
			cairn:     rowFigures{wall: time.Second, bytes: 140 * mib, haveBytes: true},
			best:      rowFigures{wall: 2 * time.Second, bytes: 140 * mib, haveBytes: true},
			wantRatio: "**0.50x** time, **1.00x** bytes",
			wantRead:  "time 0.50x ≤ 0.60x: met; bytes 1.00x ≤ 1.00x: met",
		},
		{
			name: "check: ratios without a target", op: opCheck,
			cairn:     rowFigures{wall: time.Second},
			best:      rowFigures{wall: 2 * time.Second},
			wantRatio: "**0.50x** time",
		},
		{
			name: "no peer on the repository (MinIO)", op: opRestore, where: "MinIO",
			cairn: rowFigures{wall: time.Second, bytes: mib, haveBytes: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ratio, read := readAgainst(tc.op, tc.where, tc.cairn, tc.best, borg, tc.changed)
			if ratio != tc.wantRatio || read != tc.wantRead {
				t.Errorf("got %q, %q\nwant %q, %q", ratio, read, tc.wantRatio, tc.wantRead)
			}
		})
	}
}

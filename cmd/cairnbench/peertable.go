package main

import (
	"fmt"
	"strings"
	"time"
)

// A target is what issue 16 asks of cairn on one row of the peer table, as ratios:
// cairn's wall time and bytes against the best peer's on the same kind of repository,
// bytes against the changed records', peak memory against borg's. Zero: no target.
type target struct {
	time, bytes, changed, borgRSS float64
}

// targets are issue 16's, by workload; they hold locally and through rest-server.
var targets = map[string]target{
	opInitial:     {time: 1, bytes: 1, borgRSS: 1},
	opIncremental: {time: 0.33, changed: 1},
	opRestore:     {time: 0.6, bytes: 1},
	opRestoreNew:  {time: 0.6, bytes: 1},
}

func isBackup(op string) bool { return op == opInitial || op == opIncremental }

// rowFigures are the medians of one tool on one row.
type rowFigures struct {
	wall, cpu      time.Duration
	rss, stored    int64
	sent, received int64
	haveBytes      bool  // the row has a byte count to compare (bytes)
	bytes          int64 // what the workload moves: stored or sent for a backup, received for a restore
}

// figures takes the medians of ss. The bytes a backup moves are those it sends to a
// server, or on a local repository those it stores; a restore's those it receives,
// through a server only (a local read is not counted).
func figures(op, where string, ss []sample) rowFigures {
	m := func(f func(sample) int64) int64 { return median(ss, f) }
	r := rowFigures{
		wall: time.Duration(m(func(s sample) int64 { return int64(s.wall) })),
		cpu:  time.Duration(m(func(s sample) int64 { return int64(s.cpu) })),
		rss:  m(func(s sample) int64 { return s.rss }), stored: m(func(s sample) int64 { return s.stored }),
		sent: m(func(s sample) int64 { return s.sent }), received: m(func(s sample) int64 { return s.received }),
	}
	switch {
	case isBackup(op) && where != "":
		r.bytes, r.haveBytes = r.sent, true
	case isBackup(op):
		r.bytes, r.haveBytes = r.stored, true
	case (op == opRestore || op == opRestoreNew) && where != "":
		r.bytes, r.haveBytes = r.received, true
	}
	return r
}

// printPeerTable prints every tool's medians per workload and repository, and on
// cairn's rows its ratios against the best peer on the same kind of repository (wall
// time, and the bytes the workload moves) and how they read against issue 16's
// targets. changed is the size of the records the incremental backup follows.
func printPeerTable(setups []setup, results map[string]map[string][]sample, changed int64) {
	fmt.Println("| workload | tool | wall | CPU | peak RSS | new bytes stored | sent / received | cairn / best peer | issue 16 target |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, op := range peerOps {
		borg := figures(op, "", results[setup{peer: peer{name: "borg"}}.label()][op])
		for _, where := range []string{"", "rest-server", "MinIO"} {
			var best rowFigures // the best peer's wall time and bytes, each on its own
			for _, st := range setups {
				if st.where != where || st.name == "cairn" || len(results[st.label()][op]) == 0 {
					continue
				}
				f := figures(op, where, results[st.label()][op])
				if best.wall == 0 || f.wall < best.wall {
					best.wall = f.wall
				}
				if f.haveBytes && (!best.haveBytes || f.bytes < best.bytes) {
					best.bytes, best.haveBytes = f.bytes, true
				}
			}
			for _, st := range setups {
				if st.where != where || len(results[st.label()][op]) == 0 {
					continue
				}
				f := figures(op, where, results[st.label()][op])
				stored, sent := "-", "-"
				if isBackup(op) {
					stored = human(f.stored)
				}
				if where != "" {
					sent = human(f.sent) + " / " + human(f.received)
				}
				ratio, verdict := "", ""
				if st.name == "cairn" {
					ratio, verdict = readAgainst(op, where, f, best, borg, changed)
				}
				fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", op, st.label(), f.wall.Round(time.Millisecond),
					f.cpu.Round(time.Millisecond), human(f.rss), stored, sent, ratio, verdict)
			}
		}
	}
	fmt.Println()
	fmt.Println("cairn / best peer: cairn's wall time, and the bytes the workload moves (a backup's sent to the server, or stored on a local repository; a restore's received from the server), over the best peer's on the same kind of repository. Issue 16's targets: initial backup time and bytes at most the best peer's and peak memory at most borg's; incremental backup time at most 0.33x and bytes at most the changed records'; restore time at most 0.6x and bytes at most the best peer's, with the cache of the backups or with an empty one (a new machine).")
}

// readAgainst returns cairn's ratios against the best peer ("1.23x time, 1.41x
// bytes", in bold) and how they read against the workload's targets ("time 1.23x ≤
// 0.60x: missed"), on a local repository (where is "") with its memory against borg's.
func readAgainst(op, where string, cairn, best, borg rowFigures, changed int64) (string, string) {
	var ratios, verdicts []string
	ratio := func(a, b float64) float64 { return a / b }
	t := targets[op]
	judge := func(what string, got, limit float64) {
		if limit == 0 {
			return
		}
		v := "met"
		if got > limit {
			v = "missed"
		}
		verdicts = append(verdicts, fmt.Sprintf("%s %.2fx ≤ %.2fx: %s", what, got, limit, v))
	}
	if best.wall > 0 {
		r := ratio(cairn.wall.Seconds(), best.wall.Seconds())
		ratios = append(ratios, fmt.Sprintf("**%.2fx** time", r))
		judge("time", r, t.time)
	}
	if cairn.haveBytes && best.haveBytes && best.bytes > 0 {
		r := ratio(float64(cairn.bytes), float64(best.bytes))
		ratios = append(ratios, fmt.Sprintf("**%.2fx** bytes", r))
		judge("bytes", r, t.bytes)
	}
	if cairn.haveBytes && changed > 0 {
		judge("bytes / changed records'", ratio(float64(cairn.bytes), float64(changed)), t.changed)
	}
	if where == "" && borg.rss > 0 {
		judge("peak RSS / borg's", ratio(float64(cairn.rss), float64(borg.rss)), t.borgRSS)
	}
	return strings.Join(ratios, ", "), strings.Join(verdicts, "; ")
}

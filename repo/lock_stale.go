package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// processInfo identifies a process beyond its pid.
type processInfo struct {
	host   string // os.Hostname
	hostID string // who sees the same pids (Linux: boot id and PID namespace); "" when unknown
	pid    int
	start  uint64 // start time (Linux: clock ticks since boot); 0 when unknown
}

// tokenSet holds the tokens of the locks this process holds. It is process state,
// like the pid it goes with: a lock that names this process's pid is live only if
// its token is here, so the lock of an earlier process that had the same pid (a
// restarted container's pid 1, say) is not taken for one of ours.
type tokenSet struct {
	mu sync.Mutex
	m  map[string]bool
}

var heldTokens = tokenSet{m: map[string]bool{}}

func (s *tokenSet) add(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[tok] = true
}

func (s *tokenSet) remove(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, tok)
}

func (s *tokenSet) has(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[tok]
}

// newToken returns 128 random bits in hex: what makes one operation's lock its own.
func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// id is what pending-delete records and prunes know an operation by: its token, the
// same in every refreshed copy of its lock (the name of a lock written before
// locks had tokens).
func (m lockRecord) id() string {
	if m.Token != "" {
		return m.Token
	}
	return m.name
}

// refreshedAt is when the lock was last written.
func (m lockRecord) refreshedAt() time.Time {
	if m.Refreshed.IsZero() {
		return m.Created
	}
	return m.Refreshed
}

// lockGroups gathers the locks in recs by operation, leaving out pending-delete
// records and the operation whose token is own.
func lockGroups(recs []lockRecord, own string) map[string][]lockRecord {
	out := map[string][]lockRecord{}
	for _, rec := range recs {
		if rec.Op == opPending || own != "" && rec.id() == own {
			continue
		}
		out[rec.id()] = append(out[rec.id()], rec)
	}
	return out
}

// staleOp reports whether the operation whose locks are g ended without removing
// them. Its newest copy decides: it is stale when not refreshed for the timing's
// Misses intervals, whoever wrote it; and sooner when its writer saw the same pids as
// this process (the same host id) and that process is gone: its pid is this process's
// but its token is not one this process holds, no process has its pid, or the process
// with its pid started at another time. A lock from another host or PID namespace
// is never judged by this process's pids.
func (p processInfo) staleOp(g []lockRecord, t LockTiming, now time.Time) bool {
	newest := g[0]
	for _, rec := range g[1:] {
		if rec.refreshedAt().After(newest.refreshedAt()) {
			newest = rec
		}
	}
	if now.Sub(newest.refreshedAt()) > t.staleAge() {
		return true
	}
	return p.gone(newest)
}

// gone reports whether the process that wrote m is known to have ended.
func (p processInfo) gone(m lockRecord) bool {
	if p.hostID == "" || m.HostID != p.hostID || m.Host != p.host || m.PID <= 0 {
		return false
	}
	if m.PID == p.pid {
		return !heldTokens.has(m.Token)
	}
	start, exists, known := processStart(m.PID)
	switch {
	case !known:
		return false
	case !exists:
		return true
	}
	return m.Start != 0 && start != m.Start
}

// runningOps removes the locks of operations that ended without removing them, and
// returns the ids of the operations that may still run: those of which any lock is
// present in a listing made after those removals (returned too). An operation is never
// counted as ended on the word of a listing older than its last refresh: one that
// refreshed after the first listing has a copy in the second, and one that did not
// finds, at its next refresh, commit or recheck, that its lock is gone
// (ErrLockLost). Without remove (a dry run) nothing is removed: the stale operations
// are counted as ended, and the first listing is the answer.
func (r *Repository) runningOps(ctx context.Context, remove bool) (alive map[string]bool, recs []lockRecord, removed int, err error) {
	own := r.ownToken()
	if recs, err = r.loadLocks(ctx); err != nil {
		return nil, nil, 0, err
	}
	now := r.timing.Now()
	alive = map[string]bool{}
	for id, g := range lockGroups(recs, own) {
		if !r.proc.staleOp(g, r.timing, now) {
			alive[id] = true
			continue
		}
		if !remove {
			removed++ // a dry run: counted as ended, left in place
			continue
		}
		for _, rec := range g {
			if err := r.be.Remove(ctx, r.lockHandle(rec.name)); err != nil && !r.be.IsNotExist(err) {
				return nil, nil, removed, fmt.Errorf("remove stale lock: %w", err)
			}
		}
		removed++
	}
	if !remove || removed == 0 {
		return alive, recs, removed, nil
	}
	if recs, err = r.loadLocks(ctx); err != nil {
		return nil, nil, removed, err
	}
	alive = map[string]bool{}
	for id := range lockGroups(recs, own) {
		alive[id] = true
	}
	return alive, recs, removed, nil
}

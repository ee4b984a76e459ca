//go:build linux

package main

// Crash-safety and concurrency harnesses. Both run the real cairn binary as child
// processes against a local repository:
//
//   - TestCrashSafety kills backup, forget, prune and restore with SIGKILL and checks
//     after every kill that check --read-data passes, that every snapshot restores
//     byte for byte, and that the command succeeds when run again.
//   - TestConcurrentBackupsAndPrune starts two backups and a prune at the same moment
//     against one repository holding garbage the backups deduplicate against, and
//     checks that neither new snapshot lost data.
//
// Knobs (environment): CAIRN_CRASH_KILLS (kills per command, default 50),
// CAIRN_CRASH_SIZE (database size, default 1MiB), CAIRN_CRASH_SEED (random seed,
// default the clock; failures name it), CAIRN_CRASH_RESTORE_ALL (restore every
// snapshot after every kill, even one whose objects did not change),
// CAIRN_CONCURRENT_ROUNDS (default 10), CAIRN_CONCURRENT_SIZE (default 8MiB), and
// CAIRN_BIN (a prebuilt cairn to run instead of building one). `make crash-long`
// runs them at scale.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// crashPassword is the password of the repositories these tests create. Every child
// gets it in CAIRN_PASSWORD, with cheap key derivation.
const crashPassword = "crash harness password"

// child runs the cairn binary against one repository.
type child struct {
	bin, repo string
	env       []string
}

func newChild(bin, repo string) child {
	env := append(os.Environ(), "CAIRN_PASSWORD="+crashPassword, "CAIRN_KDF_MEMORY=64KiB", "CAIRN_KDF_TIME=1")
	return child{bin: bin, repo: repo, env: env}
}

func (c child) command(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(c.bin, append([]string{"--no-progress", "--repo", c.repo}, args...)...)
	cmd.Env = c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return cmd, &out, &errb
}

// outcome turns a finished command into a result.
func outcome(err error, out, errb *bytes.Buffer) result {
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			code = -1
			errb.WriteString(err.Error())
		}
	}
	return result{code, out.String(), errb.String()}
}

// run runs a command to its end and says how long it took.
func (c child) run(args ...string) (result, time.Duration) {
	cmd, out, errb := c.command(args...)
	start := time.Now()
	err := cmd.Run()
	return outcome(err, out, errb), time.Since(start)
}

// ok runs a command that must succeed.
func (c child) ok(t testing.TB, args ...string) (string, time.Duration) {
	t.Helper()
	r, d := c.run(args...)
	if r.code != 0 {
		t.Fatalf("cairn %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout, d
}

// killPlan says when to kill a run: delay after its start, or (write > 0) at its
// write-th write; delay < 0 and write 0 never.
type killPlan struct {
	delay time.Duration
	write int
}

// killRun is a run that was killed, or ended first.
type killRun struct {
	res    result
	took   time.Duration // until it exited
	landed bool          // SIGKILL ended it
	writes int           // writes seen under the watched folder
	first  time.Duration // when the first of them came
}

// runPlanned runs a command, watching the writes under the folder watch, and kills
// it with SIGKILL as plan says unless it has exited by then.
func (c child) runPlanned(watch string, plan killPlan, args ...string) (killRun, error) {
	cmd, out, errb := c.command(args...)
	started := make(chan struct{})
	var start time.Time
	var once sync.Once
	kill := func() { once.Do(func() { cmd.Process.Signal(syscall.SIGKILL) }) } // a no-op once it has exited
	w, err := watchWrites(watch, func(n int) {
		if n == plan.write {
			<-started
			kill()
		}
	})
	if err != nil {
		return killRun{}, err
	}
	start = time.Now()
	if err := cmd.Start(); err != nil {
		w.stop()
		return killRun{}, err
	}
	close(started)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timer <-chan time.Time
	if plan.write == 0 && plan.delay >= 0 {
		tm := time.NewTimer(plan.delay)
		defer tm.Stop()
		timer = tm.C
	}
	select {
	case err = <-done:
	case <-timer:
		kill()
		err = <-done
	}
	k := killRun{res: outcome(err, out, errb), took: time.Since(start)}
	var first time.Time
	k.writes, first = w.stop()
	if k.writes > 0 {
		k.first = first.Sub(start)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		k.landed = true
	}
	return k, nil
}

// writeWatcher counts writes under a folder tree with inotify: files and folders
// made, files closed after writing, renamed into place, and removed, in every folder
// of the tree, those made while it watches included.
type writeWatcher struct {
	f        *os.File
	fd       int
	dirs     map[int32]string
	onWrite  func(n int)
	n        int
	first    time.Time
	stopping atomic.Bool
	done     chan struct{}
}

const writeMask = syscall.IN_CREATE | syscall.IN_CLOSE_WRITE | syscall.IN_MOVED_TO | syscall.IN_DELETE

func watchWrites(root string, onWrite func(n int)) (*writeWatcher, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	w := &writeWatcher{f: os.NewFile(uintptr(fd), "inotify"), fd: fd, dirs: map[int32]string{}, onWrite: onWrite, done: make(chan struct{})}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return w.add(p)
	})
	if err != nil {
		w.f.Close()
		return nil, err
	}
	go w.loop()
	return w, nil
}

func (w *writeWatcher) add(dir string) error {
	wd, err := syscall.InotifyAddWatch(w.fd, dir, writeMask)
	if err != nil {
		return fmt.Errorf("inotify %s: %w", dir, err)
	}
	w.dirs[int32(wd)] = dir
	return nil
}

// loop reads events until stop, and then until none are left: the events of a
// process that has exited are all queued.
func (w *writeWatcher) loop() {
	defer close(w.done)
	buf := make([]byte, 64<<10)
	for {
		w.f.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		n, err := w.f.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if w.stopping.Load() {
				return
			}
			continue
		}
		if err != nil {
			return
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			size := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+size]), "\x00")
			off += syscall.SizeofInotifyEvent + size
			if mask&(syscall.IN_CREATE|syscall.IN_ISDIR) == syscall.IN_CREATE|syscall.IN_ISDIR {
				w.add(filepath.Join(w.dirs[wd], name)) // it may be gone already
			}
			if mask&writeMask != 0 {
				w.n++
				if w.n == 1 {
					w.first = time.Now()
				}
				w.onWrite(w.n)
			}
		}
	}
}

// stop ends the watch and returns the count of writes and the time of the first.
func (w *writeWatcher) stop() (int, time.Time) {
	w.stopping.Store(true)
	<-w.done
	w.f.Close()
	return w.n, w.first
}

// state is what a database folder holds: file name to content.
type state map[string][]byte

func readState(dir string) (state, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	s := state{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		s[e.Name()] = b
	}
	return s, nil
}

// differs compares the folder dir with s, file by file, byte for byte.
func (s state) differs(dir string) error {
	got, err := readState(dir)
	if err != nil {
		return err
	}
	var problems []string
	for name, want := range s {
		b, ok := got[name]
		switch {
		case !ok:
			problems = append(problems, name+" is missing")
		case !bytes.Equal(b, want):
			at := 0
			for at < min(len(b), len(want)) && b[at] == want[at] {
				at++
			}
			problems = append(problems, fmt.Sprintf("%s differs at byte %d (%d bytes, want %d)", name, at, len(b), len(want)))
		}
	}
	for name := range got {
		if _, ok := s[name]; !ok {
			problems = append(problems, name+" should not be there")
		}
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	if len(problems) > 6 {
		problems = append(problems[:6], fmt.Sprintf("and %d more", len(problems)-6))
	}
	return errors.New(strings.Join(problems, "; "))
}

// linkTree copies the folder src to dst with hard links. Repository objects are
// never changed in place (a save writes a new file and renames it, a removal unlinks),
// so the copy behaves as an independent repository.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		return os.Link(p, to)
	})
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

func envString(name, def string) string {
	if s := os.Getenv(name); s != "" {
		return s
	}
	return def
}

// testSeed is CAIRN_CRASH_SEED, or the clock.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("CAIRN_CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CAIRN_CRASH_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// shortLines keeps the first n lines of s.
func shortLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("... %d more lines", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

// crashStats counts, per command, what the kills did.
type crashStats struct {
	kills, atWrite     int // all kills, and those aimed at a write
	landed, afterWrite int // kills that landed while it ran, and of those after its first write
	restored, carried  int // snapshots restored and compared after the kills, and not again as their objects were unchanged
	extra, repacks     int // backup: killed runs that saved their snapshot; prune: runs with packs to remove, and to repack; restore: kills that left a temporary folder
	took               []time.Duration
	firstShare         []float64 // when the first write came, as a share of the un-killed run
}

// crashHarness keeps one repository growing across kills and knows which database
// state each snapshot was taken of.
type crashHarness struct {
	t   *testing.T
	c   child
	dir string // scratch space
	// verifyDir is where the restores that verify snapshots go: /dev/shm when it is
	// there, as they need no disk and fsync costs there nothing.
	verifyDir string
	size      string
	seed      uint64
	rng       *rand.Rand
	db        string           // the database folder being backed up
	cur       state            // its content
	states    map[string]state // snapshot id: the state it was taken of
	ids       []string         // the snapshots, oldest first, as last seen
	// manifests names each snapshot's manifest object; verified holds the
	// fingerprint of each snapshot's objects when a restore last verified it.
	manifests, verified map[string]string
	restoreAll          bool // CAIRN_CRASH_RESTORE_ALL: restore every snapshot after every kill
	stats               map[string]*crashStats
	// unverified names the commands that changed the repository, run to their end,
	// since verify last passed: a failure may be theirs rather than the kill's.
	unverified []string
	n          atomic.Int64 // for unique scratch names
	dbs        int
}

func (h *crashHarness) scratch(kind string) string {
	return filepath.Join(h.dir, fmt.Sprintf("%s-%d", kind, h.n.Add(1)))
}

// generate writes a new database folder and makes it the one backed up.
func (h *crashHarness) generate() {
	h.t.Helper()
	h.dbs++
	db := filepath.Join(h.dir, fmt.Sprintf("db-%d", h.dbs))
	h.c.ok(h.t, "generate", "--size", h.size, "--seed", strconv.FormatInt(h.rng.Int64N(1<<40), 10), db)
	if h.db != "" {
		os.RemoveAll(h.db)
	}
	h.db = db
	h.load()
}

// mutate edits, inserts and deletes 5% of the records.
func (h *crashHarness) mutate() {
	h.t.Helper()
	h.c.ok(h.t, "generate", "--mutate", "0.05", "--seed", strconv.FormatInt(h.rng.Int64N(1<<40), 10), h.db)
	h.load()
}

func (h *crashHarness) load() {
	h.t.Helper()
	s, err := readState(h.db)
	if err != nil {
		h.t.Fatal(err)
	}
	h.cur = s
}

// backup backs the database up, not killed, and returns the snapshot id.
func (h *crashHarness) backup() string {
	h.t.Helper()
	out, _ := h.c.ok(h.t, "--json", "backup", h.db)
	var sn struct {
		ID       string `json:"id"`
		Manifest string `json:"manifest"`
	}
	if err := json.Unmarshal([]byte(out), &sn); err != nil || sn.ID == "" {
		h.t.Fatalf("backup --json printed %q (%v)", out, err)
	}
	h.states[sn.ID] = h.cur
	h.manifests[sn.ID] = sn.Manifest
	h.ids = append(h.ids, sn.ID)
	h.unverified = append(h.unverified, "backup")
	return sn.ID
}

// snapshots lists the snapshot ids, oldest first. When every manifest in the
// repository folder is one seen before, the list is those snapshots; otherwise cairn
// lists them.
func (h *crashHarness) snapshots() []string {
	h.t.Helper()
	if entries, err := os.ReadDir(filepath.Join(h.c.repo, "snapshots")); err == nil {
		present := map[string]bool{}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".tmp-") {
				present[e.Name()] = true
			}
		}
		var ids []string
		for _, id := range h.ids {
			if m := h.manifests[id]; present[m] {
				ids = append(ids, id)
				delete(present, m)
			}
		}
		if len(present) == 0 {
			return ids
		}
	}
	out, _ := h.c.ok(h.t, "--json", "snapshots")
	var list []struct {
		ID       string `json:"id"`
		Manifest string `json:"manifest"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		h.t.Fatalf("snapshots --json: %v\n%s", err, out)
	}
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ID
		h.manifests[s.ID] = s.Manifest
	}
	return ids
}

// objects stamps the repository's objects but the manifests by path, size, inode and
// modification time; locks and leftover temporary files are left out.
func (h *crashHarness) objects() string {
	h.t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(h.c.repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(h.c.repo, p)
		switch {
		case d.IsDir() && (rel == "locks" || rel == "snapshots"):
			return filepath.SkipDir
		case d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-"):
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b.WriteString(stamp(rel, fi))
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return b.String()
}

func stamp(rel string, fi fs.FileInfo) string {
	ino := uint64(0)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprintf("%s %d %d %d\n", rel, fi.Size(), ino, fi.ModTime().UnixNano())
}

// fingerprint names the objects a restore of snapshot id reads: config, keys, index
// files, packs and the snapshot's manifest. Objects are never changed in place, so an
// unchanged fingerprint means a restore reads the same bytes as when it was taken.
func (h *crashHarness) fingerprint(id string, objects string) string {
	manifest := filepath.Join("snapshots", h.manifests[id])
	if fi, err := os.Stat(filepath.Join(h.c.repo, manifest)); err == nil {
		return objects + stamp(manifest, fi)
	}
	return objects
}

// measure runs a command to its end on a hard-linked copy of the repository: how
// long an un-killed run on the same data takes, and how many writes it makes.
func (h *crashHarness) measure(args ...string) killRun {
	h.t.Helper()
	clone := h.scratch("clone")
	if err := linkTree(h.c.repo, clone); err != nil {
		h.t.Fatal(err)
	}
	defer os.RemoveAll(clone)
	c := h.c
	c.repo = clone
	k, err := c.runPlanned(clone, killPlan{delay: -1}, args...)
	if err != nil {
		h.t.Fatal(err)
	}
	if k.res.code != 0 {
		h.t.Fatalf("cairn %s (un-killed, on a copy of the repository): exit %d\n%s%s", strings.Join(args, " "), k.res.code, k.res.stdout, k.res.stderr)
	}
	return k
}

// kill runs a command, watching the writes under the folder watch, and kills it with
// SIGKILL. Kills alternate between a time drawn uniformly from [0, T], T being how
// long the un-killed run m took, and one of the writes m made, drawn uniformly: most
// of a run is start-up and reading, and its packs, index files and manifests are
// written in a short stretch that uniform times rarely hit.
func (h *crashHarness) kill(name string, m killRun, watch string, args ...string) (killRun, string) {
	h.t.Helper()
	st := h.stats[name]
	plan := killPlan{delay: time.Duration(h.rng.Int64N(int64(m.took) + 1))}
	how := fmt.Sprintf("SIGKILL %v into the run, an un-killed one taking %v", plan.delay.Round(time.Microsecond), m.took.Round(time.Microsecond))
	if st.kills%2 == 1 && m.writes > 0 {
		plan = killPlan{delay: -1, write: 1 + h.rng.IntN(m.writes)}
		how = fmt.Sprintf("SIGKILL at write %d, an un-killed run making %d", plan.write, m.writes)
		st.atWrite++
	}
	k, err := h.c.runPlanned(watch, plan, args...)
	if err != nil {
		h.t.Fatal(err)
	}
	st.kills++
	st.took = append(st.took, m.took)
	if m.writes > 0 {
		st.firstShare = append(st.firstShare, float64(m.first)/float64(m.took))
	}
	landed := "after it had finished"
	if k.landed {
		st.landed++
		landed = "while it ran, before its first write"
		if k.writes > 0 {
			st.afterWrite++
			landed = fmt.Sprintf("while it ran, after %d writes", k.writes)
		}
	}
	what := fmt.Sprintf("%s kill %d (%s; landed %s; CAIRN_CRASH_SEED=%d)", name, st.kills, how, landed, h.seed)
	if !k.landed && k.res.code != 0 {
		h.t.Fatalf("%s: cairn %s failed on its own: exit %d\n%s%s", what, strings.Join(args, " "), k.res.code, k.res.stdout, k.res.stderr)
	}
	return k, what
}

// verify checks the repository after a kill: check --read-data passes, every snapshot
// of before is still there (but those in mayGo), and every snapshot restores byte
// for byte. Snapshots that are new must be of fresh (nil: none may be new).
func (h *crashHarness) verify(name, what string, before []string, mayGo map[string]bool, fresh state) {
	h.t.Helper()
	if len(h.unverified) > 0 {
		what += fmt.Sprintf(", and before it, run to their end since the last verification: %s", strings.Join(h.unverified, ", "))
	}
	now := h.snapshots()
	have := map[string]bool{}
	for _, id := range now {
		have[id] = true
	}
	for _, id := range before {
		if !have[id] && !mayGo[id] {
			h.t.Fatalf("after %s: snapshot %s is gone", what, id)
		}
	}
	old := map[string]bool{}
	for _, id := range before {
		old[id] = true
	}
	for _, id := range now {
		if old[id] {
			continue
		}
		if fresh == nil {
			h.t.Fatalf("after %s: a snapshot %s appeared", what, id)
		}
		h.states[id] = fresh
		h.stats[name].extra++
	}
	for id := range h.states {
		if !have[id] {
			delete(h.states, id)
		}
	}
	// Restore every snapshot but those the killed forget was asked to remove, and
	// those whose objects are the ones an earlier restore verified.
	var restore []string
	prints := map[string]string{}
	objects := h.objects()
	for _, id := range now {
		if mayGo[id] {
			continue
		}
		prints[id] = h.fingerprint(id, objects)
		if h.restoreAll || h.verified[id] != prints[id] {
			restore = append(restore, id)
		} else {
			h.stats[name].carried++
		}
	}
	if err := h.checkAndRestore(restore); err != nil {
		h.t.Fatalf("after %s: %v", what, err)
	}
	for _, id := range restore {
		h.verified[id] = prints[id]
	}
	h.stats[name].restored += len(restore)
	h.unverified = nil
	h.ids = now
}

// checkAndRestore runs check --read-data and restores every snapshot in ids, two
// processes at a time, comparing each with the state it was taken of.
func (h *crashHarness) checkAndRestore(ids []string) error {
	jobs := []func() error{func() error {
		if r, _ := h.c.run("check", "--read-data"); r.code != 0 {
			return fmt.Errorf("check --read-data: exit %d\n%s\n%s", r.code, shortLines(r.stdout, 20), shortLines(r.stderr, 20))
		}
		return nil
	}}
	for _, id := range ids {
		jobs = append(jobs, func() error {
			return h.restoreCompare(id, filepath.Join(h.verifyDir, fmt.Sprintf("verify-%d", h.n.Add(1))))
		})
	}
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = job()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// restoreCompare restores snapshot id into target, compares it and removes it.
func (h *crashHarness) restoreCompare(id, target string) error {
	want, ok := h.states[id]
	if !ok {
		return fmt.Errorf("snapshot %s: no state known", id)
	}
	defer os.RemoveAll(target)
	r, _ := h.c.run("restore", id, "--target", target)
	if r.code != 0 {
		return fmt.Errorf("restore %s: exit %d: %s", id, r.code, shortLines(r.stderr, 10))
	}
	if err := want.differs(target); err != nil {
		return fmt.Errorf("restore %s differs from the database it was taken of: %v", id, err)
	}
	return nil
}

// killBackup backs up a changed database and kills the backup: every other round a
// new database altogether, so that the backup writes many packs and whole packs
// become garbage once the older snapshots are forgotten.
func (h *crashHarness) killBackup(round int) {
	h.t.Helper()
	if round%2 == 1 {
		h.generate()
	} else {
		h.mutate()
	}
	m := h.measure("backup", h.db)
	before := h.ids
	_, what := h.kill("backup", m, h.c.repo, "backup", h.db)
	h.verify("backup", what, before, nil, h.cur)
	h.backup()
}

// killForget kills forget --keep-last 2, which has one or two snapshots to remove:
// those of the two rounds before and maybe one the killed backup saved.
func (h *crashHarness) killForget() {
	h.t.Helper()
	before := h.ids
	keep := before[max(0, len(before)-2):]
	mayGo := map[string]bool{}
	for _, id := range before[:len(before)-len(keep)] {
		mayGo[id] = true
	}
	m := h.measure("forget", "--keep-last", "2")
	_, what := h.kill("forget", m, h.c.repo, "forget", "--keep-last", "2")
	h.verify("forget", what, before, mayGo, nil)
	h.c.ok(h.t, "forget", "--keep-last", "2")
	h.unverified = append(h.unverified, "forget --keep-last 2")
	after := h.snapshots()
	if !slices.Equal(after, keep) {
		h.t.Fatalf("after %s and forget --keep-last 2 again: snapshots %v, want %v", what, after, keep)
	}
	h.ids = after
}

// killPrune kills a prune of the garbage the forgets left. Every other prune repacks
// packs with more than a tenth unused, so that most have packs to rewrite.
func (h *crashHarness) killPrune(round int) {
	h.t.Helper()
	args := []string{"prune"}
	if round%2 == 1 {
		args = append(args, "--max-unused", "0.1")
	}
	m := h.measure(append([]string{"--json"}, args...)...)
	var st struct{ PacksRemoved, PacksRepacked int }
	if json.Unmarshal([]byte(m.res.stdout), &st) == nil {
		if st.PacksRemoved > 0 {
			h.stats["prune"].extra++
		}
		if st.PacksRepacked > 0 {
			h.stats["prune"].repacks++
		}
	}
	before := h.ids
	_, what := h.kill("prune", m, h.c.repo, args...)
	h.verify("prune", what, before, nil, nil)
	h.c.ok(h.t, args...)
	h.unverified = append(h.unverified, strings.Join(args, " "))
}

// killRestore kills a restore of a random snapshot into a new folder. A restore cut
// off must leave no target, or an empty one; one that got to the end, all of it. The
// next restore into the same target succeeds.
func (h *crashHarness) killRestore() {
	h.t.Helper()
	before := h.ids
	id := before[h.rng.IntN(len(before))]
	want := h.states[id]
	restore := func(parent string, plan killPlan) killRun {
		h.t.Helper()
		if err := os.MkdirAll(parent, 0o755); err != nil {
			h.t.Fatal(err)
		}
		k, err := h.c.runPlanned(parent, plan, "restore", id, "--target", filepath.Join(parent, "out"))
		if err != nil {
			h.t.Fatal(err)
		}
		return k
	}
	parent := h.scratch("restore")
	m := restore(parent, killPlan{delay: -1})
	if m.res.code != 0 {
		h.t.Fatalf("restore %s (un-killed): exit %d\n%s", id, m.res.code, m.res.stderr)
	}
	if err := want.differs(filepath.Join(parent, "out")); err != nil {
		h.t.Fatalf("restore %s: %v", id, err)
	}
	os.RemoveAll(parent)

	parent = h.scratch("restore")
	defer os.RemoveAll(parent)
	target := filepath.Join(parent, "out")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		h.t.Fatal(err)
	}
	k, what := h.kill("restore", m, parent, "restore", id, "--target", target)
	complete := false
	entries, err := os.ReadDir(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		h.t.Fatalf("after %s: %v", what, err)
	case len(entries) == 0:
	default:
		if err := want.differs(target); err != nil {
			h.t.Fatalf("after %s: the target holds a partial restore: %v", what, err)
		}
		complete = true
	}
	if !k.landed && !complete {
		h.t.Fatalf("after %s: a restore that exited 0 left no target", what)
	}
	others, _ := os.ReadDir(parent)
	for _, e := range others {
		if e.Name() != "out" {
			h.stats["restore"].extra++
			break
		}
	}
	h.verify("restore", what, before, nil, nil)
	again := target
	if complete {
		again = filepath.Join(parent, "again")
	}
	if err := h.restoreCompare(id, again); err != nil {
		h.t.Fatalf("after %s: the next restore: %v", what, err)
	}
}

// TestCrashSafety kills backup, forget, prune and restore with SIGKILL,
// CAIRN_CRASH_KILLS times each, on one repository that keeps growing, and checks
// after every kill that nothing was lost and that the command runs again.
func TestCrashSafety(t *testing.T) {
	kills := envInt(t, "CAIRN_CRASH_KILLS", 50)
	if testing.Short() && os.Getenv("CAIRN_CRASH_KILLS") == "" {
		kills = 5
	}
	start := time.Now()
	seed := testSeed(t)
	dir := t.TempDir()
	h := &crashHarness{
		t: t, c: newChild(cairnBinary(t), filepath.Join(dir, "repo")), dir: dir,
		size: envString("CAIRN_CRASH_SIZE", "1MiB"), seed: seed, rng: rand.New(rand.NewPCG(seed, 0x63616972)),
		states: map[string]state{}, stats: map[string]*crashStats{},
		manifests: map[string]string{}, verified: map[string]string{},
		restoreAll: os.Getenv("CAIRN_CRASH_RESTORE_ALL") != "",
	}
	h.verifyDir = dir
	if shm, err := os.MkdirTemp("/dev/shm", "cairn-crash-"); err == nil {
		h.verifyDir = shm
		t.Cleanup(func() { os.RemoveAll(shm) })
	}
	t.Logf("CAIRN_CRASH_SEED=%d, %d kills per command, database %s", seed, kills, h.size)
	commands := []string{"backup", "forget", "restore", "prune"}
	for _, name := range commands {
		h.stats[name] = &crashStats{}
	}
	// Small packs: a backup writes several, and prune has packs to drop and repack.
	h.c.ok(t, "init", "--pack-size", "64KiB")
	h.generate()
	h.backup()
	h.mutate()
	h.backup()
	// Restore before prune: the restore kill then finds the objects the forget kill
	// verified, and need not restore them again.
	for round := range kills {
		h.killBackup(round)
		h.killForget()
		h.killRestore()
		h.killPrune(round)
	}
	h.c.ok(t, "check", "--read-data")
	extra := map[string]string{
		"backup":  "%d killed runs saved their snapshot",
		"prune":   "%d prunes had packs to remove",
		"restore": "%d kills left a temporary folder beside the target",
	}
	for _, name := range commands {
		st := h.stats[name]
		line := fmt.Sprintf("%-7s %d kills (%d at a uniform time, %d at a random write): %d landed while it ran (%d of them after its first write), %d after it had finished; "+
			"%d snapshots restored and compared, %d more had unchanged objects; un-killed run %v, its first write at %.0f%% of it (medians)",
			name, st.kills, st.kills-st.atWrite, st.atWrite, st.landed, st.afterWrite, st.kills-st.landed,
			st.restored, st.carried, median(st.took).Round(time.Millisecond), 100*median(st.firstShare))
		if extra[name] != "" {
			line += "; " + fmt.Sprintf(extra[name], st.extra)
		}
		if name == "prune" {
			line += fmt.Sprintf(", %d packs to repack", st.repacks)
		}
		t.Log(line)
	}
	t.Logf("%d kills in %v", kills*len(commands), time.Since(start).Round(time.Second))
}

func median[T time.Duration | float64](s []T) T {
	if len(s) == 0 {
		return 0
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestConcurrentBackupsAndPrune runs two backups and a prune at the same moment
// against one repository, in rounds. Before each round the repository holds only
// garbage: the chunks of a forgotten snapshot of database X, which the backup of X
// deduplicates against while the prune deletes them. Afterwards check --read-data
// must pass and both new snapshots must restore byte for byte, also after later
// prunes.
func TestConcurrentBackupsAndPrune(t *testing.T) {
	rounds := envInt(t, "CAIRN_CONCURRENT_ROUNDS", 10)
	if testing.Short() && os.Getenv("CAIRN_CONCURRENT_ROUNDS") == "" {
		rounds = 2
	}
	size := envString("CAIRN_CONCURRENT_SIZE", "8MiB")
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0x70727565))
	bin := cairnBinary(t)
	dir := t.TempDir()
	t.Logf("CAIRN_CRASH_SEED=%d, %d rounds, databases of %s", seed, rounds, size)
	failed, raced := 0, 0
	for round := range rounds {
		if !t.Run(fmt.Sprintf("round-%d", round), func(t *testing.T) {
			if concurrentRound(t, bin, filepath.Join(dir, strconv.Itoa(round)), size, rng) {
				raced++
			}
		}) {
			failed++
		}
	}
	t.Logf("%d of %d rounds lost data or failed; in %d the backup of X reused chunks of the garbage the prune went for", failed, rounds, raced)
}

// concurrentRound runs one round and reports whether the backup of X deduplicated
// against the garbage, that is loaded the index before the prune retired it.
func concurrentRound(t *testing.T, bin, dir, size string, rng *rand.Rand) (raced bool) {
	defer os.RemoveAll(dir)
	c := newChild(bin, filepath.Join(dir, "repo"))
	x, y := filepath.Join(dir, "x"), filepath.Join(dir, "y")
	c.ok(t, "generate", "--size", size, "--seed", strconv.FormatInt(rng.Int64N(1<<40), 10), x)
	c.ok(t, "generate", "--size", size, "--seed", strconv.FormatInt(rng.Int64N(1<<40), 10), y)
	want := map[string]state{}
	for name, db := range map[string]string{"x": x, "y": y} {
		s, err := readState(db)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = s
	}
	c.ok(t, "init")
	out, _ := c.ok(t, "--json", "backup", x)
	var first struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &first); err != nil {
		t.Fatal(err)
	}
	c.ok(t, "forget", first.ID)

	// Start all three together; the prune last, right behind the backups.
	type proc struct {
		name     string
		cmd      *exec.Cmd
		out, err *bytes.Buffer
		res      result
		took     time.Duration
	}
	procs := []*proc{{name: "x"}, {name: "y"}, {name: "prune"}}
	for _, p := range procs {
		if p.name == "prune" {
			p.cmd, p.out, p.err = c.command("prune")
		} else {
			p.cmd, p.out, p.err = c.command("--json", "backup", "--tag", p.name, filepath.Join(dir, p.name))
		}
	}
	start := time.Now()
	for _, p := range procs {
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.cmd.Wait()
			p.took = time.Since(start)
			p.res = outcome(err, p.out, p.err)
		}()
	}
	wg.Wait()
	timing := fmt.Sprintf("backup x %v, backup y %v, prune %v", procs[0].took.Round(time.Millisecond), procs[1].took.Round(time.Millisecond), procs[2].took.Round(time.Millisecond))
	snaps := map[string]string{} // x, y: snapshot id
	for _, p := range procs {
		if p.res.code != 0 {
			t.Errorf("cairn %s (%s): exit %d\n%s", strings.Join(p.cmd.Args[4:], " "), timing, p.res.code, shortLines(p.res.stderr, 10))
			continue
		}
		if p.name != "prune" {
			var sn struct {
				ID     string `json:"id"`
				Totals struct {
					New    int64 `json:"chunks_new"`
					Reused int64 `json:"chunks_reused"`
				} `json:"totals"`
			}
			if err := json.Unmarshal([]byte(p.res.stdout), &sn); err != nil {
				t.Fatalf("backup of %s printed %q", p.name, p.res.stdout)
			}
			snaps[p.name] = sn.ID
			if p.name == "x" && sn.Totals.Reused > sn.Totals.New {
				raced = true
				timing += fmt.Sprintf("; backup x reused %d chunks, stored %d", sn.Totals.Reused, sn.Totals.New)
			}
		}
	}
	verify := func(when string) {
		t.Helper()
		if r, _ := c.run("check", "--read-data"); r.code != 0 {
			t.Errorf("%s (%s): check --read-data: exit %d\n%s\n%s", when, timing, r.code, shortLines(r.stdout, 8), shortLines(r.stderr, 8))
		}
		for _, name := range []string{"x", "y"} {
			id, ok := snaps[name]
			if !ok {
				continue
			}
			target := filepath.Join(dir, "restore-"+name)
			r, _ := c.run("restore", id, "--target", target)
			if r.code != 0 {
				t.Errorf("%s (%s): restore of the backup of %s (%s): exit %d\n%s", when, timing, name, id, r.code, shortLines(r.stderr, 4))
			} else if err := want[name].differs(target); err != nil {
				t.Errorf("%s (%s): restore of the backup of %s (%s) differs: %v", when, timing, name, id, err)
			}
			os.RemoveAll(target)
		}
	}
	t.Logf("backup x exit %d, backup y exit %d, prune exit %d (%s)", procs[0].res.code, procs[1].res.code, procs[2].res.code, timing)
	verify("after the concurrent run")
	// The garbage the concurrent prune found may go only now; what the new snapshots
	// need must stay (or come back, when the verifying above failed).
	for range 2 {
		if r, _ := c.run("prune"); r.code != 0 {
			t.Errorf("a later prune: exit %d\n%s", r.code, shortLines(r.stderr, 8))
		}
	}
	verify("after two later prunes")
	return raced
}

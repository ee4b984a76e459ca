package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"cairn/engine"
	"cairn/engine/schedule"
	"cairn/repo"
	"cairn/transport/location"
	"cairn/transport/rest/resttest"
)

// quickKDF keeps the copy target's key derivation quick in tests.
var quickKDF = repo.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

// copyTarget is an encrypted repository on a second rest-server, a copy step into it
// wired as cairn serve's --copy-to is, and what the last copy reported.
type copyTarget struct {
	srv      *resttest.Server
	loc      string
	password string
	last     engine.CopyStats
}

func newCopyTarget(t *testing.T) *copyTarget {
	t.Helper()
	c := &copyTarget{srv: resttest.Start(t, "--no-auth"), password: "target password"}
	c.loc = "rest:" + c.srv.URL + "copy"
	be, err := location.Create(context.Background(), c.loc, location.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := repo.NewConfig(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Encryption, cfg.PackSize = repo.EncryptionXChaCha, 256<<10
	if _, err := repo.Init(context.Background(), be, cfg, repo.WithPassword(c.password, quickKDF)); err != nil {
		t.Fatal(err)
	}
	return c
}

// step is the copy step as cmd/cairn's copyTo makes it: the target opened with its
// own password under a backup lock, the source under a copy lock, every snapshot the
// target lacks copied, both released.
func (c *copyTarget) step(ctx context.Context, src *repo.Repository, ids []string) (string, error) {
	be, err := location.Open(ctx, c.loc, location.Options{})
	if err != nil {
		return "", fmt.Errorf("copy target: %w", err)
	}
	defer be.Close()
	dst, err := repo.Open(ctx, be, repo.WithPassword(c.password, repo.KDFParams{}), repo.WithLock("backup"))
	if err != nil {
		return "", fmt.Errorf("copy target: %w", err)
	}
	defer dst.Release(context.WithoutCancel(ctx))
	if dst.Config().ID == src.Config().ID {
		return "", errors.New("copy target is the daemon's own repository")
	}
	if err := src.Lock(ctx, "copy"); err != nil {
		return "", err
	}
	defer src.Release(context.WithoutCancel(ctx))
	st, err := engine.Copy(ctx, src, dst, engine.CopyOptions{Snapshots: ids})
	if err != nil {
		return "", err
	}
	c.last = st
	return fmt.Sprintf("%d snapshots copied, %d already there; %d chunks and %d bytes sent", len(st.Copied), len(st.Skipped), st.ChunksSent, st.BytesSent), nil
}

// openAt opens the repository at loc.
func openAt(t *testing.T, loc string, opts ...repo.Option) *repo.Repository {
	t.Helper()
	be, err := location.Open(context.Background(), loc, location.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	r, err := repo.Open(context.Background(), be, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// exportOf restores snapshot id of r as an exported database document.
func exportOf(t *testing.T, r *repo.Repository, id string) []byte {
	t.Helper()
	ctx := context.Background()
	list, err := r.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := engine.FindSnapshot(list, id)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := engine.Restore(ctx, r, sn, engine.NewExportedWriter(&buf), engine.RestoreOptions{}); err != nil {
		t.Fatalf("restore %s: %v", id, err)
	}
	return buf.Bytes()
}

// TestScheduledCopy: with --copy-to, a scheduled backup is copied to a second
// repository (its own keys, on another rest-server) in the same run; the copy
// restores byte for byte what the original snapshot and the database's export hold,
// and the target checks clean;
// a run with nothing changed copies nothing and writes nothing to either server; a
// copy that failed is tried again by the next run even when nothing changed.
func TestScheduledCopy(t *testing.T) {
	target := newCopyTarget(t)
	d := newDaemonWith(t, setup{steps: func(s *schedule.Steps) {
		s.Retention, s.Prune = engine.Policy{}, false
		s.Copy = target.step
	}})
	if r := d.run(); r.Result != "ok" || steps(r) != "backup:ok copy:ok" {
		t.Fatalf("first run, of the empty database: %+v", r)
	}
	d.want(d.do("POST", "/database/import", document(t, 2<<20, 12)), 204, "")
	d.next()
	r := d.run()
	if r.Result != "ok" || steps(r) != "backup:ok copy:ok" || !strings.Contains(r.Steps[1].Message, "1 snapshots copied, 1 already there") {
		t.Fatalf("run after an import: %+v", r)
	}
	if len(target.last.Copied) != 1 || target.last.Copied[0] != r.Snapshot || target.last.ChunksSent == 0 {
		t.Fatalf("copy of %s: %+v", r.Snapshot, target.last)
	}

	src := openAt(t, d.loc)
	dst := openAt(t, target.loc, repo.WithPassword(target.password, repo.KDFParams{}))
	list, err := dst.Snapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[1].ID != r.Snapshot || list[1].DeviceName != "laptop" {
		t.Fatalf("the target holds %+v, want the two scheduled snapshots", list)
	}
	want := exportOf(t, src, r.Snapshot)
	if got := exportOf(t, dst, r.Snapshot); len(want) < 1<<20 || !bytes.Equal(got, want) {
		t.Fatalf("the copy restores %d bytes, the original %d, not the same", len(got), len(want))
	}
	if db := d.do("GET", "/database/export", nil).body; !bytes.Equal(db, want) {
		t.Fatalf("the snapshot restores %d bytes, the database exports %d, not the same", len(want), len(db))
	}
	if res, err := engine.Check(context.Background(), dst, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
		t.Fatalf("check of the target: %v %+v", err, res)
	}

	// Nothing changed: no copy, nothing written to either server.
	before, beforeTarget := d.serverFiles(), filesIn(t, target.srv.Dir)
	d.next()
	if r := d.run(); r.Result != "unchanged" || steps(r) != "backup:ok copy:skipped" {
		t.Fatalf("unchanged run: %+v", r)
	}
	if after := d.serverFiles(); strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Fatalf("an unchanged run wrote to the source:\nbefore %v\nafter  %v", before, after)
	}
	if after := filesIn(t, target.srv.Dir); strings.Join(beforeTarget, "\n") != strings.Join(after, "\n") {
		t.Fatalf("an unchanged run wrote to the copy target:\nbefore %v\nafter  %v", beforeTarget, after)
	}

	// The target's server is down for a changed run: the copy fails. The retry finds
	// the database unchanged and still copies, since the target lacks the snapshot.
	target.srv.Stop()
	d.change(5)
	d.next()
	failed := d.run()
	if steps(failed) != "backup:ok copy:failed" || failed.Snapshot == "" {
		t.Fatalf("run with the copy target down: %+v", failed)
	}
	target.srv.Restart()
	d.next()
	if r := d.run(); r.Result != "unchanged" || steps(r) != "backup:ok copy:ok" {
		t.Fatalf("retry after the failed copy: %+v", r)
	}
	if list, err := dst.Snapshots(context.Background()); err != nil || len(list) != 3 || list[2].ID != failed.Snapshot {
		t.Fatalf("after the retry the target holds %+v (%v), want the snapshot whose copy failed", list, err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"cairn/engine"
	"cairn/engine/localdb"
	"cairn/repo"
)

// parseRecordRefs reads --record values, COLLECTION/ID each: the collection ends at
// the first slash, the id (which may hold slashes) is the rest.
func parseRecordRefs(values []string) ([]engine.RecordRef, error) {
	refs := make([]engine.RecordRef, 0, len(values))
	for _, v := range values {
		col, id, ok := strings.Cut(v, "/")
		if !ok || col == "" || id == "" {
			return nil, usagef("restore: --record %q: want COLLECTION/ID", v)
		}
		refs = append(refs, engine.RecordRef{Collection: col, ID: id})
	}
	return refs, nil
}

// restoreRecords merges records of a snapshot into the live database in the data
// folder. The database file is locked by whoever has it open: when cairn can open it,
// no daemon runs on it and the records are merged into it directly, from the
// repository --repo names (the data folder's own repository when none is given);
// when a cairn serve holds it, they go through that daemon's API
// (POST /cairn/v1/records/restore, at the address in the data folder's serve.addr), so
// that there are never two writers.
// It returns the records merged, the snapshot's id, and the daemon's address when it
// went through one.
func (e *env) restoreRecords(ctx context.Context, dataDir, ref string, refs []engine.RecordRef) (done []engine.RecordRef, id, via string, err error) {
	db, err := localdb.Open(filepath.Join(dataDir, "pieces.db"))
	if localdb.IsLocked(err) {
		base, aerr := readServeAddr(dataDir)
		if aerr != nil {
			return nil, "", "", fmt.Errorf("the database is in use by another program and no cairn serve address is known: %w", aerr)
		}
		done, id, err = daemonRestoreRecords(ctx, base, ref, refs)
		return done, id, base, err
	}
	if err != nil {
		return nil, "", "", err
	}
	defer db.Close()
	r, err := e.dataRepo(ctx, dataDir)
	if err != nil {
		return nil, "", "", err
	}
	sn, err := loadSnapshot(ctx, r, ref)
	if err != nil {
		return nil, "", "", err
	}
	done, err = engine.RestoreRecords(ctx, r, sn, refs, db.Merge)
	return done, sn.ID, "", err
}

// dataRepo opens --repo, or else the repository cairn serve keeps in the data folder
// with the password file beside it.
func (e *env) dataRepo(ctx context.Context, dataDir string) (*repo.Repository, error) {
	if e.opts.Repo != "" {
		return e.openRepo(ctx, repo.WithLock("restore"))
	}
	pw, err := e.givenPassword(ctx)
	if err != nil {
		return nil, err
	}
	if pw == "" {
		if pw, err = readDaemonPassword(filepath.Join(dataDir, "repository.password")); err != nil {
			return nil, fmt.Errorf("no --repo given, and the data folder's repository cannot be opened: %w", err)
		}
	}
	return e.openAt(ctx, filepath.Join(dataDir, "repository"), pw, "repository password", "pass --password-file or --password-command", repo.WithLock("restore"))
}

// daemonRestoreRecords asks the daemon at base to merge the records. ref may be a
// snapshot id, a unique prefix of one or latest, as elsewhere in the CLI: it is
// resolved against the daemon's list of backups.
func daemonRestoreRecords(ctx context.Context, base, ref string, refs []engine.RecordRef) ([]engine.RecordRef, string, error) {
	id, err := daemonSnapshotID(ctx, base, ref)
	if err != nil {
		return nil, "", err
	}
	body, err := json.Marshal(map[string]any{"snapshot": id, "records": refs})
	if err != nil {
		return nil, "", err
	}
	var out struct {
		Restored []engine.RecordRef `json:"restored"`
	}
	if err := daemonCall(ctx, http.MethodPost, base+"/cairn/v1/records/restore", body, &out); err != nil {
		return nil, "", err
	}
	return out.Restored, id, nil
}

// daemonSnapshotID resolves a snapshot reference against the daemon's backups
// (newest first): an exact id, latest, or the one id it is a prefix of.
func daemonSnapshotID(ctx context.Context, base, ref string) (string, error) {
	var list struct {
		Iterable []struct {
			ID string `json:"id"`
		} `json:"iterable"`
	}
	if err := daemonCall(ctx, http.MethodGet, base+"/backups", nil, &list); err != nil {
		return "", err
	}
	var matches []string
	for i, b := range list.Iterable {
		switch {
		case b.ID == ref, ref == "latest" && i == 0:
			return b.ID, nil
		case ref != "" && strings.HasPrefix(b.ID, ref):
			matches = append(matches, b.ID)
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("snapshot %q: %w", ref, repo.ErrNotFound)
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("%q matches %s: %w", ref, strings.Join(matches, ", "), engine.ErrAmbiguous)
}

// daemonError is an error the daemon answered, with its status and message.
type daemonError struct {
	status int
	msg    string
}

func (e *daemonError) Error() string { return fmt.Sprintf("cairn serve: %s", e.msg) }

// Is makes a 404 repo.ErrNotFound, as the same failure is when cairn works directly.
func (e *daemonError) Is(target error) bool {
	return target == repo.ErrNotFound && e.status == http.StatusNotFound
}

// daemonCall sends a request to the daemon and decodes its JSON answer into out; an
// error answer becomes a daemonError with the daemon's message.
func daemonCall(ctx context.Context, method, u string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: 10 * time.Minute} // and sooner when ctx ends
	res, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("reach cairn serve at %s: %w", u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read cairn serve's answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		var eb struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &eb) != nil || eb.Message == "" {
			eb.Message = res.Status
		}
		return &daemonError{status: res.StatusCode, msg: eb.Message}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("cairn serve's answer: %w", err)
	}
	return nil
}

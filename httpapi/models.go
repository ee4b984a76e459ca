package httpapi

import (
	"encoding/json"
	"strconv"
	"time"

	"cairn/repo"
)

// The JSON models of the Pieces SDK (@pieces.app/pieces-os-client 4.1.0) that cairn
// speaks, with the SDK's field names.

// Schema is EmbeddedModelSchema.
type Schema struct {
	Migration float64 `json:"migration"`
	Semantic  string  `json:"semantic"`
}

// The schema versions this build understands; anything else is newer.
var knownSemantic = map[string]bool{"UNKNOWN": true, "MAJOR_0_MINOR_0_PATCH_1": true}

// GroupedTimestamp is an ISO-8601 value and a readable text.
type GroupedTimestamp struct {
	Schema   *Schema `json:"schema,omitempty"`
	Value    string  `json:"value"`
	Readable string  `json:"readable,omitempty"`
}

// Backup describes one snapshot.
type Backup struct {
	Schema     *Schema          `json:"schema,omitempty"`
	ID         string           `json:"id"`
	Version    string           `json:"version"`
	Timestamp  string           `json:"timestamp"`
	Bytes      int64            `json:"bytes"`
	Created    GroupedTimestamp `json:"created"`
	DeviceName string           `json:"device_name"`
	Platform   string           `json:"platform"`
}

// Backups lists snapshots, newest first.
type Backups struct {
	Schema   *Schema  `json:"schema,omitempty"`
	Iterable []Backup `json:"iterable"`
}

// SeededBackup is the body of a create request.
type SeededBackup struct {
	Schema *Schema `json:"schema,omitempty"`
}

// Status values (BackupStatusEnum and ModelDownloadProgressStatusEnum share them).
const (
	StatusInitialized = "INITIALIZED"
	StatusInProgress  = "IN-PROGRESS"
	StatusCompleted   = "COMPLETED"
	StatusFailed      = "FAILED"
	StatusCanceled    = "CANCELED"
)

// BackupStatus is the state of one backup or restoration.
type BackupStatus struct {
	Schema     *Schema  `json:"schema,omitempty"`
	Value      string   `json:"value,omitempty"`
	Percentage *float64 `json:"percentage"`
	Backup     Backup   `json:"backup"`
}

// BackupStreamedProgress is one progress frame.
type BackupStreamedProgress struct {
	Schema     *Schema  `json:"schema,omitempty"`
	Status     string   `json:"status,omitempty"`
	Percentage *float64 `json:"percentage"`
	Backup     *Backup  `json:"backup,omitempty"`
}

// BackupsStreamedProgress lists every running backup and restoration.
type BackupsStreamedProgress struct {
	Schema       *Schema                  `json:"schema,omitempty"`
	Backups      []BackupStreamedProgress `json:"backups"`
	Restorations []BackupStreamedProgress `json:"restorations"`
}

// Assets is a list of assets; an asset is kept as the JSON the client sent.
type Assets struct {
	Schema   *Schema           `json:"schema,omitempty"`
	Iterable []json.RawMessage `json:"iterable"`
	Indices  map[string]int    `json:"indices,omitempty"`
	Score    json.RawMessage   `json:"score,omitempty"`
}

var platforms = map[string]bool{"UNKNOWN": true, "WEB": true, "MACOS": true, "LINUX": true, "WINDOWS": true, "FUCHSIA": true, "IOS": true, "ANDROID": true}

// backupOf turns a snapshot manifest into the API's Backup.
func backupOf(sn *repo.Snapshot) Backup {
	platform := sn.Platform
	if !platforms[platform] {
		platform = "UNKNOWN"
	}
	t := sn.Time.UTC()
	return Backup{
		ID:         sn.ID,
		Version:    sn.Version,
		Timestamp:  strconv.FormatInt(sn.Timestamp, 10),
		Bytes:      sn.Totals.RawBytes,
		Created:    GroupedTimestamp{Value: t.Format("2006-01-02T15:04:05.000Z"), Readable: readable(t)},
		DeviceName: sn.DeviceName,
		Platform:   platform,
	}
}

func readable(t time.Time) string { return t.Format("Jan 2, 2006 at 3:04 PM UTC") }

func pct(v float64) *float64 { return &v }

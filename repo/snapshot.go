package repo

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cairn/chunk"
)

// SnapshotFormat is the manifest format this build writes and the newest it reads.
const SnapshotFormat = 1

// Snapshot kinds.
const (
	KindDatabase = "database" // the whole database
	KindAssets   = "assets"   // selected assets only; restored by merging
)

// Snapshot is a manifest: it names one backup and lists every collection's chunks.
type Snapshot struct {
	Format      int             `json:"format"`
	ID          string          `json:"id"` // version_timestamp
	Version     string          `json:"version"`
	Timestamp   int64           `json:"timestamp"` // Unix milliseconds
	Time        time.Time       `json:"time"`
	DeviceName  string          `json:"device_name"`
	Platform    string          `json:"platform"`
	Parent      string          `json:"parent,omitempty"`
	Tags        []string        `json:"tags,omitempty"`
	Kind        string          `json:"kind"`
	Source      string          `json:"source,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Meta        json.RawMessage `json:"meta,omitempty"` // source metadata needed to restore the same form
	Collections []Collection    `json:"collections"`
	Totals      Totals          `json:"totals"`

	// Name is the object the manifest is stored in; set when loaded or saved.
	Name ObjectID `json:"-"`
}

// Collection is one collection of a snapshot, as the manifest stores it; its chunk ids
// are in its list chunk (Repository.Resolve reads them).
type Collection struct {
	Name    string   `json:"name"`
	Records int64    `json:"records"`
	Bytes   int64    `json:"bytes"`
	List    chunk.ID `json:"list"`   // the list chunk naming the collection's chunks
	Count   int      `json:"chunks"` // number of chunks
	// Tag is the source's change tag of the collection when it was read (a folder's
	// file size, times and inode; the local database's write tag); a later backup
	// that finds the same tag reuses this entry without reading the collection.
	Tag string `json:"tag,omitempty"`
}

// Totals are the figures of the backup that made a snapshot.
type Totals struct {
	RawBytes      int64 `json:"raw_bytes"`      // bytes of all collections
	NewRawBytes   int64 `json:"new_raw_bytes"`  // raw bytes of chunks the repository did not have
	StoredBytes   int64 `json:"stored_bytes"`   // bytes written to the repository: packs and index
	ChunksNew     int64 `json:"chunks_new"`     // chunks added
	ChunksReused  int64 `json:"chunks_reused"`  // chunks found in the repository
	Records       int64 `json:"records"`        // records of all collections
	DurationMilli int64 `json:"duration_ms"`    // wall time of the backup
	BytesSent     int64 `json:"bytes_sent"`     // bytes uploaded to the transport
	BytesReceived int64 `json:"bytes_received"` // bytes downloaded from the transport
	// CollectionsUnchanged were not read: their tag matched the parent's.
	CollectionsUnchanged int64 `json:"collections_unchanged,omitempty"`
	// Compression says how the backup's new frames were compressed.
	Compression CompressionTotals `json:"compression,omitzero"`
}

// Duration is the backup's wall time.
func (t Totals) Duration() time.Duration { return time.Duration(t.DurationMilli) * time.Millisecond }

var versionClean = regexp.MustCompile(`[^0-9A-Za-z.+-]`)

// SnapshotID makes the version_timestamp id of a snapshot.
func SnapshotID(version string, t time.Time) string {
	v := versionClean.ReplaceAllString(version, "-")
	if v == "" {
		v = "0"
	}
	if len(v) > 128 { // ValidSnapshotID takes ids of 200 bytes at most
		v = v[:128]
	}
	return v + "_" + strconv.FormatInt(t.UnixMilli(), 10)
}

// ValidSnapshotID reports whether s has the version_timestamp form.
func ValidSnapshotID(s string) error {
	i := strings.LastIndexByte(s, '_')
	if len(s) > 200 || i <= 0 || i == len(s)-1 {
		return fmt.Errorf("invalid backup id %q: want version_timestamp", s)
	}
	if versionClean.MatchString(s[:i]) {
		return fmt.Errorf("invalid backup id %q: version has characters other than letters, digits and . + -", s)
	}
	if _, err := strconv.ParseInt(s[i+1:], 10, 64); err != nil {
		return fmt.Errorf("invalid backup id %q: timestamp is not a number", s)
	}
	return nil
}

func encodeSnapshot(k *box, sn *Snapshot) ([]byte, error) {
	js, err := json.Marshal(sn)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot %s: %w", sn.ID, err)
	}
	data := sealObject(k, TypeSnapshot, codecZstd, js)
	if len(js) > maxSnapshotBytes || len(data) > maxSnapshotBytes {
		return nil, fmt.Errorf("encode snapshot %s: a manifest of %d bytes is more than cairn reads of one (%d)", sn.ID, len(js), maxSnapshotBytes)
	}
	return data, nil
}

func decodeSnapshot(k *box, data []byte) (*Snapshot, error) {
	payload, err := openObject(k, data, TypeSnapshot)
	if err != nil {
		return nil, err
	}
	var head struct {
		Format int `json:"format"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		return nil, fmt.Errorf("snapshot: %v: %w", err, ErrDamaged)
	}
	if head.Format > SnapshotFormat {
		return nil, fmt.Errorf("snapshot format %d (this build reads up to %d): %w", head.Format, SnapshotFormat, ErrNewerFormat)
	}
	var sn Snapshot
	if err := json.Unmarshal(payload, &sn); err != nil {
		return nil, fmt.Errorf("snapshot: %v: %w", err, ErrDamaged)
	}
	if err := ValidSnapshotID(sn.ID); err != nil {
		return nil, fmt.Errorf("snapshot: %v: %w", err, ErrDamaged)
	}
	return &sn, nil
}

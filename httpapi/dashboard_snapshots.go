package httpapi

import (
	"net/http"
	"time"

	"cairn/repo"
)

// SnapshotInfo is one snapshot as GET /cairn/v1/snapshots lists it: its manifest's
// description and the figures of the backup that made it.
type SnapshotInfo struct {
	ID          string           `json:"id"`
	Time        time.Time        `json:"time"`
	Device      string           `json:"device"`
	Platform    string           `json:"platform"`
	Kind        string           `json:"kind"`
	Tags        []string         `json:"tags"`
	RawBytes    int64            `json:"raw_bytes"`
	NewRawBytes int64            `json:"new_raw_bytes"`
	StoredBytes int64            `json:"stored_bytes"`
	BytesSent   int64            `json:"bytes_sent"`
	DurationMS  int64            `json:"duration_ms"`
	Records     int64            `json:"records"`
	Collections []CollectionInfo `json:"collections"`
}

// CollectionInfo is one collection of a snapshot.
type CollectionInfo struct {
	Name    string `json:"name"`
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
}

// SnapshotList is the answer of GET /cairn/v1/snapshots, oldest first.
type SnapshotList struct {
	Snapshots []SnapshotInfo `json:"snapshots"`
}

func snapshotInfoOf(sn *repo.Snapshot) SnapshotInfo {
	out := SnapshotInfo{ID: sn.ID, Time: sn.Time.UTC(), Device: sn.DeviceName, Platform: sn.Platform, Kind: sn.Kind,
		Tags: sn.Tags, RawBytes: sn.Totals.RawBytes, NewRawBytes: sn.Totals.NewRawBytes, StoredBytes: sn.Totals.StoredBytes,
		BytesSent: sn.Totals.BytesSent, DurationMS: sn.Totals.DurationMilli, Records: sn.Totals.Records,
		Collections: make([]CollectionInfo, 0, len(sn.Collections))}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	for _, c := range sn.Collections {
		out.Collections = append(out.Collections, CollectionInfo{Name: c.Name, Records: c.Records, Bytes: c.Bytes})
	}
	return out
}

// snapshotList answers GET /cairn/v1/snapshots.
func (s *Server) snapshotList(w http.ResponseWriter, r *http.Request) {
	_, list, err := s.snapshots(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	out := SnapshotList{Snapshots: make([]SnapshotInfo, 0, len(list))}
	for _, sn := range list {
		out.Snapshots = append(out.Snapshots, snapshotInfoOf(sn))
	}
	writeJSON(w, http.StatusOK, out)
}

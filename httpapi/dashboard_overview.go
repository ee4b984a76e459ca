package httpapi

import (
	"net/http"
	"time"

	"cairn/chunk"
	"cairn/repo"
	"cairn/transport/location"
)

// Overview is the answer of GET /cairn/v1/overview: where the repository is, how it
// is stored, and what it holds.
type Overview struct {
	Location    string         `json:"location"` // with any password in it redacted
	Encrypted   bool           `json:"encrypted"`
	Format      int            `json:"format"`
	Compression string         `json:"compression"`
	Created     time.Time      `json:"created"`
	Database    OverviewDB     `json:"database"`
	LastBackup  *SnapshotInfo  `json:"last_backup"` // the newest snapshot; null when there is none
	Totals      OverviewTotals `json:"totals"`
}

// OverviewDB is what the live database holds.
type OverviewDB struct {
	Records int   `json:"records"`
	Bytes   int64 `json:"bytes"`
}

// OverviewTotals are the repository's sizes and ratios.
type OverviewTotals struct {
	Snapshots int `json:"snapshots"`
	// RawBytes is the sum of every snapshot's raw size: what restoring each would give.
	RawBytes int64 `json:"raw_bytes"`
	// UniqueRawBytes is the raw size of the distinct chunks the repository holds.
	UniqueRawBytes int64 `json:"unique_raw_bytes"`
	Chunks         int   `json:"chunks"`
	// StoredBytes is the size of every pack in the repository.
	StoredBytes      int64   `json:"stored_bytes"`
	DedupRatio       float64 `json:"dedup_ratio"`       // raw / unique raw
	CompressionRatio float64 `json:"compression_ratio"` // unique raw / stored
}

// overview answers GET /cairn/v1/overview.
func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	rp, list, err := s.snapshots(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	packs, err := rp.Packs(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	st, err := s.cfg.DB.Stats()
	if err != nil {
		writeError(w, err)
		return
	}
	cfg := rp.Config()
	out := Overview{Location: location.Redact(rp.Location()), Encrypted: rp.Encrypted(), Format: cfg.Format,
		Compression: cfg.Compression, Created: cfg.Created,
		Database: OverviewDB{Records: st.Records, Bytes: st.Bytes}}
	t := &out.Totals
	t.Snapshots = len(list)
	for _, sn := range list {
		t.RawBytes += sn.Totals.RawBytes
	}
	if len(list) > 0 {
		last := snapshotInfoOf(list[len(list)-1])
		out.LastBackup = &last
	}
	rp.Index().Each(func(_ chunk.ID, loc repo.Location) { t.UniqueRawBytes += int64(loc.Raw) })
	t.Chunks = rp.Index().Len()
	for _, size := range packs {
		t.StoredBytes += size
	}
	if t.UniqueRawBytes > 0 {
		t.DedupRatio = float64(t.RawBytes) / float64(t.UniqueRawBytes)
	}
	if t.StoredBytes > 0 {
		t.CompressionRatio = float64(t.UniqueRawBytes) / float64(t.StoredBytes)
	}
	writeJSON(w, http.StatusOK, out)
}

package engine_test

import (
	"testing"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport/mem"
)

// TestRecordIDsWithEscapes: ids written with JSON escapes, a quote among them, are
// read whole and decoded by RecordID, so diff tells apart ids that share a prefix up
// to an escaped quote and names the record that went.
func TestRecordIDsWithEscapes(t *testing.T) {
	for line, want := range map[string]string{
		`{"id":"a\"b","v":1}` + "\n": `a"b`,
		`{"id":"caf\u00e9"}`:         "café",
		`{"id":"plain","v":1}`:       "plain",
		`{"id":"bad \q escape"}`:     `bad \q escape`,
	} {
		if got := engine.RecordID([]byte(line)); got != want {
			t.Errorf("RecordID(%s) = %q, want %q", line, got, want)
		}
	}
	r := newRepo(t, mem.New())
	now := clock()
	snap := func(tags string) *repo.Snapshot {
		t.Helper()
		sn, err := engine.Backup(t.Context(), r, engine.BytesSource{Version: "1.0.0", Collections: map[string][]byte{"tags": []byte(tags)}}, engine.BackupOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return sn
	}
	a := snap(`{"id":"a\"b","v":1}` + "\n" + `{"id":"a\"c","v":1}` + "\n")
	b := snap(`{"id":"a\"b","v":1}` + "\n")
	diff, err := engine.Diff(t.Context(), r, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) != 1 || len(diff[0].Records) != 1 || diff[0].Records[0] != (engine.RecordChange{ID: `a"c`, Change: engine.Removed, OldBytes: 20}) {
		t.Fatalf("diff %+v, want only a\"c removed", diff)
	}
}

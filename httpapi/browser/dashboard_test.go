package browser

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The overview shows the repository and its charts; backing up from the page shows
// the websocket's progress frames while the backup waits on the repository, and the
// end once it has finished.
func TestBackupFromPage(t *testing.T) {
	s := newSite(t)
	s.seed()
	s.backup()
	s.merge("assets", record(500, "A new snippet"))
	s.backup()
	p := open(t, s, "#/overview")
	if loc := p.text("#ov-location"); !strings.Contains(loc, s.repoDir) {
		t.Fatalf("location %q does not name the repository folder %s", loc, s.repoDir)
	}
	p.until("both charts with a point per snapshot", `document.querySelectorAll("#chart-size circle").length === 6 && document.querySelectorAll("#chart-duration circle").length === 2`)
	p.screenshots("overview")
	p.dark(true)
	p.screenshots("overview-dark")
	p.dark(false)

	s.merge("assets", record(501, "Another snippet"))
	s.gate.close()
	p.click("#backup-now")
	p.until("a progress frame of the running backup", `+document.getElementById("job-progress").dataset.frames >= 1 && /INITIALIZED|IN-PROGRESS/.test(document.getElementById("job-progress").dataset.state)`)
	if txt := p.text("#job-text"); !contains(txt, "Backup", "%") {
		t.Fatalf("progress text %q", txt)
	}
	p.screenshots("backup-running")
	s.gate.release()
	p.until("the backup's end", `document.getElementById("job-progress").dataset.state === "COMPLETED" && document.getElementById("job-progress").value === 100`)
	if txt := p.text("#job-text"); !contains(txt, "COMPLETED", "100%") {
		t.Fatalf("progress text at the end %q", txt)
	}
	p.ready()
	p.until("the overview counting the new snapshot", `document.querySelectorAll("#chart-duration circle").length === 3`)
	if n := len(s.snapshots()); n != 3 {
		t.Fatalf("%d snapshots after the page's backup, want 3", n)
	}
	p.screenshots("backup-done")
}

// A snapshot's records are listed and searchable; a record found by id is shown as
// formatted JSON.
func TestFindRecordInSnapshot(t *testing.T) {
	s := newSite(t)
	s.seed()
	s.backup()
	s.merge("assets", record(42, "Snippet 42, renamed"))
	second := s.backup()
	p := open(t, s, "#/snapshots")
	p.until("the snapshot list", `document.querySelectorAll("#snapshot-table tbody tr").length === 2`)
	p.screenshots("snapshots")
	p.follow(`tr[data-snapshot="` + second + `"] a.open-snapshot`)
	p.until("the snapshot's records", `document.querySelector("#record-table") !== null`)
	if txt := p.text("main"); !contains(txt, "assets", "tags", "120", second) {
		t.Fatalf("snapshot view: %.300s", txt)
	}
	p.screenshots("snapshot")
	p.search("#record-search", "snip-0042")
	p.until("the record found by id", `document.querySelector('tr[data-record="assets/snip-0042"]') !== null`)
	if txt := p.text("#record-total"); !strings.HasPrefix(txt, "1 record") {
		t.Fatalf("search for snip-0042: %q", txt)
	}
	p.screenshots("snapshot-search")
	p.follow(`tr[data-record="assets/snip-0042"] a.record-link`)
	js := p.text("#record-json")
	if !contains(js, `"id": "snip-0042"`, `"name": "Snippet 42, renamed"`) {
		t.Fatalf("record view: %s", js)
	}
	p.screenshots("record")
}

// Comparing two snapshots lists the changed record; its fields are shown side by
// side with the changed one marked.
func TestCompareSnapshots(t *testing.T) {
	s := newSite(t)
	s.seed()
	first := s.backup()
	s.merge("assets", record(7, "Snippet 7, edited"), record(300, "Added later"))
	second := s.backup()
	p := open(t, s, "#/compare")
	if from, to := p.text("#compare-from"), p.text("#compare-to"); from == "" || to == "" {
		t.Fatal("no snapshot pickers")
	}
	p.follow("#compare-go")
	p.until("the differences", `document.querySelector('section[data-collection="assets"]') !== null`)
	if txt := p.text(`section[data-collection="assets"]`); !contains(txt, "Added (1)", "snip-0300", "Changed (1)", "snip-0007", "Removed (0)") {
		t.Fatalf("differences: %s", txt)
	}
	if hash := p.hash(); !contains(hash, "from="+first, "to="+second) {
		t.Fatalf("compared %s, want %s to %s", hash, first, second)
	}
	p.screenshots("compare")
	p.follow(`section[data-collection="assets"] .changed a[data-id="snip-0007"]`)
	p.until("the fields side by side", `document.querySelector('#field-diff tr[data-field="name"]') !== null`)
	row := p.text(`#field-diff tr[data-field="name"]`)
	if !contains(row, "changed", `"Snippet 7"`, `"Snippet 7, edited"`) {
		t.Fatalf("name field: %q", row)
	}
	if p.text(`#field-diff tr[data-field="text"].changed`) != "" {
		t.Fatal("the unchanged text field is marked changed")
	}
	p.screenshots("compare-record")
}

// Restoring a snapshot asks first, saying what is replaced, and then the database
// holds exactly the snapshot's records. Forgetting one asks first too.
func TestRestoreSnapshotFromPage(t *testing.T) {
	s := newSite(t)
	s.seed()
	first := s.backup()
	want := s.contents()
	s.merge("assets", record(3, "changed after the backup"), record(400, "new after the backup"))
	s.backup()
	p := open(t, s, "#/snapshots")
	// Escape says no: nothing is restored.
	changed := s.contents()
	p.click(`tr[data-snapshot="` + first + `"] button.restore`)
	p.until("the confirmation", `document.querySelector("dialog#confirm[open]") !== null`)
	p.do(chromedp.KeyEvent(kb.Escape))
	p.until("the confirmation gone", `document.querySelector("dialog#confirm") === null`)
	if got := s.contents(); len(got["assets"]) != len(changed["assets"]) || got["assets"]["snip-0400"] == "" {
		t.Fatal("the database changed after the restore was cancelled")
	}

	p.click(`tr[data-snapshot="` + first + `"] button.restore`)
	p.until("the confirmation", `document.querySelector("dialog#confirm[open]") !== null`)
	if txt := p.text("dialog#confirm"); !contains(txt, "replaced by snapshot "+first, "The live database (126 records", "125 records", "assets (120)", "tags (5)") {
		t.Fatalf("confirmation: %s", txt)
	}
	if focused := p.text(`dialog#confirm button:focus`); focused != "Cancel" {
		t.Fatalf("the focus is on %q, want Cancel", focused)
	}
	p.screenshots("restore-confirm")
	p.click("#confirm-ok")
	p.until("the restore's end", `document.getElementById("job-progress").dataset.state === "COMPLETED"`)
	p.until("the notice", `document.getElementById("notice").innerText.includes("Restored snapshot")`)
	got := s.contents()
	for _, c := range []string{"assets", "tags"} {
		if !slices.Equal(sortedKeys(got[c]), sortedKeys(want[c])) {
			t.Fatalf("%s after the restore: %d records, want %d", c, len(got[c]), len(want[c]))
		}
		for id, rec := range want[c] {
			if got[c][id] != rec {
				t.Fatalf("%s/%s after the restore: %s, want %s", c, id, got[c][id], rec)
			}
		}
	}
	p.screenshots("restore-done")

	// Forgetting a snapshot asks first too.
	p.goTo("#/snapshots")
	p.click(`tr[data-snapshot="` + first + `"] button.forget`)
	p.until("the confirmation", `document.querySelector("dialog#confirm[open]") !== null`)
	if txt := p.text("dialog#confirm"); !contains(txt, "Forget snapshot "+first, "cannot be undone") {
		t.Fatalf("confirmation: %s", txt)
	}
	p.click("#confirm-ok")
	p.until("the notice", `document.getElementById("notice").innerText.includes("Forgot snapshot")`)
	p.until("the list without it", `document.querySelectorAll("#snapshot-table tbody tr").length === 1`)
	if ids := s.snapshots(); len(ids) != 1 || ids[0] == first {
		t.Fatalf("snapshots after forgetting %s: %v", first, ids)
	}
}

// A record deleted since an older snapshot is found by id, its history shows when it
// went, and it is brought back alone: every other record stays as it is, changes
// made since the backup included.
func TestRestoreDeletedRecord(t *testing.T) {
	s := newSite(t)
	s.seed()
	s.backup()
	before := s.contents()
	cols := map[string][]string{"tags": nil, "assets": nil}
	for _, id := range sortedKeys(before["tags"]) {
		cols["tags"] = append(cols["tags"], before["tags"][id])
	}
	for _, id := range sortedKeys(before["assets"]) {
		switch id {
		case "snip-0005": // deleted
		case "snip-0006":
			cols["assets"] = append(cols["assets"], record(6, "Snippet 6, edited"))
		default:
			cols["assets"] = append(cols["assets"], before["assets"][id])
		}
	}
	s.replace(cols)
	s.backup()
	s.merge("assets", record(8, "edited after the last backup"))
	live := s.contents()

	p := open(t, s, "#/history")
	p.search("#find-text", "snip-0005")
	p.until("the record found", `document.querySelector('#find-table input[data-record="assets/snip-0005"]') !== null`)
	p.screenshots("history-find")
	p.follow(`#find-table a.log-link`)
	p.until("the versions", `document.querySelector("#log-table tr.change-removed") !== null && document.querySelector("#log-table tr.change-added") !== null`)
	p.screenshots("history-log")
	p.goTo("#/history?q=snip-0005")
	p.click(`#find-table input[data-record="assets/snip-0005"]`)
	p.click("#restore-chosen")
	p.until("the confirmation", `document.querySelector("dialog#confirm[open]") !== null`)
	if txt := p.text("dialog#confirm"); !contains(txt, "assets/snip-0005", "every other record stays") {
		t.Fatalf("confirmation: %s", txt)
	}
	p.click("#confirm-ok")
	p.until("the notice", `document.getElementById("notice").innerText.includes("Restored 1 record")`)

	got := s.contents()
	if got["assets"]["snip-0005"] != before["assets"]["snip-0005"] {
		t.Fatalf("snip-0005 after the restore: %q, want %q", got["assets"]["snip-0005"], before["assets"]["snip-0005"])
	}
	delete(got["assets"], "snip-0005")
	for _, c := range []string{"assets", "tags"} {
		if !slices.Equal(sortedKeys(got[c]), sortedKeys(live[c])) {
			t.Fatalf("%s: %d records besides the restored one, want %d", c, len(got[c]), len(live[c]))
		}
		for id, rec := range live[c] {
			if got[c][id] != rec {
				t.Fatalf("%s/%s changed by the restore: %s, was %s", c, id, got[c][id], rec)
			}
		}
	}
	p.screenshots("history-restored")
}

// A repository that cannot be opened is shown as the API words the error, in the
// overview and when backing up.
func TestFailingRepository(t *testing.T) {
	s := newSite(t)
	s.seed()
	if err := os.RemoveAll(s.repoDir); err != nil {
		t.Fatal(err)
	}
	p := open(t, s, "#/overview")
	p.until("the error", `!document.getElementById("error").hidden`)
	if txt := p.text("#error"); !contains(txt, "no cloud repository is configured or reachable", s.repoDir, "511") {
		t.Fatalf("error shown: %q", txt)
	}
	p.screenshots("error")
	p.click(`#error button`)
	p.click("#backup-now")
	p.until("the backup's error", `!document.getElementById("error").hidden && document.getElementById("job-progress").dataset.state === "FAILED"`)
	if txt := p.text("#error"); !contains(txt, "no cloud repository is configured or reachable", "511") {
		t.Fatalf("error shown for the backup: %q", txt)
	}
}

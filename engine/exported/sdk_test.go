package exported

import (
	"bytes"
	"cmp"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSDKRoundTrip runs the published TypeScript SDK's own model code on an encoded
// document: instanceOfExportedDatabase must accept it, and what
// JSON.stringify(ExportedDatabaseToJSON(ExportedDatabaseFromJSON(doc)), null, 2) writes
// must decode to the same collections. It needs node and the unpacked npm package
// @pieces.app/pieces-os-client (CAIRN_SDK_DIR, by default the copy make test installs under testdata/sdk).
func TestSDKRoundTrip(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	// make test installs the pinned SDK under testdata/sdk before running the Go tests.
	sdk := cmp.Or(os.Getenv("CAIRN_SDK_DIR"), "../../testdata/sdk/node_modules/@pieces.app/pieces-os-client")
	model := filepath.Join(sdk, "dist", "models", "ExportedDatabase.js")
	if _, err := os.Stat(model); err != nil {
		if os.Getenv("CAIRN_SDK_DIR") != "" {
			t.Fatalf("CAIRN_SDK_DIR names no SDK: %v", err)
		}
		t.Skipf("the SDK is not installed at %s (make test installs it; or set CAIRN_SDK_DIR): %v", sdk, err)
	}
	cols := fullCollections()
	m := Meta{Version: "11.2.0 é\xed\xa0\x80", Schema: []byte(schema1), ValueSchemas: map[string]json.RawMessage{"messageValues": json.RawMessage(schema0)}}
	doc := encode(t, cols, m)
	in := filepath.Join(t.TempDir(), "doc.json")
	if err := os.WriteFile(in, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `
const m = require(process.argv[1]);
const doc = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
if (!m.instanceOfExportedDatabase(doc)) throw new Error('not an ExportedDatabase');
process.stdout.write(JSON.stringify(m.ExportedDatabaseToJSON(m.ExportedDatabaseFromJSON(doc)), null, 2));
`
	var stderr bytes.Buffer
	cmd := exec.Command(node, "-e", script, model, in)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.Bytes())
	}
	got, gm := mustDecode(t, out)
	sameCollections(t, got, cols)
	if gm.Version != m.Version || string(gm.Schema) != schema1 || string(gm.ValueSchemas["messageValues"]) != schema0 {
		t.Errorf("meta after the SDK: %+v", gm)
	}
}

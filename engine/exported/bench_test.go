package exported

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
)

// benchCollections are workloads of 16 MiB: random bytes (the widest numbers), JSON
// records (ASCII, mostly 2 and 3 digits) and a value set of 4 KiB entries.
func benchCollections() map[string]map[string][]byte {
	const size = 16 << 20
	var records, lines bytes.Buffer
	for i := 0; records.Len() < size; i++ {
		fmt.Fprintf(&records, `{"id":"%08d","name":"snippet %d","text":"func main() { fmt.Println(\"hello\") }","tags":["go","demo"]}`+"\n", i, i)
	}
	raw := randomBytes(4<<10, 5)
	for i := 0; lines.Len() < size*4/3; i++ {
		fmt.Fprintf(&lines, `{"id":"%08d","raw":"%s"}`+"\n", i, b64(raw))
	}
	return map[string]map[string][]byte{
		"binary":  {"formats": randomBytes(size, 9)},
		"records": {"assets": records.Bytes()},
		"values":  {"values": lines.Bytes()},
	}
}

func BenchmarkDecode(b *testing.B) {
	for name, cols := range benchCollections() {
		doc := encode(b, cols, Meta{Version: "1"})
		docs := map[string][]byte{name: doc}
		if name != "values" {
			docs[name+"-pretty"] = pretty(b, doc)
		}
		for name, doc := range docs {
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(len(doc)))
				b.ReportAllocs()
				for b.Loop() {
					_, err := Decode(bytes.NewReader(doc), func(_ string, body io.Reader) error {
						_, err := io.Copy(io.Discard, body)
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	for name, cols := range benchCollections() {
		b.Run(name, func(b *testing.B) {
			size := len(encode(b, cols, Meta{Version: "1"}))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				enc := NewEncoder(io.Discard)
				for name, data := range cols {
					if err := enc.WriteCollection(name, bytes.NewReader(data)); err != nil {
						b.Fatal(err)
					}
				}
				if err := enc.Close(Meta{Version: "1"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var _ = json.Valid

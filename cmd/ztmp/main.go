package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"
)

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// uuids replaces canonical lowercase UUIDs with 0xFE + 16 bytes; 0xFE/0xFF escaped as 0xFF x.
func uuids(in []byte, bin bool) []byte {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		if i+36 <= len(in) && in[i+8] == '-' && in[i+13] == '-' && in[i+18] == '-' && in[i+23] == '-' {
			ok := true
			for j := 0; j < 36 && ok; j++ {
				if j == 8 || j == 13 || j == 18 || j == 23 {
					continue
				}
				ok = isHex(in[i+j])
			}
			if ok {
				var b [16]byte
				s := string(in[i:i+8]) + string(in[i+9:i+13]) + string(in[i+14:i+18]) + string(in[i+19:i+23]) + string(in[i+24:i+36])
				hex.Decode(b[:], []byte(s))
				if bin {
					out = append(out, 0xFE)
					out = append(out, b[:]...)
				} else {
					out = append(out, 0xFE)
					out = append(out, s...)
				}
				i += 36
				continue
			}
		}
		c := in[i]
		if c == 0xFE || c == 0xFF {
			out = append(out, 0xFF)
		}
		out = append(out, c)
		i++
	}
	return out
}

// split: text with a 0xFE per uuid, then the uuids' 16 bytes each, one frame.
func split(in []byte) []byte {
	b := uuids(in, true)
	var text, ids []byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == 0xFF {
			text = append(text, c, b[i+1])
			i++
			continue
		}
		if c == 0xFE {
			text = append(text, c)
			ids = append(ids, b[i+1:i+17]...)
			i += 16
			continue
		}
		text = append(text, c)
	}
	return append(text, ids...)
}

func main() {
	files, _ := filepath.Glob("/work/ab/db/*.jsonl")
	var data, bdata, hdata, sdata [][]byte
	n := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		data = append(data, b)
		bdata = append(bdata, uuids(b, true))
		hdata = append(hdata, uuids(b, false))
		for i := 0; i < len(b); i += 1 << 20 {
			sdata = append(sdata, split(b[i:min(i+1<<20, len(b))]))
		}
		n += len(b)
	}
	for _, lv := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
		for name, d := range map[string][][]byte{"plain": data, "binary uuid": bdata, "split per MiB": sdata} {
			enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(lv), zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(1))
			var total, raw int
			buf := make([]byte, 0, 8<<20)
			t := time.Now()
			for _, x := range d {
				raw += len(x)
				for i := 0; i < len(x); i += 1 << 20 {
					j := min(i+1<<20, len(x))
					buf = enc.EncodeAll(x[i:j], buf[:0])
					total += len(buf)
				}
			}
			fmt.Printf("%v %s: raw %.1f MiB -> %.1f MiB in %v\n", lv, name, float64(raw)/(1<<20), float64(total)/(1<<20), time.Since(t).Round(time.Millisecond))
		}
	}
}

// Package gendb writes realistic Pieces snippet databases in the folder form (one
// <collection>.jsonl per collection, records sorted by id, plus export.json) and applies
// a given fraction of edits, inserts and deletes to one. Tests and benchmarks use it.
//
// The output is deterministic for a seed. Records look like what a snippet manager
// keeps: assets with names, descriptions and timestamps; formats holding code in several
// languages built from token templates (zstd compresses them about as well as real code);
// conversation messages and annotations in prose; small tags, websites and events.
// Sizes are mostly 150 B to 4 KiB with a long tail of big pasted files.
package gendb

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Options say what to generate.
type Options struct {
	Size    int64  // total bytes of all collections
	Seed    int64  //
	Version string // database version written to export.json; "11.2.0" when empty
}

// Stats describe a generated database.
type Stats struct {
	Collections int   `json:"collections"`
	Records     int   `json:"records"`
	Bytes       int64 `json:"bytes"`
}

// kind is one collection's share of the bytes and its record shape.
type kind struct {
	name   string
	share  float64
	render func(g *gen, b []byte, id string) []byte
}

var kinds = []kind{
	{"formats", 0.30, (*gen).format},
	{"fragments", 0.12, (*gen).fragment},
	{"conversationMessages", 0.14, (*gen).message},
	{"assets", 0.10, (*gen).asset},
	{"annotations", 0.07, (*gen).annotation},
	{"analyses", 0.04, (*gen).analysis},
	{"codeAnalyses", 0.03, (*gen).analysis},
	{"activities", 0.03, (*gen).event},
	{"workstreamEvents", 0.03, (*gen).event},
	{"formatMetrics", 0.02, (*gen).metric},
	{"workstreamSummaries", 0.02, (*gen).annotation},
	{"conversations", 0.01, (*gen).conversation},
	{"tags", 0.01, (*gen).tag},
	{"websites", 0.01, (*gen).website},
	{"persons", 0.01, (*gen).person},
	{"anchors", 0.01, (*gen).anchor},
	{"anchorPoints", 0.005, (*gen).anchor},
	{"relationships", 0.01, (*gen).relationship},
	{"sensitives", 0.005, (*gen).sensitive},
	{"hints", 0.005, (*gen).tag},
	{"ranges", 0.005, (*gen).event},
	{"applications", 0.002, (*gen).application},
	{"models", 0.002, (*gen).application},
	{"files", 0.0, nil},
	{"imageAnalyses", 0.0, nil},
	{"ocrAnalyses", 0.0, nil},
	{"workstreamPatternEngineSources", 0.0, nil},
}

type gen struct {
	rng *rand.Rand
	ids []string // ids of other collections' records, for references
	now time.Time
}

func newGen(seed int64, salt string) *gen {
	h := uint64(seed)
	for _, c := range salt {
		h = h*1099511628211 ^ uint64(c)
	}
	return &gen{rng: rand.New(rand.NewPCG(uint64(seed), h)), now: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
}

// Generate writes the folder form of a database of about opts.Size bytes into dir.
func Generate(dir string, opts Options) (Stats, error) {
	var st Stats
	if opts.Size <= 0 {
		return st, fmt.Errorf("generate: size must be positive")
	}
	if opts.Version == "" {
		opts.Version = "11.2.0"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, fmt.Errorf("generate: %w", err)
	}
	meta := fmt.Sprintf("{\"version\":%q,\"schema\":{\"migration\":0,\"semantic\":\"MAJOR_0_MINOR_0_PATCH_1\"}}\n", opts.Version)
	if err := os.WriteFile(filepath.Join(dir, "export.json"), []byte(meta), 0o644); err != nil {
		return st, fmt.Errorf("generate: %w", err)
	}
	for _, k := range kinds {
		target := int64(math.Round(k.share * float64(opts.Size)))
		g := newGen(opts.Seed, k.name)
		var lines [][]byte
		var size int64
		for size < target && k.render != nil {
			line := k.render(g, nil, g.uuid())
			lines = append(lines, line)
			size += int64(len(line))
		}
		slices.SortFunc(lines, bytes.Compare)
		if err := writeLines(filepath.Join(dir, k.name+".jsonl"), lines); err != nil {
			return st, err
		}
		st.Collections++
		st.Records += len(lines)
		st.Bytes += size
	}
	return st, nil
}

func writeLines(path string, lines [][]byte) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, l := range lines {
		w.Write(l)
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(path+".tmp", path)
	}
	if err != nil {
		os.Remove(path + ".tmp")
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

const hexdigits = "0123456789abcdef"

func (g *gen) uuid() string {
	var b [36]byte
	x, y := g.rng.Uint64(), g.rng.Uint64()
	for i := range b {
		switch i {
		case 8, 13, 18, 23:
			b[i] = '-'
			continue
		}
		if i < 18 {
			b[i] = hexdigits[x&15]
			x >>= 4
		} else {
			b[i] = hexdigits[y&15]
			y >>= 4
		}
	}
	b[14] = '4'
	return string(b[:])
}

// open starts a record line: {"id":"…"
func open(b []byte, id string) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	return append(b, '"')
}

func closeLine(b []byte) []byte { return append(b, "}\n"...) }

func str(b []byte, key, val string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendQuote(b, val)
}

func num(b []byte, key string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

func (g *gen) timestamp(b []byte, key string) []byte {
	t := g.now.Add(-time.Duration(g.rng.Int64N(int64(900 * 24 * time.Hour))))
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":{"value":"`...)
	b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","readable":"`...)
	b = t.AppendFormat(b, "Jan 2, 2006 at 3:04 PM")
	return append(b, `"}`...)
}

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *gen) ref(b []byte, key string, n int) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, g.uuid()...)
		b = append(b, '"')
	}
	return append(b, ']')
}

// sentence appends n words of prose.
func (g *gen) sentence(b []byte, n int) []byte {
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		w := g.pick(words)
		if i == 0 {
			b = append(b, w[0]-32)
			b = append(b, w[1:]...)
		} else {
			b = append(b, w...)
		}
	}
	return append(b, '.')
}

func (g *gen) prose(b []byte, key string, sentences int) []byte {
	var t []byte
	for i := range sentences {
		if i > 0 {
			t = append(t, ' ')
		}
		t = g.sentence(t, 6+g.rng.IntN(14))
	}
	return str(b, key, string(t))
}

// codeLines picks a snippet length: mostly short, some long, a few whole files.
func (g *gen) codeLines() int {
	switch r := g.rng.Float64(); {
	case r < 0.70:
		return 3 + g.rng.IntN(30)
	case r < 0.97:
		return 30 + g.rng.IntN(120)
	case r < 0.995:
		return 150 + g.rng.IntN(800)
	default:
		return 1000 + g.rng.IntN(4000)
	}
}

func (g *gen) code(lang int, lines int) string {
	tpl := templates[lang]
	var b []byte
	indent := 0
	for range lines {
		t := tpl[g.rng.IntN(len(tpl))]
		for range indent {
			b = append(b, "    "...)
		}
		for i := 0; i < len(t); i++ {
			switch t[i] {
			case '$':
				b = append(b, g.pick(idents)...)
			case '#':
				b = strconv.AppendInt(b, int64(g.rng.IntN(1000)), 10)
			case '@':
				b = append(b, g.pick(types[lang])...)
			default:
				b = append(b, t[i])
			}
		}
		b = append(b, '\n')
		switch t[len(t)-1] {
		case '{', ':':
			if indent < 4 {
				indent++
			}
		case '}':
			if indent > 0 {
				indent--
			}
		}
	}
	return string(b)
}

func (g *gen) format(b []byte, id string) []byte {
	lang := g.rng.IntN(len(languages))
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = g.timestamp(b, "updated")
	b = str(b, "classification", languages[lang])
	b = str(b, "role", g.pick([]string{"ORIGINAL", "BOTH", "PREVIEW"}))
	b = g.ref(b, "asset", 1)
	b = str(b, "raw", g.code(lang, g.codeLines()))
	return closeLine(b)
}

func (g *gen) fragment(b []byte, id string) []byte {
	lang := g.rng.IntN(len(languages))
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = str(b, "language", languages[lang])
	b = str(b, "string", g.code(lang, 2+g.rng.IntN(25)))
	return closeLine(b)
}

func (g *gen) message(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = str(b, "role", g.pick([]string{"USER", "ASSISTANT", "SYSTEM"}))
	b = g.ref(b, "conversation", 1)
	b = g.prose(b, "text", 1+g.rng.IntN(8))
	if g.rng.IntN(3) == 0 {
		lang := g.rng.IntN(len(languages))
		b = str(b, "code", g.code(lang, 3+g.rng.IntN(30)))
	}
	return closeLine(b)
}

func (g *gen) asset(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = g.timestamp(b, "updated")
	var name []byte
	name = g.sentence(name, 2+g.rng.IntN(5))
	b = str(b, "name", string(name))
	b = g.prose(b, "description", 1+g.rng.IntN(4))
	b = str(b, "mechanism", g.pick([]string{"MANUAL", "RECOMMENDED", "INTERNAL"}))
	b = g.ref(b, "formats", 1+g.rng.IntN(3))
	b = g.ref(b, "tags", g.rng.IntN(5))
	b = g.ref(b, "websites", g.rng.IntN(3))
	b = str(b, "favorited", strconv.FormatBool(g.rng.IntN(5) == 0))
	return closeLine(b)
}

func (g *gen) annotation(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = str(b, "type", g.pick([]string{"DESCRIPTION", "COMMENT", "SUMMARY", "EXPLANATION"}))
	b = g.ref(b, "asset", 1)
	b = g.prose(b, "text", 1+g.rng.IntN(10))
	return closeLine(b)
}

func (g *gen) analysis(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = g.ref(b, "format", 1)
	b = str(b, "language", g.pick(languages))
	b = num(b, "tokens", int64(g.rng.IntN(5000)))
	b = g.prose(b, "summary", 1+g.rng.IntN(3))
	return closeLine(b)
}

func (g *gen) event(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = str(b, "event", g.pick([]string{"ASSET_CREATED", "ASSET_UPDATED", "COPIED", "SHARED", "SEARCHED", "VIEWED", "APPLICATION_FOCUSED"}))
	b = g.ref(b, "asset", 1)
	b = str(b, "application", g.pick(applications))
	return closeLine(b)
}

func (g *gen) metric(b []byte, id string) []byte {
	b = open(b, id)
	b = g.ref(b, "format", 1)
	b = num(b, "copies", int64(g.rng.IntN(200)))
	b = num(b, "views", int64(g.rng.IntN(2000)))
	b = num(b, "shares", int64(g.rng.IntN(20)))
	return closeLine(b)
}

func (g *gen) conversation(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = g.timestamp(b, "updated")
	var name []byte
	b = str(b, "name", string(g.sentence(name, 3+g.rng.IntN(6))))
	b = str(b, "type", "COPILOT")
	b = g.ref(b, "messages", 2+g.rng.IntN(10))
	return closeLine(b)
}

func (g *gen) tag(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = str(b, "text", g.pick(idents))
	b = str(b, "category", g.pick([]string{"LANGUAGE", "FRAMEWORK", "HANDLE", "TOPIC"}))
	return closeLine(b)
}

func (g *gen) website(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	u := "https://" + g.pick(hosts) + "/" + g.pick(idents) + "/" + g.pick(idents) + "-" + strconv.Itoa(g.rng.IntN(100000))
	b = str(b, "url", u)
	b = str(b, "name", g.pick(idents)+" "+g.pick(words))
	return closeLine(b)
}

func (g *gen) person(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	first, last := g.pick(firstNames), g.pick(lastNames)
	b = str(b, "name", first+" "+last)
	b = str(b, "email", firstLower(first)+"."+firstLower(last)+"@"+g.pick(hosts))
	return closeLine(b)
}

func firstLower(s string) string { return string(s[0]|0x20) + s[1:] }

func (g *gen) anchor(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = str(b, "path", "/home/dev/"+g.pick(idents)+"/"+g.pick(idents)+"/"+g.pick(idents)+g.pick([]string{".go", ".py", ".ts", ".rs", ".sql"}))
	b = str(b, "platform", g.pick([]string{"MACOS", "LINUX", "WINDOWS"}))
	return closeLine(b)
}

func (g *gen) relationship(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = g.ref(b, "assets", 2)
	b = str(b, "kind", g.pick([]string{"RELATED", "DUPLICATE", "DERIVED"}))
	return closeLine(b)
}

func (g *gen) sensitive(b []byte, id string) []byte {
	b = open(b, id)
	b = g.timestamp(b, "created")
	b = g.ref(b, "asset", 1)
	b = str(b, "category", g.pick([]string{"API_KEY", "PASSWORD", "TOKEN", "URL"}))
	b = str(b, "severity", g.pick([]string{"LOW", "MODERATE", "HIGH"}))
	return closeLine(b)
}

func (g *gen) application(b []byte, id string) []byte {
	b = open(b, id)
	b = str(b, "name", g.pick(applications))
	b = str(b, "version", fmt.Sprintf("%d.%d.%d", g.rng.IntN(5), g.rng.IntN(20), g.rng.IntN(50)))
	b = str(b, "platform", g.pick([]string{"MACOS", "LINUX", "WINDOWS"}))
	return closeLine(b)
}

package gendb

import (
	"math/bits"
	"strconv"
)

// Generated text is written straight into JSON string bodies, already escaped: a
// newline is the two bytes \n, a tab \t, a quote \". Templates are escaped once when
// the package loads, so the hot path only copies bytes and picks words.

// seg is a piece of a template: escaped literal text, then an optional placeholder.
type seg struct {
	lit string
	ph  byte
}

// tmpl is a compiled template line.
type tmpl []seg

// Placeholders in template sources, written {x}:
//
//	{v} a variable name      {f} a function name (camelCase or snake_case by language)
//	{F} an exported name     {C} a type name       {t} a type of the language
//	{n} a number             {s} a few words       {w} one word
const placeholders = "vfFCtnsw"

func compile(src string) tmpl {
	var t tmpl
	var lit []byte
	for i := 0; i < len(src); i++ {
		if src[i] == '{' && i+2 < len(src) && src[i+2] == '}' && indexByte(placeholders, src[i+1]) >= 0 {
			t = append(t, seg{string(lit), src[i+1]})
			lit = lit[:0]
			i += 2
			continue
		}
		lit = appendEscaped(lit, src[i:i+1])
	}
	if len(lit) > 0 {
		t = append(t, seg{lit: string(lit)})
	}
	return t
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func compileAll(src []string) []tmpl {
	out := make([]tmpl, len(src))
	for i, s := range src {
		out[i] = compile(s)
	}
	return out
}

// block is a construct with a body: a function, a loop, a table definition.
type block struct {
	open, close tmpl   // close is nil when the language closes blocks by indentation
	body        []tmpl // nil: the language's statements
}

// language is what the code generator knows of one programming language.
type language struct {
	name    string // classification, as Pieces names it ("py", "ts", ...)
	ext     string
	snake   bool   // snake_case function names
	indent  string // one level, escaped
	header  []tmpl // file preamble lines (imports)
	decls   []block
	blocks  []block
	stmts   []tmpl
	comment tmpl
	declP   float64 // chance that a top-level item is a declaration
	types   []tmpl
}

type blockSrc struct {
	open, close string
	body        []string
}

type langSrc struct {
	name, ext, indent string
	snake             bool
	declP             float64
	header            []string
	decls, blocks     []blockSrc
	stmts             []string
	comment           string
	types             []string
}

func compileLanguage(s langSrc) *language {
	l := &language{name: s.name, ext: s.ext, snake: s.snake, declP: s.declP, types: compileAll(s.types),
		indent: string(appendEscaped(nil, s.indent)), header: compileAll(s.header),
		stmts: compileAll(s.stmts), comment: compile(s.comment)}
	conv := func(src []blockSrc) []block {
		var out []block
		for _, b := range src {
			blk := block{open: compile(b.open)}
			if b.close != "" {
				blk.close = compile(b.close)
			}
			if b.body != nil {
				blk.body = compileAll(b.body)
			}
			out = append(out, blk)
		}
		return out
	}
	l.decls, l.blocks = conv(s.decls), conv(s.blocks)
	return l
}

// text generates code and prose into a buffer. Like a real snippet or message, each
// piece of text keeps coming back to a few words of its own: its topic.
type text struct {
	r     *rng
	local []string // the topic; empty for none
	store [16]string
	// recent lines of the current code, as offsets into its buffer
	recent [8][2]int
	lines  int
}

// topic draws n topic words (n <= 16) from list.
func (x *text) topic(list []string, n int) {
	x.local = x.store[:0]
	for range n {
		x.local = append(x.local, zipf(x.r, list))
	}
}

// noun is a name from the topic most of the time, else from the whole vocabulary.
func (x *text) noun(topical int) string {
	v := x.r.next()
	if len(x.local) > 0 && int(v&0xff) < topical {
		hi, _ := bits.Mul64(v, uint64(len(x.local)))
		return x.local[hi]
	}
	return zipf(x.r, nouns)
}

const newline = `\n`

// How often (out of 256) a name comes from the topic: variables, other names, prose.
const (
	topicalVar  = 215
	topicalName = 170
	topicalWord = 30
	repeatLine  = 90 // out of 256: how often a line of code repeats a recent one
)

func capitalize(b []byte, at int) []byte {
	if at < len(b) && b[at] >= 'a' && b[at] <= 'z' {
		b[at] -= 'a' - 'A'
	}
	return b
}

var numbers = []string{"0", "1", "2", "10", "8", "16", "100", "3", "32", "64", "1000", "256", "5", "1024", "60", "30", "4096", "500", "200", "404"}

func (x *text) fill(b []byte, l *language, t tmpl) []byte {
	r := x.r
	for _, s := range t {
		b = append(b, s.lit...)
		switch s.ph {
		case 'v':
			b = append(b, x.noun(topicalVar)...)
		case 'f':
			b = append(b, zipf(r, verbs)...)
			if l != nil && l.snake {
				b = append(b, '_')
				b = append(b, x.noun(topicalName)...)
			} else {
				at := len(b)
				b = capitalize(append(b, x.noun(topicalName)...), at)
			}
		case 'F':
			at := len(b)
			b = capitalize(append(b, zipf(r, verbs)...), at)
			at = len(b)
			b = capitalize(append(b, x.noun(topicalName)...), at)
		case 'C':
			at := len(b)
			b = capitalize(append(b, x.noun(topicalName)...), at)
			b = append(b, pick(r, typeSuffixes)...)
		case 't':
			if l != nil {
				b = x.fill(b, l, zipf(r, l.types))
			} else {
				b = append(b, "string"...)
			}
		case 'n':
			if r.chance(0.85) {
				b = append(b, zipf(r, numbers)...)
			} else {
				b = appendInt(b, r.intn(10000))
			}
		case 's':
			b = x.words(b, r.between(2, 6))
		case 'w':
			b = append(b, zipf(r, words)...)
		}
	}
	return b
}

func appendInt(b []byte, v int) []byte { return strconv.AppendInt(b, int64(v), 10) }

// line appends one line of code at the given depth.
func (x *text) line(b []byte, l *language, t tmpl, depth int) []byte {
	for range depth {
		b = append(b, l.indent...)
	}
	return append(x.fill(b, l, t), newline...)
}

// stmt is line for a statement: now and then it is one of the recent statements
// again, as code repeats itself.
func (x *text) stmt(b []byte, l *language, t tmpl, depth int) []byte {
	for range depth {
		b = append(b, l.indent...)
	}
	start := len(b)
	if x.lines > 1 && x.r.next()&0xff < repeatLine {
		h := x.recent[x.r.intn(min(x.lines, len(x.recent)))]
		b = append(b, b[h[0]:h[1]]...)
	} else {
		b = x.fill(b, l, t)
		x.recent[x.lines%len(x.recent)] = [2]int{start, len(b)}
		x.lines++
	}
	return append(b, newline...)
}

// code appends about target bytes of source code in language l.
func (x *text) code(b []byte, l *language, target int) []byte {
	r := x.r
	start := len(b)
	x.topic(nouns, r.between(3, 10))
	x.lines = 0
	if len(l.header) > 0 && r.chance(0.4) {
		for range r.between(1, 4) {
			b = x.line(b, l, pick(r, l.header), 0)
		}
		b = append(b, newline...)
	}
	for len(b)-start < target {
		if len(l.decls) > 0 && r.chance(l.declP) {
			if r.chance(0.4) {
				b = x.line(b, l, l.comment, 0)
			}
			b = x.block(b, l, pick(r, l.decls), 0, start+target)
			b = append(b, newline...)
		} else {
			b = x.stmt(b, l, pick(r, l.stmts), 0)
		}
	}
	return b
}

func (x *text) block(b []byte, l *language, blk block, depth, end int) []byte {
	r := x.r
	b = x.line(b, l, blk.open, depth)
	body := blk.body
	if body == nil {
		body = l.stmts
	}
	for i, n := 0, r.between(1, 7); i < n && (i == 0 || len(b) < end); i++ {
		if blk.body == nil && depth < 3 && len(l.blocks) > 0 && r.chance(0.22) {
			b = x.block(b, l, pick(r, l.blocks), depth+1, end)
		} else {
			b = x.stmt(b, l, pick(r, body), depth+1)
		}
	}
	if blk.close != nil {
		b = x.line(b, l, blk.close, depth)
	}
	return b
}

// words appends n words of lowercase prose separated by spaces.
func (x *text) words(b []byte, n int) []byte {
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		if v := x.r.next() & 0xff; v < topicalWord && len(x.local) > 0 {
			b = append(b, pick(x.r, x.local)...)
		} else {
			b = append(b, zipf2(x.r, words)...)
		}
	}
	return b
}

// sentence appends one sentence of prose.
func (x *text) sentence(b []byte) []byte {
	r := x.r
	at := len(b)
	n := r.between(5, 18)
	for i := range n {
		if i > 0 {
			if r.chance(0.07) && i < n-1 {
				b = append(b, ',')
			}
			b = append(b, ' ')
		}
		switch v := r.next() & 0xff; {
		case v < 10:
			b = append(b, '`')
			b = x.fill(b, nil, identTmpl)
			b = append(b, '`')
		case v < 18:
			b = append(b, zipf(r, techWords)...)
		case v < 18+topicalWord && len(x.local) > 0:
			b = append(b, pick(r, x.local)...)
		case v < 90+topicalWord:
			b = append(b, pick(r, phrases)...)
		default:
			b = append(b, zipf2(r, words)...)
		}
	}
	b = capitalize(b, at)
	switch {
	case r.chance(0.06):
		return append(b, '?')
	case r.chance(0.02):
		return append(b, '!')
	}
	return append(b, '.')
}

var identTmpl = compile("{f}()")

// prose appends sentences until about target bytes, in paragraphs when paras is set.
func (x *text) prose(b []byte, target int, paras bool) []byte {
	r := x.r
	start := len(b)
	x.topic(nouns, r.between(5, 12))
	inPara := 0
	for first := true; first || len(b)-start < target; first = false {
		if !first {
			if paras && inPara >= 3 && r.chance(0.3) {
				b = append(b, newline+newline...)
				inPara = 0
			} else {
				b = append(b, ' ')
			}
		}
		b = x.sentence(b)
		inPara++
	}
	return b
}

// markdown appends a chat answer: paragraphs, lists, headings and fenced code.
func (x *text) markdown(b []byte, target int) []byte {
	r := x.r
	start := len(b)
	for first := true; first || len(b)-start < target; first = false {
		if !first {
			b = append(b, newline+newline...)
		}
		left := target - (len(b) - start)
		switch p := r.float(); {
		case p < 0.40 || left < 120:
			b = x.prose(b, r.between(80, 400), false)
		case p < 0.55:
			for i := range r.between(2, 6) {
				if i > 0 {
					b = append(b, newline...)
				}
				b = append(b, "- "...)
				b = x.sentence(b)
			}
		case p < 0.62:
			b = append(b, "### "...)
			at := len(b)
			b = capitalize(x.words(b, r.between(2, 5)), at)
		default:
			l := zipf(r, languages)
			b = append(b, "```"...)
			b = append(b, l.name...)
			b = append(b, newline...)
			b = x.code(b, l, min(left, r.between(150, 2500)))
			b = append(b, "```"...)
		}
	}
	return b
}

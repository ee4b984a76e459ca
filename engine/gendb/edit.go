package gendb

import (
	"bytes"
	"slices"
	"strconv"
)

// strSpan is a JSON string in a line: the key it is the value of ("" for array
// members and keys themselves), and its body between the quotes.
type strSpan struct {
	key        string
	start, end int
}

// strings lists the string values of a JSON line, skipping keys.
func stringValues(line []byte) []strSpan {
	var out []strSpan
	key := ""
	for i := 0; i < len(line); i++ {
		if line[i] != '"' {
			continue
		}
		j := i + 1
		for j < len(line) && line[j] != '"' {
			if line[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(line) {
			break
		}
		k := j + 1
		for k < len(line) && line[k] == ' ' {
			k++
		}
		if k < len(line) && line[k] == ':' {
			key = string(line[i+1 : j])
		} else {
			out = append(out, strSpan{key, i + 1, j})
			key = ""
		}
		i = j
	}
	return out
}

// edit returns a changed copy of a record line (newline included) with the same id:
// a new updated timestamp when it has one, and one of: a few lines of its code
// replaced, a run of words of its longest text rewritten, a short field rewritten,
// a reference pointed elsewhere.
func edit(line []byte, r *rng) []byte {
	orig := line
	line = slices.Clone(line)
	now := (epochNow+int64(r.intn(30*86400)))*1000 + int64(r.intn(1000))
	if i := bytes.Index(line, []byte(`"updated":{`)); i >= 0 {
		i += len(`"updated":`)
		if j := bytes.IndexByte(line[i:], '}'); j >= 0 {
			line = slices.Replace(line, i, i+j+1, appendTime(nil, now)...)
		}
	}
	vals := stringValues(line)
	var longest, short, refs []strSpan
	for n, v := range vals {
		switch {
		case n == 0 && v.key == "id":
			// the record's own id stays
		case v.key == "id" && v.end-v.start == uidLen:
			refs = append(refs, v)
		case editableShort[v.key] && v.end-v.start < 200:
			short = append(short, v)
		}
		if n > 0 && (len(longest) == 0 || v.end-v.start > longest[0].end-longest[0].start) {
			longest = append(longest[:0], v)
		}
	}
	x := &text{r: r}
	switch {
	case len(longest) > 0 && longest[0].end-longest[0].start >= 160 && (len(refs) == 0 || r.chance(0.8)):
		line = editText(line, longest[0], x, languageOf(line))
	case len(refs) > 0 && (len(short) == 0 || r.chance(0.5)):
		v := pick(r, refs)
		line = slices.Replace(line, v.start, v.end, appendUID(nil, r.uid())...)
	case len(short) > 0:
		v := pick(r, short)
		line = slices.Replace(line, v.start, v.end, x.words(nil, r.between(1, 6))...)
	}
	if bytes.Equal(line, orig) {
		// Nothing to change that the cases above know: add a revision number.
		end := bytes.LastIndexByte(line, '}')
		rev := strconv.AppendInt([]byte(`,"revision":`), int64(1+r.intn(1000)), 10)
		line = slices.Insert(line, end, rev...)
	}
	return line
}

// editableShort are the keys of short fields an edit may rewrite.
var editableShort = map[string]bool{"name": true, "text": true, "description": true, "title": true, "summary": true}

// languageOf finds the language of a record's code, nil for a record without one.
func languageOf(line []byte) *language {
	i := bytes.Index(line, []byte(`"specific":"`))
	if i < 0 {
		return nil
	}
	rest := line[i+len(`"specific":"`):]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		for _, l := range languages {
			if l.name == string(rest[:j]) {
				return l
			}
		}
	}
	return nil
}

// editText rewrites part of the string body v: one to three lines when it is code in
// language l, else a run of words. Cuts fall on line breaks or spaces, never inside
// an escape sequence.
func editText(line []byte, v strSpan, x *text, l *language) []byte {
	r := x.r
	if l != nil {
		var breaks []int // positions just after each \n escape
		for i := v.start; i < v.end; i++ {
			if line[i] == '\\' {
				if line[i+1] == 'n' {
					breaks = append(breaks, i+2)
				}
				i++
			}
		}
		if len(breaks) >= 2 {
			j := r.intn(len(breaks) - 1)
			from := v.start
			if j > 0 {
				from = breaks[j-1]
			}
			to := breaks[min(j+r.between(0, 2), len(breaks)-1)]
			indent := from
			for indent < to && (line[indent] == ' ' || line[indent] == '\\' && line[indent+1] == 't') {
				if line[indent] == '\\' {
					indent++
				}
				indent++
			}
			depth := 0
			if len(l.indent) > 0 {
				depth = (indent - from) / len(l.indent)
			}
			var repl []byte
			for range r.between(1, 4) {
				repl = x.line(repl, l, pick(r, l.stmts), depth)
			}
			return slices.Replace(line, from, to, repl...)
		}
	}
	var spaces []int
	for i := v.start; i < v.end; i++ {
		if line[i] == ' ' {
			spaces = append(spaces, i)
		}
	}
	if len(spaces) < 2 {
		return slices.Replace(line, v.start, v.end, x.words(nil, r.between(2, 8))...)
	}
	a := r.intn(len(spaces) - 1)
	b := min(a+r.between(3, 25), len(spaces)-1)
	return slices.Replace(line, spaces[a]+1, spaces[b], x.words(nil, r.between(2, 25))...)
}

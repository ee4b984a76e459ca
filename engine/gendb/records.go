package gendb

import "strconv"

// enc renders one record line at a time by appending to b. Field values it writes
// unescaped come from the vocabularies, which hold nothing JSON would escape.
type enc struct {
	b       []byte
	r       rng
	db      *Database // for ids of other collections; nil: references are fresh ids
	x       text
	created int64 // milliseconds since the Unix epoch
}

func (e *enc) text() *text {
	e.x.r = &e.r
	return &e.x
}

// record appends a whole line: {"id":"…",…}\n.
func (e *enc) record(k *kind, id uid, payload int) {
	e.b = append(e.b, `{"id":"`...)
	e.b = appendUID(e.b, id)
	e.b = append(e.b, '"')
	e.x.local = nil
	e.created = (epochStart + int64(e.r.intn(epochNow-epochStart-86400*7))) * 1000
	e.created += int64(e.r.intn(1000))
	k.render(e, payload)
	e.b = append(e.b, "}\n"...)
}

func (e *enc) key(k string) {
	e.b = append(e.b, ',', '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

// str writes a string field whose value needs no escaping.
func (e *enc) str(k, v string) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = append(e.b, v...)
	e.b = append(e.b, '"')
}

func (e *enc) num(k string, v int) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, int64(v), 10)
}

func (e *enc) float(k string, v float64) {
	e.key(k)
	e.b = strconv.AppendFloat(e.b, v, 'f', 4, 64)
}

func (e *enc) boolean(k string, v bool) {
	e.key(k)
	e.b = strconv.AppendBool(e.b, v)
}

// open starts a string field whose body the caller appends, escaped; shut ends it.
func (e *enc) open(k string) {
	e.key(k)
	e.b = append(e.b, '"')
}

func (e *enc) shut() { e.b = append(e.b, '"') }

func (e *enc) schema() {
	e.b = append(e.b, `,"schema":{"migration":0,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}`...)
}

func (e *enc) time(k string, ms int64) {
	e.key(k)
	e.b = appendTime(e.b, ms)
}

// times writes created and updated; updated is often the same, else some days later.
func (e *enc) times() {
	e.time("created", e.created)
	up := e.created
	if e.r.chance(0.6) {
		up += int64(e.r.intn(120 * 86400 * 1000))
		up = min(up, epochNow*1000)
	}
	e.time("updated", up)
}

func (e *enc) id(c int) uid {
	if e.db != nil {
		if ids := e.db.colls[c].ids; len(ids) > 0 {
			return ids[e.r.intn(len(ids))]
		}
	}
	return e.r.uid()
}

// ref writes "k":{"id":"…"} pointing at a record of collection c.
func (e *enc) ref(k string, c int) {
	e.key(k)
	e.b = append(e.b, `{"id":"`...)
	e.b = appendUID(e.b, e.id(c))
	e.b = append(e.b, `"}`...)
}

// refs writes "k":{"iterable":[{"id":"…"},…]} with n references into collection c.
func (e *enc) refs(k string, c, n int) {
	e.key(k)
	e.b = append(e.b, `{"iterable":[`...)
	for i := range n {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `{"id":"`...)
		e.b = appendUID(e.b, e.id(c))
		e.b = append(e.b, `"}`...)
	}
	e.b = append(e.b, "]}"...)
}

func (e *enc) words(k string, lo, hi int) {
	e.open(k)
	at := len(e.b)
	e.b = e.text().words(e.b, e.r.between(lo, hi))
	e.b = capitalize(e.b, at)
	e.shut()
}

func (e *enc) classification(l *language) {
	e.b = append(e.b, `,"classification":{"generic":"CODE","specific":"`...)
	e.b = append(e.b, l.name...)
	e.b = append(e.b, `"}`...)
}

func (e *enc) language() *language { return zipf(&e.r, languages) }

func (e *enc) mechanism() {
	e.str("mechanism", pick(&e.r, []string{"MANUAL", "MANUAL", "RECOMMENDED", "AUTOMATIC", "INTERNAL"}))
}

func (e *enc) asset(payload int) {
	e.schema()
	e.words("name", 2, 7)
	e.open("description")
	e.b = e.text().prose(e.b, payload, false)
	e.shut()
	e.ref("creator", cPersons)
	e.times()
	e.mechanism()
	e.ref("original", cFormats)
	e.key("preview")
	e.b = append(e.b, `{"base":{"id":"`...)
	e.b = appendUID(e.b, e.id(cFormats))
	e.b = append(e.b, `"}}`...)
	e.refs("formats", cFormats, e.r.between(1, 3))
	e.refs("tags", cTags, e.r.intn(6))
	e.refs("websites", cWebsites, e.r.intn(3))
	e.refs("annotations", cAnnotations, e.r.intn(4))
	if e.r.chance(0.1) {
		e.refs("sensitives", cSensitives, 1)
	}
	e.boolean("favorited", e.r.chance(0.15))
	e.boolean("pseudo", false)
	e.key("score")
	e.b = append(e.b, `{"manual":`...)
	e.b = strconv.AppendInt(e.b, int64(e.r.intn(5)), 10)
	e.b = append(e.b, `,"automatic":`...)
	e.b = strconv.AppendInt(e.b, int64(e.r.intn(400)), 10)
	e.b = append(e.b, '}')
}

func (e *enc) format(payload int) {
	l := e.language()
	e.schema()
	e.ref("creator", cPersons)
	e.times()
	e.classification(l)
	e.str("role", pick(&e.r, []string{"BOTH", "BOTH", "ORIGINAL", "PREVIEW"}))
	e.ref("application", cApplications)
	e.ref("asset", cAssets)
	e.ref("analysis", cAnalyses)
	e.key("fragment")
	e.b = append(e.b, `{"string":{"raw":"`...)
	e.b = e.text().code(e.b, l, payload)
	e.b = append(e.b, `"},"metadata":{"ext":"`...)
	e.b = append(e.b, l.ext...)
	e.b = append(e.b, `"}}`...)
	e.num("bytes", payload)
}

func (e *enc) fragment(payload int) {
	l := e.language()
	e.schema()
	e.time("created", e.created)
	e.ref("format", cFormats)
	e.classification(l)
	e.key("string")
	e.b = append(e.b, `{"raw":"`...)
	e.b = e.text().code(e.b, l, payload)
	e.b = append(e.b, `"}`...)
}

func (e *enc) message(payload int) {
	e.schema()
	e.times()
	e.ref("conversation", cConversations)
	e.ref("model", cModels)
	user := e.r.chance(0.4)
	if user {
		e.str("role", "USER")
		payload = min(payload, 600)
	} else {
		e.str("role", "ASSISTANT")
	}
	e.key("fragment")
	e.b = append(e.b, `{"string":{"raw":"`...)
	if user {
		e.b = e.text().prose(e.b, payload, false)
	} else {
		e.b = e.text().markdown(e.b, payload)
	}
	e.b = append(e.b, `"}}`...)
	e.str("sentiment", pick(&e.r, []string{"NONE", "NONE", "NONE", "LIKE", "DISLIKE"}))
	if !user && e.r.chance(0.3) {
		e.refs("annotations", cAnnotations, 1)
	}
}

func (e *enc) conversation(int) {
	e.schema()
	e.words("name", 3, 8)
	e.times()
	e.str("type", "COPILOT")
	e.boolean("favorited", e.r.chance(0.1))
	e.ref("application", cApplications)
	e.key("messages")
	e.b = append(e.b, `{"indices":{`...)
	for i := range e.r.between(2, 16) {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, '"')
		e.b = appendUID(e.b, e.id(cConversationMessages))
		e.b = append(e.b, `":`...)
		e.b = strconv.AppendInt(e.b, int64(i), 10)
	}
	e.b = append(e.b, "}}"...)
	if e.r.chance(0.5) {
		e.refs("assets", cAssets, e.r.between(1, 3))
	}
	e.key("pipeline")
	e.b = append(e.b, `{"conversation":{"contextualizedCodeDialog":{}}}`...)
}

func (e *enc) annotation(payload int) {
	e.schema()
	e.times()
	e.str("type", pick(&e.r, []string{"DESCRIPTION", "DESCRIPTION", "COMMENT", "SUMMARY", "EXPLANATION", "GIT_COMMIT", "CODE"}))
	e.mechanism()
	e.ref("asset", cAssets)
	e.open("text")
	e.b = e.text().prose(e.b, payload, true)
	e.shut()
}

func (e *enc) analysis(payload int) {
	e.schema()
	e.time("created", e.created)
	e.ref("format", cFormats)
	e.ref("code", cCodeAnalyses)
	e.open("summary")
	e.b = e.text().prose(e.b, payload, false)
	e.shut()
}

func (e *enc) codeAnalysis(payload int) {
	l := e.language()
	e.schema()
	e.ref("analysis", cAnalyses)
	e.str("language", l.name)
	e.str("type", "PREDICTION")
	e.key("prediction")
	e.b = append(e.b, `{"distribution":{"`...)
	e.b = append(e.b, l.name...)
	e.b = append(e.b, `":`...)
	e.b = strconv.AppendFloat(e.b, 0.6+0.4*e.r.float(), 'f', 6, 64)
	e.b = append(e.b, `,"other":`...)
	e.b = strconv.AppendFloat(e.b, 0.1*e.r.float(), 'f', 6, 64)
	e.b = append(e.b, "}}"...)
	e.key("tokenized")
	e.b = append(e.b, '[')
	start := len(e.b)
	x := e.text()
	for first := true; first || len(e.b)-start < payload; first = false {
		if !first {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, '"')
		e.b = x.fill(e.b, l, pick(&e.r, tokenTmpls))
		e.b = append(e.b, '"')
	}
	e.b = append(e.b, ']')
}

var tokenTmpls = compileAll([]string{"{v}", "{f}", "{C}", "{t}", "{n}", "(", ")", "{", "}", ".", ",", ";", "=", "return", "if", "for", ":="})

func (e *enc) formatMetric(int) {
	e.schema()
	e.ref("format", cFormats)
	e.num("copies", e.r.intn(60))
	e.num("views", e.r.intn(900))
	e.num("shares", e.r.intn(8))
	e.num("searches", e.r.intn(40))
	e.time("updated", e.created)
}

func (e *enc) ocrAnalysis(payload int) {
	e.schema()
	e.time("created", e.created)
	e.ref("analysis", cAnalyses)
	e.ref("image", cImageAnalyses)
	e.str("model", "TESSERACT")
	e.open("raw")
	e.b = e.text().prose(e.b, payload, true)
	e.shut()
}

func (e *enc) person(int) {
	e.schema()
	e.times()
	first, last := pick(&e.r, firstNames), pick(&e.r, lastNames)
	e.key("type")
	e.b = append(e.b, `{"basic":{"name":"`...)
	e.b = append(e.b, first...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, last...)
	e.b = append(e.b, `","email":"`...)
	at := len(e.b)
	e.b = append(e.b, first...)
	e.b[at] |= 0x20
	e.b = append(e.b, '.')
	at = len(e.b)
	e.b = append(e.b, last...)
	e.b[at] |= 0x20
	e.b = strconv.AppendInt(e.b, int64(e.r.intn(100)), 10)
	e.b = append(e.b, `@example.com","username":"@`...)
	e.b = append(e.b, zipf(&e.r, nouns)...)
	e.b = strconv.AppendInt(e.b, int64(e.r.intn(10000)), 10)
	e.b = append(e.b, `"}}`...)
	e.mechanism()
	e.key("access")
	e.b = append(e.b, `{"scoped":"READ"}`...)
	e.refs("assets", cAssets, e.r.between(1, 4))
}

const secretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (e *enc) sensitive(int) {
	e.schema()
	e.times()
	e.ref("asset", cAssets)
	cat := pick(&e.r, []string{"API_KEY", "PASSWORD", "TOKEN", "PRIVATE_KEY", "URL"})
	e.str("category", cat)
	e.str("severity", pick(&e.r, []string{"LOW", "MODERATE", "HIGH"}))
	e.mechanism()
	e.open("text")
	e.b = append(e.b, pick(&e.r, []string{"sk-live-", "ghp_", "AKIA", "xoxb-", "pk_test_"})...)
	for range e.r.between(16, 40) {
		e.b = append(e.b, secretChars[e.r.intn(len(secretChars))])
	}
	e.shut()
	e.words("name", 2, 4)
	e.words("description", 6, 14)
}

func (e *enc) tag(int) {
	e.schema()
	e.times()
	e.open("text")
	if e.r.chance(0.3) {
		e.b = append(e.b, zipf(&e.r, languages).name...)
	} else {
		e.b = append(e.b, zipf(&e.r, nouns)...)
	}
	e.shut()
	e.str("category", pick(&e.r, []string{"CODE_ANALYSIS", "HANDLE", "LANGUAGE", "EMAIL", "URL"}))
	e.mechanism()
	e.refs("assets", cAssets, e.r.between(1, 3))
}

func (e *enc) url() {
	e.b = append(e.b, "https://"...)
	e.b = append(e.b, zipf(&e.r, hosts)...)
	e.b = append(e.b, '/')
	e.b = append(e.b, zipf(&e.r, nouns)...)
	e.b = append(e.b, '/')
	e.b = append(e.b, zipf(&e.r, verbs)...)
	e.b = append(e.b, '-')
	e.b = append(e.b, zipf(&e.r, nouns)...)
	if e.r.chance(0.5) {
		e.b = append(e.b, "?q="...)
		e.b = strconv.AppendInt(e.b, int64(e.r.intn(1<<20)), 10)
	}
}

func (e *enc) website(int) {
	e.schema()
	e.times()
	e.open("url")
	e.url()
	e.shut()
	e.words("name", 2, 8)
	e.mechanism()
	e.refs("assets", cAssets, e.r.between(1, 2))
	e.num("interactions", e.r.intn(30))
}

func (e *enc) relationship(int) {
	e.schema()
	e.times()
	e.key("edges")
	e.b = append(e.b, `{"iterable":[`...)
	for i := range e.r.between(1, 4) {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = append(e.b, `{"asset":{"id":"`...)
		e.b = appendUID(e.b, e.id(cAssets))
		e.b = append(e.b, `"},"score":`...)
		e.b = strconv.AppendFloat(e.b, e.r.float(), 'f', 4, 64)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, "]}"...)
}

func (e *enc) activity(int) {
	e.schema()
	e.times()
	e.key("event")
	e.b = append(e.b, `{"asset":{"`...)
	e.b = append(e.b, pick(&e.r, []string{"asset_copied", "asset_created", "asset_updated", "asset_shared", "asset_viewed", "asset_searched"})...)
	e.b = append(e.b, `":true}}`...)
	e.ref("application", cApplications)
	e.ref("asset", cAssets)
	e.mechanism()
	e.num("rank", e.r.intn(100))
}

func (e *enc) hint(int) {
	e.schema()
	e.times()
	e.mechanism()
	e.ref("asset", cAssets)
	e.str("type", pick(&e.r, []string{"SUGGESTED_QUERY", "QGPT_HINT", "FOLLOW_UP"}))
	e.open("text")
	at := len(e.b)
	e.b = append(e.b, pick(&e.r, []string{"how do I ", "why does ", "explain ", "what is ", "can you "})...)
	e.b = e.text().words(e.b, e.r.between(3, 10))
	e.b = capitalize(e.b, at)
	e.b = append(e.b, '?')
	e.shut()
}

func (e *enc) path() {
	e.b = append(e.b, pick(&e.r, []string{"/Users/dev/src/", "/home/dev/projects/", "C:\\\\Users\\\\dev\\\\code\\\\"})...)
	for range e.r.between(1, 4) {
		e.b = append(e.b, zipf(&e.r, nouns)...)
		e.b = append(e.b, '/')
	}
	l := zipf(&e.r, languages)
	e.b = append(e.b, zipf(&e.r, nouns)...)
	e.b = append(e.b, '.')
	e.b = append(e.b, l.ext...)
}

func (e *enc) anchor(int) {
	e.schema()
	e.times()
	e.str("type", pick(&e.r, []string{"FILE", "FILE", "DIRECTORY"}))
	e.boolean("watch", e.r.chance(0.2))
	e.open("name")
	e.b = append(e.b, zipf(&e.r, nouns)...)
	e.shut()
	e.refs("points", cAnchorPoints, e.r.between(1, 3))
	e.refs("assets", cAssets, e.r.between(0, 2))
}

func (e *enc) anchorPoint(int) {
	e.schema()
	e.times()
	e.boolean("verified", e.r.chance(0.8))
	e.open("fullpath")
	e.path()
	e.shut()
	e.str("platform", pick(&e.r, platforms))
	e.ref("anchor", cAnchors)
}

func (e *enc) workstreamEvent(payload int) {
	e.schema()
	e.times()
	e.ref("application", cApplications)
	e.key("trigger")
	e.b = append(e.b, `{"type":"`...)
	e.b = append(e.b, pick(&e.r, []string{"CLIPBOARD", "WINDOW_FOCUS", "TAB_CHANGE", "FILE_OPEN", "SCROLL"})...)
	e.b = append(e.b, `"}`...)
	e.key("context")
	e.b = append(e.b, `{"browser":{"url":"`...)
	e.url()
	e.b = append(e.b, `","title":"`...)
	at := len(e.b)
	e.b = e.text().words(e.b, e.r.between(3, 9))
	e.b = capitalize(e.b, at)
	e.b = append(e.b, `"}}`...)
	if payload > 0 {
		e.open("clipboard")
		if e.r.chance(0.5) {
			e.b = e.text().code(e.b, e.language(), payload)
		} else {
			e.b = e.text().prose(e.b, payload, false)
		}
		e.shut()
	}
}

func (e *enc) timeRange(int) {
	e.schema()
	e.times()
	e.time("from", e.created)
	e.time("to", e.created+int64(e.r.between(60, 8*3600))*1000)
	e.boolean("between", true)
	e.refs("summaries", cWorkstreamSummaries, e.r.between(0, 2))
}

func (e *enc) workstreamSummary(payload int) {
	e.schema()
	e.times()
	e.words("name", 3, 9)
	e.refs("events", cWorkstreamEvents, e.r.between(2, 10))
	e.refs("ranges", cRanges, 1)
	e.refs("annotations", cAnnotations, e.r.between(0, 2))
	e.open("summary")
	e.b = e.text().markdown(e.b, payload)
	e.shut()
}

func (e *enc) application(int) {
	e.schema()
	e.str("name", pick(&e.r, applications))
	e.open("version")
	e.b = strconv.AppendInt(e.b, int64(e.r.intn(5)), 10)
	e.b = append(e.b, '.')
	e.b = strconv.AppendInt(e.b, int64(e.r.intn(20)), 10)
	e.b = append(e.b, '.')
	e.b = strconv.AppendInt(e.b, int64(e.r.intn(40)), 10)
	e.shut()
	e.str("platform", pick(&e.r, platforms))
	e.boolean("onboarded", true)
	e.str("privacy", pick(&e.r, []string{"OPEN", "CLOSED", "ANONYMOUS"}))
	e.str("capabilities", pick(&e.r, []string{"BLENDED", "LOCAL", "CLOUD"}))
	e.mechanism()
	e.boolean("automaticUnload", false)
}

func (e *enc) model(int) {
	e.schema()
	e.times()
	e.str("name", pick(&e.r, modelNames))
	e.open("version")
	e.b = strconv.AppendInt(e.b, int64(2023+e.r.intn(4)), 10)
	e.b = append(e.b, "-0"...)
	e.b = strconv.AppendInt(e.b, int64(1+e.r.intn(9)), 10)
	e.shut()
	e.words("description", 8, 20)
	e.str("provider", pick(&e.r, providers))
	e.str("type", pick(&e.r, []string{"BALANCED", "SPEED", "ACCURACY"}))
	e.str("usage", "CHAT")
	e.boolean("cloud", e.r.chance(0.6))
	e.boolean("downloaded", e.r.chance(0.3))
	e.key("maxTokens")
	e.b = append(e.b, `{"total":`...)
	e.b = strconv.AppendInt(e.b, int64(4096<<e.r.intn(6)), 10)
	e.b = append(e.b, '}')
}

func (e *enc) patternSource(int) {
	e.schema()
	e.times()
	e.ref("application", cApplications)
	e.key("filter")
	e.b = append(e.b, `{"blocked":`...)
	e.b = strconv.AppendBool(e.b, e.r.chance(0.2))
	e.b = append(e.b, '}')
	e.open("readable")
	e.b = append(e.b, pick(&e.r, applications)...)
	e.shut()
}

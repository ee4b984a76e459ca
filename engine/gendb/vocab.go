package gendb

var languages = []string{"go", "py", "ts", "rs", "sql", "sh"}

// templates per language, in the order of languages: $ is an identifier, @ a type,
// # a number. A line ending in { or : opens a block, one ending in } closes it.
var templates = [][]string{
	{ // go
		"func $($ @, $ @) (@, error) {", "if err != nil {", "return nil, fmt.Errorf(\"$ %s: %w\", $, err)", "}",
		"$ := make([]@, 0, #)", "for _, $ := range $ {", "$ = append($, $)", "}", "$, err := $.$(ctx, $)",
		"defer $.Close()", "return $, nil", "}", "type $ struct {", "$ @ `json:\"$\"`", "}", "var $ = errors.New(\"$ $\")",
		"if $ == nil {", "$.mu.Lock()", "$.mu.Unlock()", "select {", "case <-ctx.Done():", "return ctx.Err()", "}",
		"// $ returns the $ of $ for the given $.", "log.Printf(\"$: %v\", $)", "$[$] = $ + #",
	},
	{ // python
		"def $($, $: @) -> @:", "if $ is None:", "return $", "for $ in $:", "$.append($)", "$ = {\"$\": $, \"$\": #}",
		"class $(@):", "def __init__(self, $: @):", "self.$ = $", "raise ValueError(f\"$ {$}\")", "with open($) as $:",
		"import $", "from $ import $, $", "$ = [$ for $ in $ if $]", "try:", "except @ as $:", "logger.info(\"$ %s\", $)",
		"    return self.$", "# $ the $ before $", "@$.$", "yield $", "assert $ == #",
	},
	{ // typescript
		"export function $($: @, $: @): @ {", "const $ = await $.$($);", "if (!$) {", "throw new Error(`$ ${$}`);", "}",
		"return { $, $: # };", "}", "interface $ {", "$: @;", "}", "const $: @[] = [];", "for (const $ of $) {",
		"$.push($);", "}", "import { $, $ } from '$';", "export default $;", "$.$ = ($) => $ + #;", "// $ $ $",
		"let $ = new Map<string, @>();", "console.log(`$: ${$}`);", "switch ($) {", "case '$':", "break;", "}",
	},
	{ // rust
		"pub fn $(&self, $: @) -> Result<@, Error> {", "let $ = $.$()?;", "if $.is_empty() {", "return Ok($);", "}",
		"for $ in $.iter() {", "$.push($.clone());", "}", "match $ {", "Some($) => $,", "None => return Err(Error::$),", "}",
		"impl $ for @ {", "}", "#[derive(Debug, Clone)]", "pub struct $ {", "$: @,", "}", "use $::{$, $};",
		"let mut $ = Vec::with_capacity(#);", "// $ the $", "Ok(())", "}",
	},
	{ // sql
		"SELECT $, $, $ FROM $", "WHERE $ = # AND $ IS NOT NULL", "ORDER BY $ DESC LIMIT #;", "INSERT INTO $ ($, $) VALUES ($, #);",
		"CREATE TABLE $ (", "$ @ NOT NULL,", "$ @ DEFAULT #,", "PRIMARY KEY ($)", ");", "UPDATE $ SET $ = $ WHERE $ = #;",
		"LEFT JOIN $ ON $.$ = $.$", "GROUP BY $ HAVING count(*) > #", "-- $ $ $", "CREATE INDEX $ ON $ ($);",
	},
	{ // shell
		"for $ in $; do", "echo \"$: ${$}\"", "done", "if [ -z \"$$\" ]; then", "exit #", "fi", "$=$(ls $ | wc -l)",
		"export $=\"$\"", "git $ $ --$", "docker run --rm -v $:/$ $", "cd $ && make $", "# $ $ $", "$() {", "}",
		"curl -fsSL https://$/$ | sh", "grep -r \"$\" $ | head -n #",
	},
}

var types = [][]string{
	{"string", "int", "[]byte", "error", "context.Context", "*Client", "map[string]int", "bool", "time.Duration", "io.Reader"},
	{"str", "int", "bytes", "dict", "list", "Optional[str]", "Exception", "Path", "float", "bool"},
	{"string", "number", "boolean", "Promise<void>", "Asset", "Record<string, number>", "unknown", "Format", "Date", "Buffer"},
	{"String", "u64", "Vec<u8>", "usize", "&str", "Option<String>", "HashMap<String, u32>", "bool", "Duration", "PathBuf"},
	{"TEXT", "INTEGER", "BIGINT", "TIMESTAMP", "BOOLEAN", "JSONB", "UUID", "VARCHAR(255)", "REAL", "BYTEA"},
	{"", "", "", "", "", "", "", "", "", ""},
}

var idents = []string{
	"asset", "format", "user", "client", "config", "request", "response", "result", "items", "index", "value", "key",
	"buffer", "reader", "writer", "snippet", "fragment", "tag", "website", "query", "cursor", "offset", "limit", "token",
	"session", "cache", "store", "handler", "router", "server", "path", "file", "name", "count", "total", "data",
	"payload", "message", "event", "stream", "chunk", "record", "batch", "worker", "queue", "retry", "timeout", "ctx",
	"db", "tx", "row", "rows", "column", "schema", "migration", "version", "model", "embedding", "vector", "score",
	"rank", "search", "filter", "sort", "page", "node", "edge", "graph", "tree", "parent", "child", "left", "right",
	"start", "end", "len", "size", "hash", "digest", "sum", "checksum", "encode", "decode", "parse", "render", "load",
	"save", "fetch", "update", "delete", "create", "list", "get", "set", "open", "close", "flush", "sync", "copy",
	"pieces", "copilot", "workstream", "anchor", "conversation", "annotation", "activity", "person", "range", "hint",
}

var words = []string{
	"the", "a", "this", "that", "function", "returns", "value", "when", "snippet", "is", "used", "to", "handle", "request",
	"and", "of", "in", "with", "for", "from", "error", "case", "database", "query", "should", "we", "can", "it", "will",
	"update", "cache", "before", "after", "each", "call", "server", "client", "token", "expires", "retry", "on",
	"failure", "code", "example", "shows", "how", "parse", "json", "response", "into", "struct", "fields", "using",
	"helper", "method", "test", "passes", "only", "if", "config", "loaded", "first", "then", "writes", "file", "disk",
	"stream", "reads", "chunks", "memory", "fast", "slow", "path", "users", "copied", "from", "stack", "overflow",
	"explains", "why", "loop", "breaks", "early", "missing", "null", "check", "causes", "panic", "production", "fix",
}

var applications = []string{"VS Code", "JetBrains", "Chrome", "Obsidian", "Pieces Desktop", "Jupyter", "Terminal", "Slack", "Teams"}
var hosts = []string{"github.com", "stackoverflow.com", "docs.python.org", "pkg.go.dev", "developer.mozilla.org", "docs.rs", "example.org"}
var firstNames = []string{"Ada", "Grace", "Linus", "Ken", "Barbara", "Margaret", "Dennis", "Radia", "Guido", "Rob", "Frances", "Edsger"}
var lastNames = []string{"Lovelace", "Hopper", "Torvalds", "Thompson", "Liskov", "Hamilton", "Ritchie", "Perlman", "Rossum", "Pike", "Allen", "Dijkstra"}

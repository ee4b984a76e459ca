package gendb

// The vocabularies below are ordered roughly by how often the words are used; zipf
// picks favour the front. Their sizes set how well the output compresses.

var nouns = []string{
	"value", "data", "result", "err", "item", "name", "key", "id", "config", "user", "ctx", "path", "file", "index",
	"count", "items", "req", "res", "buf", "line", "node", "client", "response", "request", "msg", "args", "opts",
	"conn", "db", "row", "rows", "query", "token", "cache", "size", "total", "list", "map", "entry", "text", "body",
	"url", "status", "state", "event", "handler", "server", "session", "store", "payload", "record", "batch", "chunk",
	"stream", "reader", "writer", "offset", "limit", "page", "cursor", "filter", "field", "column", "schema", "table",
	"version", "model", "asset", "snippet", "format", "fragment", "tag", "website", "person", "annotation", "anchor",
	"message", "conversation", "workstream", "embedding", "vector", "score", "rank", "search", "match", "pattern",
	"range", "start", "end", "left", "right", "parent", "child", "children", "tree", "graph", "edge", "hash", "digest",
	"timeout", "retry", "delay", "interval", "deadline", "worker", "queue", "job", "task", "tasks", "pool", "lock",
	"mutex", "channel", "signal", "logger", "metrics", "counter", "gauge", "span", "trace", "router", "route",
	"middleware", "auth", "account", "profile", "email", "password", "secret", "credentials", "permission", "role",
	"group", "team", "project", "workspace", "repo", "branch", "commit", "diff", "patch", "release", "build",
	"artifact", "image", "container", "volume", "mount", "port", "host", "address", "endpoint", "api", "service",
	"provider", "plugin", "extension", "module", "package", "dependency", "manifest", "lockfile", "template", "layout",
	"component", "props", "hook", "effect", "reducer", "action", "dispatch", "selector", "theme", "style", "color",
	"width", "height", "x", "y", "i", "j", "n", "k", "s", "b", "v", "t", "tmp", "out", "input", "output", "prev",
	"next", "head", "tail", "first", "last", "min", "max", "sum", "avg", "delta", "ratio", "weight", "bias",
	"tensor", "shape", "dtype", "device", "epoch", "loss", "optimizer", "dataset", "sample", "label", "features",
	"invoice", "order", "customer", "product", "price", "amount", "currency", "cart", "payment", "refund", "ledger",
	"date", "timestamp", "duration", "locale", "language", "encoding", "charset", "mime", "header", "cookie",
}

var verbs = []string{
	"get", "set", "new", "load", "save", "parse", "handle", "create", "update", "delete", "find", "make", "build",
	"read", "write", "open", "close", "fetch", "send", "process", "validate", "init", "run", "start", "stop", "add",
	"remove", "check", "is", "has", "to", "from", "with", "apply", "render", "format", "encode", "decode", "merge",
	"split", "sort", "filter", "map", "reduce", "compute", "resolve", "register", "emit", "dispatch", "sync", "flush",
	"reset", "clear", "copy", "clone", "compare", "normalize", "serialize", "deserialize", "marshal", "unmarshal",
	"connect", "retry", "schedule", "cancel", "wait", "notify", "subscribe", "publish", "index", "search", "rank",
	"upload", "download", "export", "import", "migrate", "backup", "restore", "compress", "hash", "sign", "verify",
}

var typeSuffixes = []string{
	"", "", "", "Service", "Client", "Handler", "Config", "Store", "Manager", "Error", "Request", "Response", "Options",
	"Builder", "Cache", "Provider", "Factory", "Repository", "Controller", "View", "Props", "State", "Event", "Result",
}

var words = []string{
	"the", "to", "a", "and", "of", "is", "in", "it", "you", "that", "this", "for", "with", "on", "be", "can", "if",
	"function", "as", "are", "use", "from", "we", "an", "not", "will", "or", "code", "by", "value", "data", "when",
	"should", "which", "returns", "so", "your", "file", "here", "then", "have", "error", "all", "one", "also", "new",
	"using", "at", "need", "each", "like", "some", "into", "make", "used", "method", "do", "there", "how", "example",
	"list", "first", "only", "call", "but", "object", "string", "type", "would", "what", "set", "time", "any", "class",
	"because", "way", "more", "just", "after", "other", "two", "user", "request", "test", "check", "about", "does",
	"instead", "up", "out", "before", "where", "without", "snippet", "name", "them", "it's", "its", "run", "case",
	"server", "create", "query", "database", "array", "key", "result", "variable", "response", "change", "add",
	"loop", "parameter", "default", "current", "same", "component", "config", "than", "version", "these", "may",
	"state", "line", "call", "get", "over", "was", "handle", "update", "must", "since", "both", "while", "still",
	"client", "field", "module", "return", "output", "input", "works", "following", "simple", "fix", "issue",
	"better", "different", "could", "well", "because", "inside", "between", "another", "write", "read", "once",
	"second", "true", "false", "null", "empty", "missing", "wrong", "correct", "given", "works", "expected",
	"actual", "async", "await", "promise", "callback", "thread", "memory", "cache", "performance", "faster",
	"slower", "large", "small", "small", "whole", "entire", "every", "many", "much", "most", "less", "least",
	"were", "been", "being", "had", "did", "done", "doing", "they", "their", "our", "us", "my", "me", "i",
	"think", "want", "try", "tried", "see", "look", "know", "find", "found", "show", "shows", "means", "mean",
	"keep", "kept", "let", "lets", "start", "stop", "open", "close", "save", "load", "send", "receive", "pass",
	"passed", "fails", "failed", "throws", "thrown", "catch", "caught", "log", "logs", "print", "prints",
	"project", "repository", "branch", "commit", "merge", "deploy", "build", "release", "production", "local",
	"environment", "variable", "path", "folder", "directory", "package", "dependency", "library", "framework",
	"api", "endpoint", "token", "header", "body", "status", "json", "yaml", "schema", "table", "column", "row",
	"index", "search", "filter", "sort", "page", "limit", "offset", "count", "total", "sum", "average", "number",
	"integer", "float", "boolean", "map", "dictionary", "set", "tuple", "struct", "interface", "pointer",
	"reference", "copy", "clone", "immutable", "mutable", "scope", "closure", "recursion", "iterator", "generator",
	"stream", "buffer", "chunk", "batch", "queue", "worker", "job", "task", "timeout", "retry", "backoff",
	"connection", "socket", "port", "host", "network", "request's", "user's", "team", "meeting", "review",
	"pull", "comment", "discussion", "docs", "documentation", "readme", "guide", "tutorial", "note", "notes",
	"yesterday", "today", "tomorrow", "week", "later", "soon", "now", "again", "already", "always", "never",
	"usually", "probably", "actually", "basically", "really", "quite", "very", "pretty", "fairly", "exactly",
}

var phrases = []string{
	"you can", "make sure", "for example", "in this case", "the following code", "this function", "if you want to",
	"you need to", "the same", "at the end of", "in order to", "instead of", "as well as", "on the other hand",
	"it looks like", "the problem is", "this means that", "by default", "at least", "is used to", "we can use",
	"the rest of", "one of the", "there is a", "you should", "it is", "this is", "that is", "so that", "such as",
	"based on", "depending on", "make it", "keep in mind", "note that", "first of all", "in the", "of the", "to the",
	"for the", "on the", "with the", "from the", "and the", "is the", "the code", "the function", "the value",
	"the file", "the user", "the request", "the response", "the data", "the error", "the server", "the client",
}

var techWords = []string{
	"React", "TypeScript", "Python", "Go", "Rust", "PostgreSQL", "Redis", "Docker", "Kubernetes", "GitHub", "VS Code",
	"Node.js", "FastAPI", "Django", "Flask", "Next.js", "Tailwind", "GraphQL", "gRPC", "Kafka", "AWS", "S3", "Lambda",
	"Terraform", "Jest", "pytest", "NumPy", "pandas", "PyTorch", "LangChain", "OpenAI", "Pieces", "Copilot", "JWT",
	"OAuth", "CORS", "HTTP", "REST", "SQL", "JSON", "YAML", "CSV", "UTF-8", "SQLite", "MongoDB", "Vite", "webpack",
}

var languages = []*language{
	compileLanguage(langSrc{
		name: "py", ext: "py", indent: "    ", snake: true, declP: 0.5,
		header: []string{"import {v}", "from {v} import {C}, {f}", "from typing import Optional, Any", "import os", "import json", "from {v}.{v} import {f}"},
		decls: []blockSrc{
			{open: "def {f}({v}, {v}: {t} = None) -> {t}:"},
			{open: "class {C}({C}):"},
			{open: "async def {f}(self, {v}: {t}) -> {t}:"},
			{open: "def __init__(self, {v}: {t}, {v}: {t}):"},
			{open: "@pytest.fixture\ndef {f}():"},
		},
		blocks: []blockSrc{
			{open: "if {v} is None:"}, {open: "for {v} in {v}:"}, {open: "with open({v}, \"r\") as {v}:"},
			{open: "if not {v}:"}, {open: "while {v} < {n}:"}, {open: "for {v}, {v} in {v}.items():"},
			{open: "try:"}, {open: "except {C} as exc:"}, {open: "elif {v} == \"{w}\":"},
		},
		stmts: []string{
			"{v} = {v}.{f}({v})", "return {v}", "{v}.append({v})", "self.{v} = {v}", "raise ValueError(f\"{s}: {{v}}\")",
			"logger.info(\"{s} %s\", {v})", "{v} = [{v} for {v} in {v} if {v}]", "{v} = {\"{v}\": {v}, \"{w}\": {n}}",
			"# {s}", "assert {v} == {n}", "yield {v}", "{v} += {n}", "{v} = await self.{f}({v})", "print(f\"{s} {{v}}\")",
			"{v} = json.loads({v})", "{v} = os.path.join({v}, \"{w}.json\")", "return {v}.get(\"{v}\", {n})", "continue",
			"{v} = {v}[{n}:]", "{v}, {v} = {v}.split(\"{w}\")", "self.{v}.{f}({v}, timeout={n})", "pass",
		},
		comment: "# {s}",
		types:   []string{"str", "int", "dict", "list", "bool", "Optional[str]", "Any", "float", "bytes", "Path", "list[str]", "dict[str, Any]"},
	}),
	compileLanguage(langSrc{
		name: "ts", ext: "ts", indent: "  ", declP: 0.45,
		header: []string{"import { {C}, {f} } from './{v}';", "import {v} from '{v}';", "import type { {C} } from '../{v}/{v}';", "import * as {v} from '{v}';"},
		decls: []blockSrc{
			{open: "export function {f}({v}: {t}, {v}?: {t}): {t} {", close: "}"},
			{open: "export class {C} {", close: "}"},
			{open: "export async function {f}({v}: {t}): Promise<{t}> {", close: "}"},
			{open: "export interface {C} {", close: "}", body: []string{"{v}: {t};", "{v}?: {t};", "readonly {v}: {t};", "{f}({v}: {t}): void;"}},
			{open: "const {f} = async ({v}: {t}) => {", close: "};"},
			{open: "describe('{s}', () => {", close: "});"},
		},
		blocks: []blockSrc{
			{open: "if (!{v}) {", close: "}"}, {open: "for (const {v} of {v}) {", close: "}"},
			{open: "{v}.forEach(({v}) => {", close: "});"}, {open: "if ({v}.length > {n}) {", close: "}"},
			{open: "try {", close: "} catch (err) {"}, {open: "it('{s}', async () => {", close: "});"},
			{open: "switch ({v}.{v}) {", close: "}"},
		},
		stmts: []string{
			"const {v} = await {v}.{f}({v});", "throw new Error(`{s} ${{v}}`);", "return { {v}, {v}: {n} };",
			"{v}.push({v});", "let {v}: {t} = {n};", "console.log(`{s}: ${{v}}`);", "// {s}", "this.{v} = {v};",
			"const {v} = new Map<string, {t}>();", "expect({v}).toEqual({n});", "return {v}.filter(({v}) => {v}.{v} !== {n});",
			"const [{v}, {f}] = useState<{t}>({n});", "await {v}.{f}({ {v}, {v} });", "break;", "return null;",
			"const {v} = {v}?.{v} ?? '{w}';", "{v}.set({v}.id, {v});", "if ({v} === undefined) return;",
		},
		comment: "// {s}",
		types:   []string{"string", "number", "boolean", "Promise<void>", "unknown", "Record<string, number>", "string[]", "Date", "any", "{C}", "{C}[]"},
	}),
	compileLanguage(langSrc{
		name: "go", ext: "go", indent: "\t", declP: 0.55,
		header: []string{"package {v}", "import \"{v}\"", "import (\n\t\"context\"\n\t\"fmt\"\n)", "import \"github.com/{v}/{v}\""},
		decls: []blockSrc{
			{open: "func {F}(ctx context.Context, {v} {t}) ({t}, error) {", close: "}"},
			{open: "func ({v} *{C}) {F}({v} {t}, {v} {t}) error {", close: "}"},
			{open: "type {C} struct {", close: "}", body: []string{"{F} {t} `json:\"{v}\"`", "{v} {t}", "{v}, {v} {t}", "mu sync.Mutex"}},
			{open: "func Test{F}(t *testing.T) {", close: "}"},
			{open: "var (", close: ")", body: []string{"{v} = {n}", "Err{F} = errors.New(\"{s}\")", "{v} = map[string]{t}{}"}},
		},
		blocks: []blockSrc{
			{open: "if err != nil {", close: "}"}, {open: "for _, {v} := range {v} {", close: "}"},
			{open: "if {v} == nil {", close: "}"}, {open: "for i := 0; i < {n}; i++ {", close: "}"},
			{open: "go func() {", close: "}()"}, {open: "select {", close: "}"}, {open: "switch {v}.{F} {", close: "}"},
			{open: "if {v}, ok := {v}[{v}]; ok {", close: "}"},
		},
		stmts: []string{
			"{v}, err := {v}.{F}(ctx, {v})", "return nil, fmt.Errorf(\"{s}: %w\", err)", "{v} := make([]{t}, 0, {n})",
			"{v} = append({v}, {v})", "defer {v}.Close()", "{v}.mu.Lock()", "defer {v}.mu.Unlock()", "return {v}, nil",
			"log.Printf(\"{s}: %v\", {v})", "{v}[{v}] = {v} + {n}", "// {s}", "{v} := &{C}{{F}: {v}, {F}: {n}}",
			"ctx, cancel := context.WithTimeout(ctx, {n}*time.Second)", "defer cancel()", "return err",
			"{v} := strings.TrimSpace({v})", "t.Fatalf(\"{s}: got %v, want %v\", {v}, {v})", "case <-ctx.Done():",
			"return ctx.Err()", "{v}++", "continue", "if err := {v}.{F}({v}); err != nil {\n\treturn err\n}",
		},
		comment: "// {F} {s}.",
		types:   []string{"string", "int", "error", "[]byte", "bool", "int64", "*{C}", "map[string]int", "time.Duration", "io.Reader", "[]string", "context.Context", "float64", "uint64"},
	}),
	compileLanguage(langSrc{
		name: "js", ext: "js", indent: "  ", declP: 0.45,
		header: []string{"const {v} = require('{v}');", "import {v} from '{v}';", "'use strict';"},
		decls: []blockSrc{
			{open: "function {f}({v}, {v}) {", close: "}"},
			{open: "module.exports.{f} = async function ({v}) {", close: "};"},
			{open: "app.get('/{v}/:{v}', async (req, res) => {", close: "});"},
			{open: "const {f} = ({v}) => {", close: "};"},
		},
		blocks: []blockSrc{
			{open: "if (!{v}) {", close: "}"}, {open: "for (let i = 0; i < {v}.length; i++) {", close: "}"},
			{open: "{v}.then(({v}) => {", close: "});"}, {open: "try {", close: "} catch (e) {"},
		},
		stmts: []string{
			"const {v} = await {v}.{f}({v});", "return res.status({n}).json({ {v} });", "{v}.push({v}[i]);",
			"console.error('{s}', {v});", "// {s}", "let {v} = {n};", "{v} = {v}.map(({v}) => {v}.{v});",
			"document.querySelector('#{v}').addEventListener('click', {f});", "return {v};", "{v}.{v} = {v};",
		},
		comment: "// {s}",
		types:   []string{"Object"},
	}),
	compileLanguage(langSrc{
		name: "java", ext: "java", indent: "    ", declP: 0.5,
		header: []string{"package com.{v}.{v};", "import java.util.{C};", "import java.util.List;", "import org.springframework.{v}.{C};"},
		decls: []blockSrc{
			{open: "public class {C} {", close: "}"},
			{open: "public {t} {f}({t} {v}, {t} {v}) {", close: "}"},
			{open: "@Override\n    public String toString() {", close: "}"},
			{open: "private static {t} {f}({t} {v}) throws IOException {", close: "}"},
		},
		blocks: []blockSrc{
			{open: "if ({v} == null) {", close: "}"}, {open: "for ({t} {v} : {v}) {", close: "}"},
			{open: "while ({v}.hasNext()) {", close: "}"}, {open: "try {", close: "} catch (IOException e) {"},
		},
		stmts: []string{
			"{t} {v} = {v}.{f}({v});", "return {v};", "{v}.add({v});", "throw new IllegalArgumentException(\"{s}\");",
			"log.info(\"{s} {}\", {v});", "this.{v} = {v};", "// {s}", "private final {t} {v};", "{v}.put(\"{v}\", {n});",
			"return {v}.stream().filter({v} -> {v}.is{F}()).collect(Collectors.toList());", "{v}++;",
		},
		comment: "// {s}",
		types:   []string{"String", "int", "long", "List<String>", "Map<String, Integer>", "boolean", "Optional<{C}>", "byte[]", "{C}", "Instant"},
	}),
	compileLanguage(langSrc{
		name: "rs", ext: "rs", indent: "    ", snake: true, declP: 0.55,
		header: []string{"use std::{v}::{C};", "use crate::{v}::{{C}, {C}};", "use serde::{Deserialize, Serialize};", "mod {v};"},
		decls: []blockSrc{
			{open: "pub fn {f}(&self, {v}: {t}) -> Result<{t}, Error> {", close: "}"},
			{open: "impl {C} {", close: "}"},
			{open: "#[derive(Debug, Clone, Serialize, Deserialize)]\npub struct {C} {", close: "}", body: []string{"pub {v}: {t},", "{v}: {t},", "#[serde(default)]"}},
			{open: "fn {f}({v}: &{t}) -> Option<{t}> {", close: "}"},
			{open: "#[test]\nfn {f}() {", close: "}"},
		},
		blocks: []blockSrc{
			{open: "if {v}.is_empty() {", close: "}"}, {open: "for {v} in {v}.iter() {", close: "}"},
			{open: "match {v} {", close: "}"}, {open: "while let Some({v}) = {v}.next() {", close: "}"},
			{open: "if let Err(e) = {v}.{f}() {", close: "}"},
		},
		stmts: []string{
			"let {v} = {v}.{f}()?;", "let mut {v} = Vec::with_capacity({n});", "{v}.push({v}.clone());", "return Ok({v});",
			"// {s}", "println!(\"{s}: {:?}\", {v});", "Ok(())", "Some({v}) => {v},", "None => return Err(Error::{C}),",
			"let {v}: {t} = {v}.into();", "assert_eq!({v}, {n});", "{v} += {n};", "self.{v}.insert({v}, {v});",
		},
		comment: "/// {s}",
		types:   []string{"String", "u64", "Vec<u8>", "usize", "&str", "Option<String>", "bool", "HashMap<String, u32>", "i32", "{C}", "PathBuf"},
	}),
	compileLanguage(langSrc{
		name: "sql", ext: "sql", indent: "  ", snake: true, declP: 0.3,
		decls: []blockSrc{
			{open: "CREATE TABLE {v}_{v} (", close: ");", body: []string{"{v} {t} NOT NULL,", "{v}_id {t} REFERENCES {v}(id),", "{v} {t} DEFAULT {n},", "created_at TIMESTAMP NOT NULL DEFAULT now(),", "id UUID PRIMARY KEY,"}},
			{open: "WITH {v} AS (", close: ")", body: []string{"SELECT {v}, count(*) AS {v}", "FROM {v}", "WHERE {v} > {n}", "GROUP BY {v}"}},
		},
		stmts: []string{
			"SELECT {v}.{v}, {v}.{v}, count(*) AS {v}", "FROM {v} {v}", "JOIN {v} ON {v}.{v}_id = {v}.id",
			"WHERE {v}.{v} = {n} AND {v} IS NOT NULL", "GROUP BY {v}", "ORDER BY {v} DESC", "LIMIT {n};",
			"INSERT INTO {v} ({v}, {v}) VALUES ('{s}', {n});", "UPDATE {v} SET {v} = {n} WHERE id = {n};",
			"CREATE INDEX idx_{v}_{v} ON {v} ({v});", "-- {s}", "DELETE FROM {v} WHERE {v} < now() - interval '{n} days';",
		},
		comment: "-- {s}",
		types:   []string{"TEXT", "INTEGER", "BIGINT", "TIMESTAMP", "BOOLEAN", "JSONB", "UUID", "VARCHAR(255)", "NUMERIC(10, 2)"},
	}),
	compileLanguage(langSrc{
		name: "sh", ext: "sh", indent: "  ", snake: true, declP: 0.25,
		header: []string{"#!/usr/bin/env bash", "set -euo pipefail", "source \"$(dirname \"$0\")/{v}.sh\""},
		decls:  []blockSrc{{open: "{f}() {", close: "}"}},
		blocks: []blockSrc{
			{open: "if [ -z \"${v}\" ]; then", close: "fi"}, {open: "for {v} in {v}/*; do", close: "done"},
			{open: "while read -r {v}; do", close: "done < \"${v}\""}, {open: "if [[ \"${v}\" == \"{w}\" ]]; then", close: "fi"},
		},
		stmts: []string{
			"echo \"{s}: ${v}\"", "{v}=\"$({v} --{v} {v})\"", "export {v}_{v}=\"{n}\"", "git {v} --{v} {v}",
			"curl -fsSL \"https://{v}.example.com/{v}\" -o \"{v}.tar.gz\"", "mkdir -p \"${v}/{v}\"", "cd \"${v}\" || exit {n}",
			"docker run --rm -v \"$PWD\":/{v} {v}:{n}", "# {s}", "local {v}=\"$1\"", "grep -rn \"{v}\" {v} | head -n {n}",
			"kubectl get {v} -n {v} -o yaml", "npm run {v}", "rm -rf \"${v}\"", "exit {n}",
		},
		comment: "# {s}",
		types:   []string{""},
	}),
	compileLanguage(langSrc{
		name: "yaml", ext: "yaml", indent: "  ", snake: true, declP: 0.6,
		decls: []blockSrc{
			{open: "{v}:"}, {open: "- name: {s}"},
			{open: "{v}:", body: []string{"{v}: {n}", "{v}: \"{s}\"", "- {v}", "{v}: ${{ {v}.{v} }}", "run: {v} {v} --{v}"}},
		},
		blocks:  []blockSrc{{open: "{v}:"}, {open: "- {v}:"}},
		stmts:   []string{"{v}: {n}", "{v}: {v}", "{v}: \"{s}\"", "- {v}", "# {s}", "{v}: true", "image: {v}/{v}:{n}"},
		comment: "# {s}",
		types:   []string{""},
	}),
}

var applications = []string{"VS_CODE", "JETBRAINS", "CHROME", "OBSIDIAN", "PIECES_FOR_DEVELOPERS", "JUPYTER_HUB", "TERMINAL", "SLACK", "MICROSOFT_TEAMS", "NEOVIM"}
var platforms = []string{"MACOS", "WINDOWS", "LINUX"}
var hosts = []string{"github.com", "stackoverflow.com", "docs.python.org", "pkg.go.dev", "developer.mozilla.org", "docs.rs", "react.dev", "medium.com", "dev.to", "learn.microsoft.com"}
var firstNames = []string{"Ada", "Grace", "Linus", "Ken", "Barbara", "Margaret", "Dennis", "Radia", "Guido", "Rob", "Frances", "Edsger", "Anita", "Alan", "Katherine", "Tim", "Sophie", "Yukihiro", "Hedy", "Donald"}
var lastNames = []string{"Lovelace", "Hopper", "Torvalds", "Thompson", "Liskov", "Hamilton", "Ritchie", "Perlman", "Rossum", "Pike", "Allen", "Dijkstra", "Borg", "Turing", "Johnson", "Berners-Lee", "Wilson", "Matsumoto", "Lamarr", "Knuth"}
var modelNames = []string{"GPT-4o", "GPT-4o Mini", "Claude 3.5 Sonnet", "Claude 3 Haiku", "Gemini 1.5 Pro", "Llama 3 8B", "Phi-3 Mini", "Mistral 7B", "Granite 8B", "Gemma 2 9B"}
var providers = []string{"OPEN_AI", "ANTHROPIC", "GOOGLE", "META", "MICROSOFT", "MISTRAL", "IBM"}

// The API client and the small helpers every view shares.

// APIError is a failed call, worded as the API worded it.
export class APIError extends Error {
	constructor(status, message, reason) {
		super(message);
		this.status = status;
		this.reason = reason || "";
	}
}

// api calls an endpoint of this service and returns its JSON answer (null for 204).
// A JSON error body becomes an APIError with its message.
export async function api(path, opts = {}) {
	const init = { method: opts.method || "GET", headers: { Accept: "application/json" } };
	if ("body" in opts) {
		init.body = JSON.stringify(opts.body);
		init.headers["Content-Type"] = "application/json";
	}
	let res;
	try {
		res = await fetch(path, init);
	} catch (e) {
		throw new APIError(0, `cairn is not reachable (${e.message})`, "");
	}
	if (res.status === 204) return null;
	const text = await res.text();
	let value;
	try {
		value = text ? JSON.parse(text) : null;
	} catch {
		value = undefined;
	}
	if (!res.ok) {
		const msg = value && typeof value.message === "string" ? value.message : text || res.statusText;
		throw new APIError(res.status, msg, value && typeof value.error === "string" ? value.error : res.statusText);
	}
	if (value === undefined) throw new APIError(res.status, `the answer of ${path} is not JSON`, "");
	return value;
}

// q builds a query string from the defined values of params.
export function q(params) {
	const u = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, String(v));
	const s = u.toString();
	return s ? "?" + s : "";
}

// h makes an element: attributes (on* become listeners) and children (text is never HTML).
export function h(tag, attrs, ...kids) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
		else if (k === "class") el.className = v;
		else if (k === "value") el.value = v;
		else el.setAttribute(k, v === true ? "" : String(v));
	}
	return add(el, ...kids);
}

// add appends children to el: nested arrays are flattened, null, undefined and false
// are left out, and text is never HTML.
export function add(el, ...kids) {
	for (const kid of kids.flat(Infinity)) {
		if (kid === undefined || kid === null || kid === false) continue;
		el.append(kid instanceof Node ? kid : String(kid));
	}
	return el;
}

// fill replaces el's children, as add appends them.
export function fill(el, ...kids) {
	el.replaceChildren();
	return add(el, ...kids);
}

// link is an anchor to a view.
export function link(href, text, attrs = {}) {
	return h("a", { href, ...attrs }, text);
}

// route makes a hash for a view: path segments, escaped, and a query.
export function route(segments, params = {}) {
	return "#/" + segments.map(encodeURIComponent).join("/") + q(params);
}

const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(n) {
	if (typeof n !== "number" || !isFinite(n)) return "–";
	let i = 0;
	let v = n;
	while (Math.abs(v) >= 1024 && i < units.length - 1) {
		v /= 1024;
		i++;
	}
	return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : 1)) + " " + units[i];
}

export function ratio(x) {
	return typeof x === "number" && x > 0 ? x.toFixed(2) + "×" : "–";
}

export function when(t) {
	if (!t) return "–";
	const d = new Date(t);
	if (isNaN(d)) return String(t);
	return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function duration(ms) {
	if (typeof ms !== "number") return "–";
	if (ms < 1000) return ms + " ms";
	if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
	return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
}

// table makes a table from a header row and rows of cells, in a scrolling box.
export function table(label, head, rows, attrs = {}) {
	return h("div", { class: "scroll" },
		h("table", { "aria-label": label, ...attrs },
			h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
			h("tbody", {}, rows)));
}

// snapshotLabel names a snapshot for people: its time and id.
export function snapshotLabel(sn) {
	return `${when(sn.time)} · ${sn.id}`;
}

// A record's history: find records by id or text across every snapshot, see their
// versions, and restore one or a chosen set into the live database.
import { add, api, bytes, fill, h, link, q, route, table, when } from "./api.js";
import { restoreRecords } from "./jobs.js";

export async function history(main, params, refresh) {
	const text = params.get("q") || "";
	const input = h("input", { type: "search", id: "find-text", value: text, placeholder: "id or text", "aria-label": "Find records by id or text in every snapshot" });
	const form = h("form", { class: "search", role: "search", onsubmit: (e) => {
		e.preventDefault();
		location.hash = route(["history"], { q: input.value.trim() });
	} }, input, h("button", { type: "submit" }, "Find"));
	const out = h("div", { id: "found" });
	fill(main, h("h1", { tabindex: "-1" }, "Record history"),
		h("p", {}, "Find a record in every snapshot, see when it was added, changed and removed, and bring it back without rolling the database back."),
		form, out);
	if (!text) return;
	const found = await api("/cairn/v1/find" + q({ q: text }));
	if (found.records.length === 0) {
		add(out, h("p", {}, `No record matches “${text}” in any snapshot.`));
		return;
	}
	const boxes = [];
	const rows = found.records.map((r) => {
		const box = h("input", { type: "checkbox", "aria-label": `Choose ${r.collection}/${r.id}`, "data-record": `${r.collection}/${r.id}` });
		boxes.push([box, r]);
		return h("tr", {},
			h("td", {}, box), h("td", {}, r.collection),
			h("td", {}, link(route(["history", r.collection, r.id]), r.id, { class: "log-link" })),
			h("td", {}, r.first), h("td", {}, r.last), h("td", { class: "num" }, String(r.snapshots.length)));
	});
	const restore = h("button", { type: "button", id: "restore-chosen", onclick: () => {
		const chosen = boxes.filter(([b]) => b.checked).map(([, r]) => ({ collection: r.collection, id: r.id, snapshot: r.last }));
		restoreRecords(chosen, refresh);
	} }, "Restore the chosen records (from the last snapshot that has each)");
	add(out, table("Records found", ["", "Collection", "Id", "First snapshot", "Last snapshot", "Snapshots"], rows, { id: "find-table" }),
		found.truncated ? h("p", { class: "warn" }, "More records match than are listed: narrow the search.") : null,
		h("div", { class: "buttons" }, restore));
}

// recordLog shows one record's versions across the snapshots.
export async function recordLog(main, _params, refresh, coll, rid) {
	const log = await api("/cairn/v1/log" + q({ collection: coll, id: rid }));
	const rows = log.versions.map((v) => h("tr", { class: "change-" + v.change, "data-snapshot": v.snapshot },
		h("td", {}, when(v.time), h("div", { class: "id" }, v.snapshot)),
		h("td", {}, v.change),
		h("td", { class: "num" }, v.change === "removed" ? "–" : bytes(v.bytes)),
		h("td", { class: "id" }, v.hash ? String(v.hash).slice(0, 12) : ""),
		h("td", { class: "actions" }, v.change === "removed" ? null : [
			link(route(["snapshot", v.snapshot, "record", coll, rid]), "View"),
			h("button", { type: "button", class: "restore-version", onclick: () => restoreRecords([{ collection: coll, id: rid, snapshot: v.snapshot }], refresh) }, "Restore this version")])));
	fill(main, h("h1", { tabindex: "-1" }, `History of ${coll}/${rid}`),
		h("p", {}, link(route(["history"], { q: rid }), "Find other records")),
		table("Versions, oldest first", ["Snapshot", "Change", "Size", "Hash", "Actions"], rows, { id: "log-table" }));
}

// The snapshot list, one snapshot's records, and one record.
import { add, api, bytes, fill, h, link, q, route, snapshotLabel, table, when } from "./api.js";
import { forgetSnapshot, restoreRecords, restoreSnapshot } from "./jobs.js";

async function snapshotByID(id) {
	const { snapshots } = await api("/cairn/v1/snapshots");
	const sn = snapshots.find((s) => s.id === id);
	if (!sn) throw new Error(`no snapshot ${id} in the repository`);
	return { sn, snapshots };
}

export async function snapshotList(main, _params, refresh) {
	const { snapshots } = await api("/cairn/v1/snapshots");
	const rows = snapshots.slice().reverse().map((sn, i, all) => {
		const prev = all[i + 1];
		return h("tr", { "data-snapshot": sn.id },
			h("td", {}, link(route(["snapshot", sn.id]), when(sn.time), { class: "open-snapshot" }), h("div", { class: "id" }, sn.id)),
			h("td", {}, sn.device), h("td", {}, sn.kind), h("td", {}, sn.tags.join(", ") || "–"),
			h("td", { class: "num" }, bytes(sn.raw_bytes)), h("td", { class: "num" }, bytes(sn.new_raw_bytes)),
			h("td", { class: "num" }, String(sn.records)),
			h("td", { class: "actions" },
				prev ? link(route(["compare"], { from: prev.id, to: sn.id }), "Compare with previous") : null,
				h("button", { type: "button", class: "restore", onclick: () => restoreSnapshot(sn, refresh) }, "Restore"),
				h("button", { type: "button", class: "forget danger", onclick: () => forgetSnapshot(sn, refresh) }, "Forget")));
	});
	fill(main, h("h1", { tabindex: "-1" }, "Snapshots"),
		snapshots.length === 0 ? h("p", {}, "No snapshots yet.") :
			table("Snapshots, newest first", ["Time", "Device", "Kind", "Tags", "Size", "New", "Records", "Actions"], rows, { id: "snapshot-table" }));
}

// snapshotView shows a snapshot's collections and its records matching a search.
export async function snapshotView(main, params, refresh, id) {
	const { sn } = await snapshotByID(id);
	const text = params.get("q") || "";
	const coll = params.get("c") || "";
	const input = h("input", { type: "search", id: "record-search", name: "q", value: text, placeholder: "id or text", "aria-label": "Find records by id or text" });
	const select = h("select", { id: "record-collection", "aria-label": "Collection" },
		h("option", { value: "" }, "All collections"),
		sn.collections.map((c) => h("option", { value: c.name, selected: c.name === coll }, c.name)));
	const form = h("form", { class: "search", role: "search", onsubmit: (e) => {
		e.preventDefault();
		location.hash = route(["snapshot", sn.id], { q: input.value.trim(), c: select.value });
	} }, input, select, h("button", { type: "submit" }, "Find"));
	const results = h("div", { id: "records" });
	const cols = table("Collections", ["Collection", "Records", "Size"], sn.collections.map((c) =>
		h("tr", {}, h("td", {}, link(route(["snapshot", sn.id], { c: c.name }), c.name)), h("td", { class: "num" }, String(c.records)), h("td", { class: "num" }, bytes(c.bytes)))));
	fill(main,
		h("h1", { tabindex: "-1" }, `Snapshot ${when(sn.time)}`),
		h("p", { class: "id" }, sn.id, ` · ${sn.device} · ${sn.kind} · ${sn.records} records · ${bytes(sn.raw_bytes)}`),
		h("div", { class: "buttons" },
			h("button", { type: "button", class: "restore", onclick: () => restoreSnapshot(sn, refresh) }, "Restore this snapshot"),
			h("button", { type: "button", class: "danger forget", onclick: () => forgetSnapshot(sn, () => { location.hash = "#/snapshots"; }) }, "Forget")),
		h("h2", {}, "Collections"), cols,
		h("h2", {}, "Records"), form, results);
	await loadRecords(results, sn, text, coll, 0);
}

async function loadRecords(box, sn, text, coll, offset) {
	const page = await api("/cairn/v1/records" + q({ snapshot: sn.id, collection: coll, q: text, offset: offset || "", limit: 100 }));
	const rows = page.records.map((r) => h("tr", { "data-record": `${r.collection}/${r.id}` },
		h("td", {}, r.collection),
		h("td", {}, link(route(["snapshot", sn.id, "record", r.collection, r.id]), r.id, { class: "record-link" })),
		h("td", { class: "num" }, bytes(r.bytes)),
		h("td", { class: "preview" }, r.preview)));
	if (offset === 0) {
		fill(box, h("p", { id: "record-total" }, `${page.total} record${page.total === 1 ? "" : "s"}${text ? ` matching “${text}”` : ""}`),
			table("Records", ["Collection", "Id", "Size", "Preview"], rows, { id: "record-table" }));
	} else {
		add(box.querySelector("tbody"), rows);
	}
	box.querySelector(".more")?.remove();
	if (page.next_offset !== null && page.next_offset !== undefined) {
		const more = h("button", { type: "button", class: "more", onclick: async () => {
			more.disabled = true;
			await loadRecords(box, sn, text, coll, page.next_offset);
		} }, "More records");
		add(box, more);
	}
}

// recordView shows one record of a snapshot as formatted JSON.
export async function recordView(main, _params, refresh, id, collection, rid) {
	const [{ sn }, rec] = await Promise.all([snapshotByID(id), api("/cairn/v1/record" + q({ snapshot: id, collection, id: rid }))]);
	fill(main,
		h("h1", { tabindex: "-1" }, `${collection}/${rid}`),
		h("p", {}, "In snapshot ", link(route(["snapshot", sn.id]), snapshotLabel(sn))),
		h("div", { class: "buttons" },
			link(route(["history", collection, rid]), "History of this record", { class: "button" }),
			h("button", { type: "button", id: "restore-record", onclick: () => restoreRecords([{ collection, id: rid, snapshot: sn.id }], refresh) }, "Restore this record into the database")),
		h("pre", { id: "record-json", class: "json", tabindex: "0", "aria-label": "The record as JSON" }, JSON.stringify(rec, null, 2)));
}

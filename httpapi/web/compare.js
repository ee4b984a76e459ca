// Comparing two snapshots: records added, removed and changed per collection, and a
// changed record's fields side by side.
import { add, api, fill, h, link, q, route, table, when } from "./api.js";

function pick(id, label, snapshots, selected) {
	return h("label", {}, label + " ",
		h("select", { id, name: id }, snapshots.slice().reverse().map((sn) =>
			h("option", { value: sn.id, selected: sn.id === selected }, `${when(sn.time)} (${sn.id})`))));
}

function ids(title, list, cls, hrefOf) {
	return h("div", { class: "idlist " + cls },
		h("h4", {}, `${title} (${list.length})`),
		list.length === 0 ? h("p", { class: "none" }, "none") :
			h("ul", {}, list.map((id) => h("li", {}, link(hrefOf(id), id, { "data-id": id })))));
}

function value(v) {
	return v === undefined ? "" : JSON.stringify(v, null, 2);
}

export async function compare(main, params) {
	const { snapshots } = await api("/cairn/v1/snapshots");
	const n = snapshots.length;
	const from = params.get("from") || (n > 1 ? snapshots[n - 2].id : "");
	const to = params.get("to") || (n > 0 ? snapshots[n - 1].id : "");
	const fromSel = pick("compare-from", "From", snapshots, from);
	const toSel = pick("compare-to", "To", snapshots, to);
	const form = h("form", { class: "search", onsubmit: (e) => {
		e.preventDefault();
		location.hash = route(["compare"], { from: fromSel.querySelector("select").value, to: toSel.querySelector("select").value });
	} }, fromSel, toSel, h("button", { type: "submit", id: "compare-go" }, "Compare"));
	const out = h("div", { id: "diff" });
	fill(main, h("h1", { tabindex: "-1" }, "Compare snapshots"), form, out);
	if (n < 2 && !params.get("from")) {
		add(out, h("p", {}, "Two snapshots are needed to compare."));
		return;
	}
	if (!params.get("from")) return; // the user picks, then compares
	const coll = params.get("c");
	const rid = params.get("id");
	if (coll && rid) {
		await recordDiff(out, from, to, coll, rid);
		return;
	}
	const d = await api("/cairn/v1/diff" + q({ from, to }));
	const changedAny = d.collections.some((c) => c.added.length + c.removed.length + c.changed.length > 0);
	fill(out,
		changedAny ? null : h("p", {}, "No records differ."),
		d.collections.filter((c) => c.added.length + c.removed.length + c.changed.length > 0).map((c) =>
			h("section", { class: "collection-diff", "data-collection": c.name },
				h("h3", {}, c.name),
				h("div", { class: "idlists" },
					ids("Added", c.added, "added", (id) => route(["snapshot", to, "record", c.name, id])),
					ids("Removed", c.removed, "removed", (id) => route(["snapshot", from, "record", c.name, id])),
					ids("Changed", c.changed, "changed", (id) => route(["compare"], { from, to, c: c.name, id }))),
				c.truncated ? h("p", { class: "warn" }, "More records differ than are listed.") : null)));
}

async function recordDiff(out, from, to, coll, rid) {
	const d = await api("/cairn/v1/diff/record" + q({ from, to, collection: coll, id: rid }));
	const rows = d.fields.map((f) => h("tr", { class: f.changed ? "changed" : "", "data-field": f.name },
		h("th", { scope: "row" }, f.name, f.changed ? h("span", { class: "tag" }, " changed") : null),
		h("td", {}, h("pre", {}, value(f.before))),
		h("td", {}, h("pre", {}, value(f.after)))));
	fill(out,
		h("h2", {}, `${coll}/${rid}`),
		h("p", {}, link(route(["compare"], { from, to }), "Back to all differences"), " · ", link(route(["history", coll, rid]), "History of this record")),
		d.before === null ? h("p", {}, "Added in the later snapshot.") : null,
		d.after === null ? h("p", {}, "Removed in the later snapshot.") : null,
		table("Fields side by side", ["Field", "Before", "After"], rows, { id: "field-diff" }));
}

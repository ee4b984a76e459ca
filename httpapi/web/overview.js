// The overview: where the repository is, its health, its totals and its history.
import { api, bytes, duration, fill, h, link, ratio, route, when } from "./api.js";
import { lineChart } from "./chart.js";

function facts(rows) {
	return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function checkText(c) {
	if (!c) return "no check since the daemon started";
	const problems = c.errors === 1 ? "1 problem" : `${c.errors} problems`;
	return `${when(c.at)}: ${c.ok ? "no problems" : problems}${c.read_data ? " (data read)" : ""}`;
}

export async function overview(main) {
	const [ov, sched, list] = await Promise.all([api("/cairn/v1/overview"), api("/cairn/v1/schedule"), api("/cairn/v1/snapshots")]);
	const t = ov.totals;
	const snaps = list.snapshots;
	const last = ov.last_backup;
	const lastCheck = sched.last_check;
	const health = [
		["Last backup", last ? [link(route(["snapshot", last.id]), when(last.time)), ` (${bytes(last.raw_bytes)}, ${last.records} records)`] : "none yet"],
		["Last check", h("span", { class: lastCheck && !lastCheck.ok ? "bad" : "" }, checkText(lastCheck))],
		["Next backup", sched.enabled ? `${sched.next_run ? when(sched.next_run) : "not planned"} (${sched.plan})` : "no schedule (cairn serve --backup-every or --backup-at plans one)"],
	];
	if (sched.consecutive_failures > 0 && sched.last_error) {
		health.push(["Failing runs", h("span", { class: "bad" }, `${sched.consecutive_failures}: ${sched.last_error.error || "failed"}`)]);
	}
	const times = snaps.map((sn) => sn.time);
	fill(main,
		h("h1", { tabindex: "-1" }, "Overview"),
		h("div", { class: "cards" },
			h("section", { class: "card", "aria-labelledby": "ov-repo" }, h("h2", { id: "ov-repo" }, "Repository"),
				facts([["Location", h("code", { id: "ov-location" }, ov.location)],
					["Encryption", ov.encrypted ? "encrypted" : "not encrypted"],
					["Format", `version ${ov.format}, ${ov.compression || "uncompressed"}`],
					["Created", when(ov.created)]])),
			h("section", { class: "card", "aria-labelledby": "ov-health" }, h("h2", { id: "ov-health" }, "Health"), facts(health)),
			h("section", { class: "card", "aria-labelledby": "ov-totals" }, h("h2", { id: "ov-totals" }, "Totals"),
				facts([["Snapshots", String(t.snapshots)],
					["Raw", [bytes(t.raw_bytes), h("small", {}, " every snapshot restored")]],
					["Unique", `${bytes(t.unique_raw_bytes)} in ${t.chunks} chunks`],
					["Stored", bytes(t.stored_bytes)],
					["Dedup", h("span", { id: "ov-dedup" }, ratio(t.dedup_ratio))],
					["Compression", ratio(t.compression_ratio)],
					["Database", `${ov.database.records} records, ${bytes(ov.database.bytes)}`]]))),
		snaps.length === 0 ? h("p", {}, "No snapshots yet: back up now to make the first.") : h("div", { class: "charts" },
			lineChart({ id: "chart-size", title: "Size per snapshot", times, base: 1024, format: bytes,
				series: [{ name: "Raw size", cls: "s1", values: snaps.map((s) => s.raw_bytes) },
					{ name: "Bytes stored", cls: "s2", values: snaps.map((s) => s.stored_bytes) },
					{ name: "Bytes sent", cls: "s3", values: snaps.map((s) => s.bytes_sent) }] }),
			lineChart({ id: "chart-duration", title: "Backup duration", times, format: (v) => duration(Math.round(v)),
				series: [{ name: "Duration", cls: "s4", values: snaps.map((s) => s.duration_ms) }] })));
}

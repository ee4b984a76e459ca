// Backups and restores with live progress: the API's progress websocket
// (/backups/streamed/progress) sends a frame whenever a job starts, moves on or ends;
// the action's own request answers how it ended, or the API's error.
import { api, bytes, h } from "./api.js";
import { confirmDialog, notice, showError } from "./ui.js";

const ended = new Set(); // jobs whose end the page knows: their late frames are old news
let running = false;
let frames = 0;

function show(pct, text, state) {
	const bar = document.getElementById("job-progress");
	bar.value = Math.max(0, Math.min(100, pct));
	bar.dataset.state = state;
	document.getElementById("job-text").textContent = text;
}

function onFrame(data) {
	let f;
	try {
		f = JSON.parse(data);
	} catch {
		return;
	}
	const b = (f.backups || [])[0];
	const r = (f.restorations || [])[0];
	const [kind, fr] = b ? ["Backup", b] : r ? ["Restore", r] : [null, null];
	if (!fr || !fr.backup || ended.has(fr.backup.id)) return;
	frames++;
	document.getElementById("job-progress").dataset.frames = String(frames);
	const pct = typeof fr.percentage === "number" ? fr.percentage : 0;
	show(pct, `${kind} ${fr.backup.id}: ${fr.status} ${pct.toFixed(1)}%`, fr.status);
}

// watchProgress keeps a websocket to the progress stream open, reconnecting after a
// pause when it closes.
export function watchProgress() {
	const scheme = location.protocol === "https:" ? "wss" : "ws";
	let ws;
	try {
		ws = new WebSocket(`${scheme}://${location.host}/backups/streamed/progress`);
	} catch {
		setTimeout(watchProgress, 3000);
		return;
	}
	ws.addEventListener("message", (e) => onFrame(e.data));
	ws.addEventListener("close", () => setTimeout(watchProgress, 3000));
}

// runJob runs one action that starts a job, shows its end, and calls after on success.
async function runJob(kind, start, after) {
	if (running) return;
	running = true;
	const button = document.getElementById("backup-now");
	button.disabled = true;
	show(0, `${kind}: starting…`, "STARTING");
	try {
		const b = await start();
		ended.add(b.id);
		show(100, `${kind} ${b.id}: COMPLETED 100% (${bytes(b.bytes)})`, "COMPLETED");
		if (after) await after(b);
	} catch (e) {
		show(0, `${kind} failed.`, "FAILED");
		showError(e);
	} finally {
		running = false;
		button.disabled = false;
	}
}

export function backupNow(refresh) {
	return runJob("Backup", () => api("/backups/create", { method: "POST" }), refresh);
}

// restoreSnapshot asks, saying what the restore replaces, then restores sn into the
// live database.
export async function restoreSnapshot(sn, refresh) {
	let db = null;
	try {
		db = (await api("/cairn/v1/overview")).database;
	} catch {
		// the confirmation says less, the restore reports its own error
	}
	const merge = sn.kind === "assets";
	const cols = sn.collections.map((c) => `${c.name} (${c.records})`).join(", ");
	const body = merge
		? [h("p", {}, `The ${sn.records} records of snapshot ${sn.id} (${cols}) are merged into the live database: records with the same ids are replaced, every other record stays.`)]
		: [h("p", {}, `The live database${db ? ` (${db.records} records, ${bytes(db.bytes)})` : ""} is replaced by snapshot ${sn.id}: ${sn.records} records, ${bytes(sn.raw_bytes)} in ${cols || "no collections"}.`),
			h("p", { class: "warn" }, "Every record saved, changed or deleted since then goes back to how it was in the snapshot.")];
	if (!(await confirmDialog(`Restore snapshot ${sn.id}?`, body, merge ? "Merge into the database" : "Replace the database"))) return;
	await runJob("Restore", () => api(`/backup/${encodeURIComponent(sn.id)}/restore`, { method: "POST" }), async (b) => {
		notice(`Restored snapshot ${b.id} into the database.`);
		if (refresh) await refresh();
	});
}

// forgetSnapshot asks, then forgets sn.
export async function forgetSnapshot(sn, refresh) {
	const body = [h("p", {}, `Snapshot ${sn.id} (${sn.records} records, ${bytes(sn.raw_bytes)}) is removed from the repository. Data no other snapshot uses is deleted by the next prune. This cannot be undone.`)];
	if (!(await confirmDialog(`Forget snapshot ${sn.id}?`, body, "Forget"))) return;
	try {
		await api(`/backups/${encodeURIComponent(sn.id)}/delete`, { method: "POST" });
		notice(`Forgot snapshot ${sn.id}.`);
		if (refresh) await refresh();
	} catch (e) {
		showError(e);
	}
}

// restoreRecords asks, then merges records (each {collection, id, snapshot}) into the
// live database, one request per snapshot.
export async function restoreRecords(recs, refresh) {
	if (recs.length === 0) return;
	const body = [h("p", {}, `These ${recs.length} records are written into the live database as they were in the snapshot named; a record with the same id is replaced, every other record stays as it is.`),
		h("ul", { class: "plain" }, recs.map((r) => h("li", {}, `${r.collection}/${r.id} from ${r.snapshot}`)))];
	if (!(await confirmDialog(recs.length === 1 ? `Restore ${recs[0].collection}/${recs[0].id}?` : `Restore ${recs.length} records?`, body, "Restore into the database"))) return;
	const bySnapshot = new Map();
	for (const r of recs) {
		if (!bySnapshot.has(r.snapshot)) bySnapshot.set(r.snapshot, []);
		bySnapshot.get(r.snapshot).push({ collection: r.collection, id: r.id });
	}
	let n = 0;
	try {
		for (const [snapshot, records] of bySnapshot) {
			const out = await api("/cairn/v1/records/restore", { method: "POST", body: { snapshot, records } });
			n += (out.restored || []).length;
		}
		notice(`Restored ${n} record${n === 1 ? "" : "s"} into the database; every other record is as it was.`);
		if (refresh) await refresh();
	} catch (e) {
		if (n) notice(`Restored ${n} records before the error.`);
		showError(e);
	}
}

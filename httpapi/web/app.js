// The dashboard's entry: routes from the location's hash to a view, and the
// always-present back-up button and progress.
import { fill, h } from "./api.js";
import { compare } from "./compare.js";
import { history, recordLog } from "./history.js";
import { backupNow, watchProgress } from "./jobs.js";
import { overview } from "./overview.js";
import { recordView, snapshotList, snapshotView } from "./snapshots.js";
import { clearError, notice, showError } from "./ui.js";

// routes match the hash's path segments; each names its nav entry.
const routes = [
	{ match: (p) => p.length === 0 || (p.length === 1 && p[0] === "overview"), nav: "overview", view: (m, params, r) => overview(m, params, r) },
	{ match: (p) => p.length === 1 && p[0] === "snapshots", nav: "snapshots", view: (m, params, r) => snapshotList(m, params, r) },
	{ match: (p) => p.length === 2 && p[0] === "snapshot", nav: "snapshots", view: (m, params, r, p) => snapshotView(m, params, r, p[1]) },
	{ match: (p) => p.length === 5 && p[0] === "snapshot" && p[2] === "record", nav: "snapshots", view: (m, params, r, p) => recordView(m, params, r, p[1], p[3], p[4]) },
	{ match: (p) => p.length === 1 && p[0] === "compare", nav: "compare", view: (m, params) => compare(m, params) },
	{ match: (p) => p.length === 1 && p[0] === "history", nav: "history", view: (m, params, r) => history(m, params, r) },
	{ match: (p) => p.length === 3 && p[0] === "history", nav: "history", view: (m, params, r, p) => recordLog(m, params, r, p[1], p[2]) },
];

function parseHash() {
	const raw = location.hash.replace(/^#\/?/, "");
	const i = raw.indexOf("?");
	const path = (i < 0 ? raw : raw.slice(0, i)).split("/").filter((s) => s !== "");
	const params = new URLSearchParams(i < 0 ? "" : raw.slice(i + 1));
	try {
		return { path: path.map(decodeURIComponent), params };
	} catch {
		return { path: ["?"], params };
	}
}

let rendering = 0;

// render shows the view the hash names; a newer render wins over a slower older one.
async function render(keepMessages) {
	const mine = ++rendering;
	const { path, params } = parseHash();
	const r = routes.find((x) => x.match(path));
	if (!keepMessages) {
		clearError();
		notice("");
	}
	for (const a of document.querySelectorAll("nav a")) {
		if (r && a.dataset.view === r.nav) a.setAttribute("aria-current", "page");
		else a.removeAttribute("aria-current");
	}
	const main = h("main", { id: "main", tabindex: "-1", "aria-busy": "true" }, h("p", { class: "loading" }, "Loading…"));
	document.getElementById("main").replaceWith(main);
	try {
		if (!r) throw new Error(`no such view: ${location.hash}`);
		await r.view(main, params, () => (mine === rendering ? render(true) : null), path);
	} catch (e) {
		if (mine !== rendering) return;
		fill(main, h("h1", { tabindex: "-1" }, "Something went wrong"), h("p", {}, "The view could not be shown; the error is above."));
		showError(e);
	}
	if (mine !== rendering) return;
	main.removeAttribute("aria-busy");
	main.dataset.ready = "true";
	if (!keepMessages) main.querySelector("h1")?.focus({ preventScroll: true });
}

document.getElementById("backup-now").addEventListener("click", () => backupNow(() => render(true)));
window.addEventListener("hashchange", () => render(false));
watchProgress();
render(false);

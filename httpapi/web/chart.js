// Line charts drawn as SVG by the page itself.
import { h, when } from "./api.js";

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs, ...kids) {
	const el = document.createElementNS(NS, tag);
	for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
	for (const kid of kids.flat()) if (kid !== undefined && kid !== null) el.append(kid instanceof Node ? kid : String(kid));
	return el;
}

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten (of 1024 for bytes).
function niceMax(max, base) {
	if (!(max > 0)) return 1;
	let unit = 1;
	while (unit * base <= max) unit *= base;
	for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]) if (m * unit >= max) return m * unit;
	return max;
}

// lineChart plots series of values over the times of points (oldest first). series:
// [{name, cls, values}]; format writes a value; base is 1024 for bytes.
export function lineChart({ title, times, series, format, base = 10, id }) {
	const W = 640, H = 240, L = 72, R = 16, T = 16, B = 40;
	const n = times.length;
	const max = niceMax(Math.max(0, ...series.flatMap((x) => x.values)), base);
	const x = (i) => (n <= 1 ? L + (W - L - R) / 2 : L + (i * (W - L - R)) / (n - 1));
	const y = (v) => T + (H - T - B) * (1 - v / max);
	const grid = [];
	for (let k = 0; k <= 4; k++) {
		const v = (max * k) / 4;
		grid.push(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
		grid.push(s("text", { x: L - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, format(v)));
	}
	if (n > 0) {
		grid.push(s("text", { x: x(0), y: H - 14, class: "tick", "text-anchor": n <= 1 ? "middle" : "start" }, when(times[0])));
		if (n > 1) grid.push(s("text", { x: x(n - 1), y: H - 14, class: "tick", "text-anchor": "end" }, when(times[n - 1])));
	}
	const lines = series.map((se) => {
		const pts = se.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
		return s("g", { class: "series " + se.cls },
			n > 1 ? s("polyline", { points: pts, fill: "none" }) : null,
			se.values.map((v, i) => s("circle", { cx: x(i), cy: y(v), r: 3.5 }, s("title", {}, `${se.name}: ${format(v)} (${when(times[i])})`))));
	});
	const summary = `${title}: ${n} snapshots; ` + series.map((se) => `${se.name} last ${n ? format(se.values[n - 1]) : "–"}, highest ${format(Math.max(0, ...se.values))}`).join("; ");
	const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary, class: "chart", preserveAspectRatio: "xMidYMid meet" },
		s("title", {}, summary),
		s("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }),
		s("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }),
		grid, lines);
	return h("figure", { class: "chart-box", id },
		h("figcaption", {}, title),
		svg,
		h("ul", { class: "legend" }, series.map((se) => h("li", {}, h("span", { class: "swatch " + se.cls, "aria-hidden": "true" }), se.name))));
}

// Messages, errors and the confirmation dialog.
import { fill, h } from "./api.js";

export function showError(err) {
	const box = document.getElementById("error");
	const status = err && err.status ? ` (${err.status}${err.reason ? " " + err.reason : ""})` : "";
	fill(box,
		h("strong", {}, "Error: "),
		h("span", { class: "error-message" }, (err && err.message) || String(err)),
		status,
		h("button", { type: "button", class: "link", onclick: clearError, "aria-label": "Dismiss the error" }, "Dismiss"));
	box.hidden = false;
}

export function clearError() {
	const box = document.getElementById("error");
	box.hidden = true;
	box.replaceChildren();
}

export function notice(text) {
	const box = document.getElementById("notice");
	box.textContent = text;
	box.hidden = !text;
}

// confirmDialog asks before a change; it resolves true when the user confirms. Cancel
// has the focus, and Escape cancels.
export function confirmDialog(title, body, confirmLabel) {
	return new Promise((resolve) => {
		let answered = false;
		const done = (yes) => {
			if (answered) return;
			answered = true;
			dlg.close();
			dlg.remove();
			resolve(yes);
		};
		const cancel = h("button", { type: "button", id: "confirm-cancel", onclick: () => done(false) }, "Cancel");
		const dlg = h("dialog", { id: "confirm", "aria-labelledby": "confirm-title" },
			h("h2", { id: "confirm-title" }, title),
			h("div", { class: "confirm-body" }, body),
			h("div", { class: "buttons" }, cancel,
				h("button", { type: "button", id: "confirm-ok", class: "danger", onclick: () => done(true) }, confirmLabel)));
		dlg.addEventListener("cancel", (e) => {
			e.preventDefault();
			done(false);
		});
		document.body.append(dlg);
		dlg.showModal();
		cancel.focus();
	});
}

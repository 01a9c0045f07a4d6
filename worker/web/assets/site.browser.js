// The pages' one script, a file of the registry's (the pages' CSP allows no inline script). Pages
// work without it; it only adds copy buttons to the install commands.

for (const button of document.querySelectorAll("button.copy[data-copy]")) {
	button.hidden = false;
	button.addEventListener("click", async () => {
		try {
			await navigator.clipboard.writeText(button.dataset.copy ?? "");
			button.textContent = "Copied";
		} catch {
			button.textContent = "Copy failed";
		}
		setTimeout(() => {
			button.textContent = "Copy";
		}, 2000);
	});
}

// What a channel form did (#24.4): the form answers with the package page and `?done=`, shown here
// as text. Only after one of the registry's own pages sent the form (a link from elsewhere could
// put any words there), and taken off the address so a reload does not say it again.
const url = new URL(location.href);
const done = url.searchParams.get("done");
if (done !== null) {
	url.searchParams.delete("done");
	history.replaceState(null, "", url);
	if (document.referrer.startsWith(`${location.origin}/`)) {
		const status = document.createElement("p");
		status.className = "done";
		status.setAttribute("role", "status");
		status.textContent = done;
		document.querySelector("main")?.prepend(status);
	}
}

// "Are you sure?" before a form moves `stable`, the channel pages load (#24.4): the form names
// the channel it moves (data-moves), or the field that names it (data-moves-field).
for (const form of document.querySelectorAll("form[data-moves], form[data-moves-field]")) {
	form.addEventListener("submit", (event) => {
		const field = form.dataset.movesField;
		const channel = field ? form.elements.namedItem(field)?.value : form.dataset.moves;
		if (channel !== "stable") return;
		const what = form.dataset.what ?? "move stable";
		if (!confirm(`Pages loading stable get the change at their next load. ${what}?`)) event.preventDefault();
	});
}

// "Are you sure?" before an admin page's form that cannot be undone (revoke, rotate, suspend,
// a second factor reset; #24.3): the form says what it does in data-confirm.
for (const form of document.querySelectorAll("form[data-confirm]")) {
	form.addEventListener("submit", (event) => {
		if (!confirm(form.dataset.confirm)) event.preventDefault();
	});
}

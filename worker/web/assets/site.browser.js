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

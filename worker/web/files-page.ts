import { contentTypeFor } from "../files/content-types";
import { versionBaseUri } from "../files/urls";
import { settleRead } from "../guards";
import { decodeParam } from "../http";
import { packageStub } from "../objects";
import { packageNameFromParams } from "../params";
import { html } from "./html";
import { packagePath, size } from "./package-page";
import { layout, pageResponse, webPage } from "./page";

// GET /package/{name}/v/{version}/files: the files of a version, as the registry indexed them at
// publish (#24.9). Each opens on a page of its own (file-view-page.ts): text escaped, images as
// images, the rest a download of its immutable URL (worker/files/serve.ts serves it safely).
// Names are the tarball's, shown escaped. Not kept in the read tier: a page asked for rarely.

const SHOWN = 2_000;

/** The page of one file of a version. */
export function filePagePath(name: string, version: string, path: string): string {
	return `${packagePath(name)}/v/${encodeURIComponent(version)}/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}

export const filesPage = webPage({ auth: "viewer", cache: "personal" }, async ({ request, env, who }) => {
	const pkg = packageNameFromParams(request.params);
	const version = decodeParam(request.params.version ?? "");
	const listed = settleRead(who.principal, pkg, await packageStub(env, pkg.name).fileList(version, SHOWN));
	const baseUri = await versionBaseUri(request, env, pkg.name, listed.version, listed.access);
	const title = `${pkg.name}@${listed.version}: files`;
	const body = html`<article aria-labelledby="files-title">
<h1 id="files-title"><a href="${packagePath(pkg.name)}/v/${encodeURIComponent(listed.version)}">${pkg.name}@${listed.version}</a>: files (${listed.total.toLocaleString("en-US")})</h1>
<p class="note">Each file opens on a page: text as text, images as images, anything else as a download. <a href="${baseUri}/package.json">package.json</a> at its immutable URL.</p>
<div class="scroll"><table class="files">
<thead><tr><th scope="col">Path</th><th scope="col">Type</th><th scope="col">Size</th></tr></thead>
<tbody>${listed.files.map(
		(file) =>
			html`<tr><th scope="row"><a href="${filePagePath(pkg.name, listed.version, file.path)}">${file.path}</a></th><td>${contentTypeFor(file.path).split(";")[0] ?? ""}</td><td>${size(file.size)}</td></tr>`,
	)}</tbody>
</table></div>
${listed.total > listed.files.length ? html`<p class="note">The first ${listed.files.length.toLocaleString("en-US")} of ${listed.total.toLocaleString("en-US")} files.</p>` : ""}
</article>`;
	return pageResponse(request, who, layout({ title, body }));
});

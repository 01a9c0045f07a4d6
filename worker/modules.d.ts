// Modules that wrangler.jsonc's `rules` bundle as text.
declare module "*.browser.js" {
	const source: string;
	export default source;
}

declare module "*.css" {
	const source: string;
	export default source;
}

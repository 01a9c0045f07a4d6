// Finer counters for tracing what requests cost (the proxy bench reads them, #25): object calls by
// method, and R2 reads by what they were for. This isolate's only, since it started; shown by
// GET /-/admin/metrics beside the read tier's counters. A Map lookup and an increment per call.

const methods = new Map<string, Map<string, number>>();
const r2Reads = new Map<string, number>();

export function recordObjectMethod(kind: string, method: string): void {
	let byMethod = methods.get(kind);
	if (!byMethod) {
		byMethod = new Map();
		methods.set(kind, byMethod);
	}
	byMethod.set(method, (byMethod.get(method) ?? 0) + 1);
}

export function recordR2Read(what: string): void {
	r2Reads.set(what, (r2Reads.get(what) ?? 0) + 1);
}

export function traceSnapshot() {
	return {
		objectMethods: Object.fromEntries([...methods].map(([kind, byMethod]) => [kind, Object.fromEntries(byMethod)])),
		r2Reads: Object.fromEntries(r2Reads),
	};
}

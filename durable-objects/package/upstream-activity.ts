import { noActivity, type UpstreamActivity } from "../../schema/upstream";
import { authStoreObject } from "../stubs";

// What this object did with each upstream, counted in memory (reads never write SQL for it) and
// sent to the AuthStoreDO, which sums every object's figures for GET /-/admin/upstream, on the
// object's alarm. Figures not yet sent are lost if the object is evicted first.

type Counter = Exclude<keyof UpstreamActivity, "lastError">;

export class UpstreamActivityLog {
	private readonly pending = new Map<string, UpstreamActivity>();

	get hasPending(): boolean {
		return this.pending.size > 0;
	}

	add(upstream: string, counter: Counter, amount = 1): void {
		if (amount === 0) return;
		const activity = this.of(upstream);
		activity[counter] += amount;
	}

	failed(upstream: string, message: string, name: string): void {
		const activity = this.of(upstream);
		activity.failures += 1;
		activity.lastError = { message, at: new Date().toISOString(), package: name };
	}

	/** Sends what is pending; what could not be sent waits for the next alarm. */
	async send(env: Env): Promise<void> {
		const batch = [...this.pending];
		this.pending.clear();
		const store = authStoreObject(env);
		for (const [upstream, activity] of batch) {
			try {
				await store.recordUpstreamActivity(upstream, activity);
			} catch (error) {
				console.error("could not send upstream figures; the next alarm retries", error);
				this.merge(upstream, activity);
			}
		}
	}

	private of(upstream: string): UpstreamActivity {
		let activity = this.pending.get(upstream);
		if (!activity) {
			activity = noActivity();
			this.pending.set(upstream, activity);
		}
		return activity;
	}

	private merge(upstream: string, activity: UpstreamActivity): void {
		const into = this.of(upstream);
		for (const counter of Object.keys(activity) as (keyof UpstreamActivity)[]) {
			if (counter === "lastError") into.lastError = into.lastError ?? activity.lastError;
			else into[counter] += activity[counter];
		}
	}
}

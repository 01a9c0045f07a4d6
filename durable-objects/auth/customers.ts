import type { CustomerRow } from "../../schema/auth/rows";

// Customers: named holders of customer keys (blk_); suspending one (active = 0) stops all its keys.

export class Customers {
	constructor(private readonly sql: SqlStorage) {}

	get(name: string): CustomerRow | null {
		return this.sql.exec<CustomerRow>(`SELECT * FROM customers WHERE name = ?`, name).toArray()[0] ?? null;
	}

	all(): CustomerRow[] {
		return this.sql.exec<CustomerRow>(`SELECT * FROM customers ORDER BY name`).toArray();
	}

	insert(name: string, now: string): void {
		this.sql.exec(`INSERT INTO customers (name, active, created_at) VALUES (?, 1, ?)`, name, now);
	}

	setActive(name: string, active: boolean): void {
		this.sql.exec(`UPDATE customers SET active = ? WHERE name = ?`, active ? 1 : 0, name);
	}
}

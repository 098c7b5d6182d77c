// An in-memory Accounts (the interface of src/accounts/principal.ts) for the API's tests: tokens,
// per-app grants, revocation, and the audit entries recorded.
import type { Accounts, AuditEntry, Permission, Principal } from "../../src/accounts/principal";

const RANK: Record<Permission, number> = { read: 0, operate: 1, own: 2 };

export class FakeAccounts implements Accounts {
    tokens = new Map<string, Principal>();
    /** app → user → the strongest permission granted. */
    grants = new Map<string, Map<string, Permission>>();
    entries: AuditEntry[] = [];

    addUser(user: string, token: string, admin = false): Principal {
        const p: Principal = { user, admin, via: "token" };
        this.tokens.set(token, p);
        return p;
    }
    grant(app: string, user: string, permission: Permission): void {
        const m = this.grants.get(app) ?? new Map<string, Permission>();
        m.set(user, permission);
        this.grants.set(app, m);
    }
    revoke(token: string): void {
        this.tokens.delete(token);
    }
    async principalForToken(token: string) {
        return this.tokens.get(token);
    }
    async principalForUser(user: string) {
        return [...this.tokens.values()].find((p) => p.user === user);
    }
    async can(p: Principal, app: string, permission: Permission) {
        if (p.admin) return true;
        const granted = this.grants.get(app)?.get(p.user);
        return granted !== undefined && RANK[granted] >= RANK[permission];
    }
    async visibleApps(p: Principal, apps: string[]) {
        return p.admin ? apps : apps.filter((a) => this.grants.get(a)?.has(p.user));
    }
    async audit(entry: Omit<AuditEntry, "at">) {
        this.entries.push({ at: new Date().toISOString(), ...entry });
        // The creator owns what it makes (the real store's rule).
        if (entry.action === "apps:create" && entry.app) this.grant(entry.app, entry.user, "own");
    }
}

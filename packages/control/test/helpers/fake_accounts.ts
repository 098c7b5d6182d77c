// An in-memory Accounts (principal.ts): tokens, per-app grants and the audit log, for tests of
// the surfaces that only ask (the dashboard, the API).
import type { Accounts, AuditEntry, Permission, Principal } from "../../src/accounts/principal";

const RANK: Record<Permission, number> = { read: 0, operate: 1, own: 2 };

export class FakeAccounts implements Accounts {
    tokens = new Map<string, Principal>();
    /** app → user → the strongest permission granted. */
    grants = new Map<string, Map<string, Permission>>();
    audits: AuditEntry[] = [];

    constructor(private readonly now: () => Date = () => new Date()) {}

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
    async can(principal: Principal, app: string, permission: Permission) {
        if (principal.admin) return true;
        const granted = this.grants.get(app)?.get(principal.user);
        return granted !== undefined && RANK[granted] >= RANK[permission];
    }
    async setOwner(app: string, owner: string) {
        this.grants.delete(app);
        this.grant(app, owner, "own");
    }

    async forgetApp(app: string) {
        this.grants.delete(app);
    }

    async visibleApps(principal: Principal, apps: string[]) {
        const out: string[] = [];
        for (const a of apps) if (await this.can(principal, a, "read")) out.push(a);
        return out;
    }
    async audit(entry: Omit<AuditEntry, "at">) {
        this.audits.push({ at: this.now().toISOString(), ...entry });
    }
}

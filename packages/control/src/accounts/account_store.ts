// The account store (issue 15): users with their SSH keys and API tokens (hashed), each app's owner
// and collaborators, and the audit log. One JSON file (state_paths.ts: accounts/accounts.json)
// rewritten atomically under one lock, so a change touching users and apps at once (users:remove)
// is all there or not at all; the keys users add go to ~git/.ssh/authorized_keys2 in the same step.
//
// The stack's keys (~git/.ssh/authorized_keys, written by `pulumi up` from dynoform:gitAuthorizedKeys)
// are the first administrators: a name there becomes an admin user the first time it connects.
// Apps with no entry (made before accounts existed) are owned by no one: administrators only.
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { withLock } from "../app_lock";
import { readJson, writeFileAtomic, writeJsonAtomic } from "../atomic_file";
import { UserError } from "../errors";
import { StatePaths } from "../state_paths";
import { appendEntry, readEntries } from "./audit_log";
import type { Accounts, AuditEntry, Permission, Principal } from "./principal";
import { authorizedKeys2File, fingerprint, keyLine, parsePublicKey, PublicKey, stackKeys, userNameProblem } from "./ssh_keys";
import { newToken, sameHash, tokenHash } from "./tokens";

export interface KeyRecord {
    /** `TYPE BLOB`: checked by parsePublicKey, no comment. */
    key: string;
    fingerprint: string;
    addedAt: string;
}

export interface TokenRecord {
    id: string;
    /** The token's SHA-256 (hex): the token itself is shown once and kept nowhere. */
    sha256: string;
    description: string;
    createdAt: string;
    expiresAt?: string;
    revokedAt?: string;
}

export interface UserRecord {
    name: string;
    email?: string;
    admin: boolean;
    createdAt: string;
    keys: KeyRecord[];
    tokens: TokenRecord[];
}

export interface AppAccess {
    /** None: made before accounts existed, or its owner was removed; administrators only. */
    owner?: string;
    collaborators: string[];
}

interface AccountsFile {
    users: Record<string, UserRecord>;
    apps: Record<string, AppAccess>;
}

export interface AccountStoreOptions {
    /** ~git/.ssh: the stack's authorized_keys is read there, authorized_keys2 written; none: keys are kept but not written. */
    sshDir?: string;
    /** The forced command's binary in authorized_keys2 lines (the sudoers rule allows exactly it). */
    binary: string;
    now?: () => Date;
    /** Shows an audited change in the app's stream as an `app[api]` line. */
    apiLine?: (app: string, message: string) => void;
}

/** How long a user's tokens may live at most (authorizations:create --expires-in). */
export const MAX_EXPIRES_IN_S = 10 * 365 * 24 * 3600;

const EMAIL = /^[^\s@"'`<>]{1,64}@[A-Za-z0-9.-]{1,190}$/;

function emptyFile(): AccountsFile {
    return { users: {}, apps: {} };
}

export function noSuchUser(user: string): UserError {
    return new UserError(`Couldn't find that user: ${user}. Run "dynoform users" to list users; an administrator adds one with "dynoform users:add ${user}"`);
}

export class AccountStore implements Accounts {
    readonly paths: StatePaths;
    private readonly now: () => Date;

    constructor(stateDir: string, private readonly opts: AccountStoreOptions) {
        this.paths = new StatePaths(stateDir);
        this.now = opts.now ?? (() => new Date());
    }

    private async read(): Promise<AccountsFile> {
        const file = await readJson<AccountsFile>(this.paths.accounts);
        return { ...emptyFile(), ...file };
    }

    /**
     * Runs `change` on the file under the lock and writes what it leaves; authorized_keys2 follows
     * when the keys changed. A UserError thrown by `change` writes nothing.
     */
    private async update<T>(purpose: string, change: (f: AccountsFile) => T): Promise<T> {
        await fs.promises.mkdir(path.dirname(this.paths.accounts), { recursive: true, mode: 0o700 });
        await fs.promises.mkdir(this.paths.locks, { recursive: true, mode: 0o700 });
        return withLock(
            this.paths.accountsLock,
            async () => {
                const file = await this.read();
                const keysBefore = this.renderKeys(file);
                const result = change(file);
                await writeJsonAtomic(this.paths.accounts, file);
                const keysAfter = this.renderKeys(file);
                if (keysAfter !== keysBefore || !(await this.keysFileIs(keysAfter))) await this.writeKeys(keysAfter);
                return result;
            },
            { purpose },
        );
    }

    private renderKeys(file: AccountsFile): string {
        const users = Object.values(file.users)
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((u) => ({ name: u.name, keys: u.keys.map((k) => parsePublicKey(k.key)) }));
        return authorizedKeys2File(this.opts.binary, users);
    }

    /** None without an ssh directory (a developer's run, not the control host): keys are kept, not written. */
    private get keysFile(): string | undefined {
        return this.opts.sshDir && fs.existsSync(this.opts.sshDir) ? path.join(this.opts.sshDir, "authorized_keys2") : undefined;
    }

    private async keysFileIs(content: string): Promise<boolean> {
        if (!this.keysFile) return true;
        return fs.promises.readFile(this.keysFile, "utf8").then((t) => t === content, () => false);
    }

    /** root-owned 0644 in the root-owned ~git/.ssh, as the stack's authorized_keys: sshd's StrictModes accepts root's files, and git cannot change them. */
    private async writeKeys(content: string): Promise<void> {
        if (!this.keysFile) return;
        await writeFileAtomic(this.keysFile, content, 0o644);
        await fs.promises.chmod(this.keysFile, 0o644); // the umask may have taken bits the mode gave
    }

    /** The users and keys of the stack's authorized_keys: the first administrators. */
    private async stackKeys(): Promise<{ user: string; key: string }[]> {
        if (!this.opts.sshDir) return [];
        const text = await fs.promises.readFile(path.join(this.opts.sshDir, "authorized_keys"), "utf8").catch(() => "");
        return stackKeys(text);
    }

    // --- the Accounts interface ---

    async principalForUser(user: string): Promise<Principal | undefined> {
        if (userNameProblem(user)) return undefined;
        let record = (await this.read()).users[user];
        if (!record && (await this.stackKeys()).some((k) => k.user === user)) {
            record = await this.update("first sight of a stack key", (f) => (f.users[user] ??= this.newUser(user, { admin: true })));
        }
        return record ? { user: record.name, admin: record.admin, via: "ssh" } : undefined;
    }

    async principalForToken(token: string): Promise<Principal | undefined> {
        if (!token) return undefined;
        const hash = tokenHash(token);
        const now = this.now().getTime();
        for (const u of Object.values((await this.read()).users)) {
            const t = u.tokens.find((t) => sameHash(t.sha256, hash));
            if (!t) continue;
            if (t.revokedAt || (t.expiresAt && Date.parse(t.expiresAt) <= now)) return undefined;
            return { user: u.name, admin: u.admin, via: "token" };
        }
        return undefined;
    }

    async can(principal: Principal, app: string, permission: Permission): Promise<boolean> {
        if (principal.admin) return true;
        const access = (await this.read()).apps[app];
        if (!access) return false;
        if (access.owner === principal.user) return true;
        return permission !== "own" && access.collaborators.includes(principal.user);
    }

    async visibleApps(principal: Principal, apps: string[]): Promise<string[]> {
        if (principal.admin) return apps;
        const file = await this.read();
        return apps.filter((a) => file.apps[a]?.owner === principal.user || file.apps[a]?.collaborators.includes(principal.user));
    }

    async audit(entry: Omit<AuditEntry, "at">, opts: { apiLine?: boolean } = {}): Promise<void> {
        const full: AuditEntry = { at: this.now().toISOString(), ...entry };
        await fs.promises.mkdir(this.paths.audit, { recursive: true, mode: 0o700 });
        if (entry.app) await appendEntry(this.paths.appAudit(entry.app), full);
        await appendEntry(this.paths.platformAudit, full);
        if (entry.app && opts.apiLine !== false) this.opts.apiLine?.(entry.app, `${entry.detail} by user ${entry.user}`);
    }

    // --- reading ---

    async user(name: string): Promise<UserRecord | undefined> {
        return (await this.read()).users[name];
    }

    async users(): Promise<UserRecord[]> {
        return Object.values((await this.read()).users).sort((a, b) => a.name.localeCompare(b.name));
    }

    async access(app: string): Promise<AppAccess> {
        return (await this.read()).apps[app] ?? { collaborators: [] };
    }

    /** The app's entries (`audit -a APP`), or every entry (`audit`), oldest first. */
    async auditEntries(app?: string): Promise<AuditEntry[]> {
        return readEntries(app ? this.paths.appAudit(app) : this.paths.platformAudit);
    }

    // --- users ---

    private newUser(name: string, opts: { admin?: boolean; email?: string }): UserRecord {
        return { name, ...(opts.email ? { email: opts.email } : {}), admin: opts.admin ?? false, createdAt: this.now().toISOString(), keys: [], tokens: [] };
    }

    async addUser(name: string, opts: { admin?: boolean; email?: string } = {}): Promise<UserRecord> {
        const problem = userNameProblem(name);
        if (problem) throw new UserError(problem);
        if (opts.email !== undefined && !EMAIL.test(opts.email)) throw new UserError(`--email ${opts.email.slice(0, 80)} is not an email address: use e.g. --email alice@example.com`);
        return this.update("users:add", (f) => {
            if (f.users[name]) throw new UserError(`The user ${name} already exists: run "dynoform users" to list users`);
            return (f.users[name] = this.newUser(name, opts));
        });
    }

    /** Removes the user, their keys, tokens and collaborations; apps they owned become administrators' only. */
    async removeUser(name: string): Promise<{ owned: string[] }> {
        // The stack's key would make them an administrator again the next time it connects.
        if ((await this.stackKeys()).some((k) => k.user === name)) {
            throw new UserError(`${name} is a key of the stack (dynoform:gitAuthorizedKeys): remove the key there and run pulumi up, then run users:remove ${name}`);
        }
        return this.update("users:remove", (f) => {
            if (!f.users[name]) throw noSuchUser(name);
            delete f.users[name];
            const owned: string[] = [];
            for (const [app, access] of Object.entries(f.apps)) {
                access.collaborators = access.collaborators.filter((c) => c !== name);
                if (access.owner === name) {
                    delete access.owner;
                    owned.push(app);
                }
            }
            return { owned };
        });
    }

    // --- keys ---

    async addKey(user: string, line: string): Promise<KeyRecord> {
        const key = parsePublicKey(line);
        const record: KeyRecord = { key: keyLine(key), fingerprint: fingerprint(key), addedAt: this.now().toISOString() };
        const stack = (await this.stackKeys()).find((k) => k.key === record.key);
        if (stack) throw new UserError(`That key is already the stack's key of ${stack.user} (dynoform:gitAuthorizedKeys): generate a new key with ssh-keygen -t ed25519 and add that`);
        return this.update("keys:add", (f) => {
            const u = f.users[user];
            if (!u) throw noSuchUser(user);
            const holder = Object.values(f.users).find((o) => o.keys.some((k) => k.key === record.key));
            if (holder === u) throw new UserError(`That key is already yours (${record.fingerprint}): run "dynoform keys" to list your keys`);
            // One key, one user: sshd takes the first line that matches, so a shared key would be anyone's.
            if (holder) throw new UserError(`That key belongs to another user: generate a new key with ssh-keygen -t ed25519 and add that`);
            u.keys.push(record);
            return record;
        });
    }

    /** `which`: the key line, or its fingerprint (SHA256:...). */
    async removeKey(user: string, which: string): Promise<KeyRecord> {
        const wanted = which.trim().startsWith("SHA256:") ? which.trim() : fingerprint(parsePublicKey(which));
        return this.update("keys:remove", (f) => {
            const u = f.users[user];
            if (!u) throw noSuchUser(user);
            const found = u.keys.find((k) => k.fingerprint === wanted);
            if (!found) throw new UserError(`No key ${wanted} for ${user}: run "dynoform keys" to list the keys and their fingerprints`);
            u.keys = u.keys.filter((k) => k !== found);
            return found;
        });
    }

    // --- tokens ---

    /** A new token for `user`: returned here once, only its hash kept. */
    async createToken(user: string, opts: { description?: string; expiresInS?: number }): Promise<{ token: string; record: TokenRecord }> {
        if (opts.expiresInS !== undefined && (!Number.isInteger(opts.expiresInS) || opts.expiresInS <= 0 || opts.expiresInS > MAX_EXPIRES_IN_S)) {
            throw new UserError(`--expires-in must be a whole number of seconds from 1 to ${MAX_EXPIRES_IN_S}, e.g. --expires-in 2592000 for 30 days`);
        }
        const description = (opts.description ?? "Long-lived user authorization").replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, 200);
        const token = newToken();
        const now = this.now();
        const record: TokenRecord = {
            id: randomUUID(),
            sha256: tokenHash(token),
            description,
            createdAt: now.toISOString(),
            ...(opts.expiresInS !== undefined ? { expiresAt: new Date(now.getTime() + opts.expiresInS * 1000).toISOString() } : {}),
        };
        await this.update("authorizations:create", (f) => {
            const u = f.users[user];
            if (!u) throw noSuchUser(user);
            u.tokens.push(record);
        });
        return { token, record };
    }

    /** Revokes token `id` of `user` (any user's when `anyUser`, for administrators); it stops working at once. */
    async revokeToken(user: string, id: string, anyUser = false): Promise<{ owner: string; record: TokenRecord }> {
        return this.update("authorizations:revoke", (f) => {
            for (const u of Object.values(f.users)) {
                if (u.name !== user && !anyUser) continue;
                const t = u.tokens.find((t) => t.id === id);
                if (!t) continue;
                if (t.revokedAt) throw new UserError(`Authorization ${id} is already revoked: run "dynoform authorizations" to list the active ones`);
                t.revokedAt = this.now().toISOString();
                return { owner: u.name, record: t };
            }
            throw new UserError(`Couldn't find that authorization: ${id}. Run "dynoform authorizations" to list their IDs`);
        });
    }

    // --- access ---

    /**
     * `app` was just created by `owner`: theirs alone (whatever an earlier app of that name left);
     * an owner who is no user (root on the control host) leaves it administrators' only.
     */
    async setOwner(app: string, owner: string): Promise<void> {
        await this.update("apps:create", (f) => {
            f.apps[app] = f.users[owner] ? { owner, collaborators: [] } : { collaborators: [] };
        });
    }

    async addCollaborator(app: string, user: string): Promise<void> {
        await this.update("access:add", (f) => {
            if (!f.users[user]) throw noSuchUser(user);
            const access = (f.apps[app] ??= { collaborators: [] });
            if (access.owner === user) throw new UserError(`${user} owns ${app} already: nothing to add`);
            if (access.collaborators.includes(user)) throw new UserError(`${user} is already a collaborator on ${app}: run "dynoform access -a ${app}" to list them`);
            access.collaborators.push(user);
        });
    }

    async removeCollaborator(app: string, user: string): Promise<void> {
        await this.update("access:remove", (f) => {
            const access = f.apps[app];
            if (access?.owner === user) throw new UserError(`${user} owns ${app}: the owner cannot be removed, only the app destroyed`);
            if (!access?.collaborators.includes(user)) throw new UserError(`${user} is not a collaborator on ${app}: run "dynoform access -a ${app}" to list them`);
            access.collaborators = access.collaborators.filter((c) => c !== user);
        });
    }

    /** The app is destroyed: its access goes, and its own audit file (the platform's keeps every entry). */
    async forgetApp(app: string): Promise<void> {
        await this.update("apps:destroy", (f) => {
            delete f.apps[app];
        });
        await fs.promises.rm(this.paths.appAudit(app), { force: true });
    }
}

export type { PublicKey };

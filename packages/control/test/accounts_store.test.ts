// The account store: users, keys (authorized_keys2), hashed tokens (revoke, expiry), access, the
// audit log, atomic writes under the lock.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AccountStore } from "../src/accounts/account_store";
import { ed25519PublicKey } from "./helpers/ssh_key";

const BIN = "/usr/local/lib/dynoform/dynoform-control";
let root: string;
let sshDir: string;
let clock: { now: Date };
let lines: [string, string][];
let store: AccountStore;

beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-accounts-"));
    sshDir = path.join(root, "git-ssh");
    fs.mkdirSync(sshDir);
    clock = { now: new Date("2026-11-30T04:00:00Z") };
    lines = [];
    store = new AccountStore(path.join(root, "state"), { sshDir, binary: BIN, now: () => clock.now, apiLine: (app, msg) => lines.push([app, msg]) });
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const keys2 = () => fs.readFileSync(path.join(sshDir, "authorized_keys2"), "utf8");

test("a name from the stack's authorized_keys becomes an administrator on first sight; others are unknown", async () => {
    fs.writeFileSync(path.join(sshDir, "authorized_keys"), `command="${BIN} ssh dynoform-cli",no-pty ssh-ed25519 AAAAx\n`);
    expect(await store.principalForUser("mallory")).toBeUndefined();
    expect(await store.principalForUser('x" y')).toBeUndefined();
    expect(await store.principalForUser("dynoform-cli")).toEqual({ user: "dynoform-cli", admin: true, via: "ssh" });
    expect((await store.user("dynoform-cli"))?.admin).toBe(true);
    await expect(store.removeUser("dynoform-cli")).rejects.toThrow(/is a key of the stack \(dynoform:gitAuthorizedKeys\): remove the key there and run pulumi up/);
    await store.addUser("bob", { email: "bob@example.com" });
    expect(await store.principalForUser("bob")).toEqual({ user: "bob", admin: false, via: "ssh" });
});

test("keys:add writes authorized_keys2 (root's 0644, forced command); a key is one user's; keys:remove by fingerprint takes it out", async () => {
    await store.addUser("bob");
    await store.addUser("carol");
    const key = ed25519PublicKey();
    const rec = await store.addKey("bob", `${key} bob@laptop`);
    expect(keys2()).toContain(`command="${BIN} ssh bob",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty ${key}\n`);
    expect(keys2()).not.toContain("bob@laptop");
    expect(fs.statSync(path.join(sshDir, "authorized_keys2")).mode & 0o777).toBe(0o644);
    await expect(store.addKey("bob", key)).rejects.toThrow(/already yours/);
    await expect(store.addKey("carol", key)).rejects.toThrow(/belongs to another user: generate a new key/);
    await expect(store.addKey("nobody", ed25519PublicKey())).rejects.toThrow(/Couldn't find that user: nobody.*users:add nobody/);
    await store.removeKey("bob", rec.fingerprint);
    expect(keys2()).not.toContain(key);
    await expect(store.removeKey("bob", rec.fingerprint)).rejects.toThrow(/No key SHA256:.*dynoform keys/);
});

test("a stack key cannot be added again as a user's", async () => {
    const key = ed25519PublicKey();
    fs.writeFileSync(path.join(sshDir, "authorized_keys"), `command="${BIN} ssh alice",no-pty ${key}\n`);
    await store.addUser("bob");
    await expect(store.addKey("bob", key)).rejects.toThrow(/already the stack's key of alice/);
});

test("users:remove takes the user's keys, tokens and access; apps they owned become administrators' only", async () => {
    await store.addUser("bob");
    await store.addUser("carol");
    await store.addKey("bob", ed25519PublicKey());
    const { token } = await store.createToken("bob", {});
    await store.setOwner("shop", "bob");
    await store.addCollaborator("shop", "carol");
    await store.setOwner("blog", "carol");
    await store.addCollaborator("blog", "bob");
    expect(await store.removeUser("bob")).toEqual({ owned: ["shop"] });
    expect(keys2()).not.toContain("ssh bob");
    expect(await store.principalForToken(token)).toBeUndefined();
    expect(await store.access("shop")).toEqual({ collaborators: ["carol"] });
    expect(await store.access("blog")).toEqual({ owner: "carol", collaborators: [] });
});

test("tokens: only the SHA-256 is stored; revoked and expired ones stop at once", async () => {
    await store.addUser("ci");
    const a = await store.createToken("ci", { description: "deploys" });
    const b = await store.createToken("ci", { expiresInS: 60 });
    expect(a.token).toMatch(/^dfo_[A-Za-z0-9_-]{43}$/);
    const file = fs.readFileSync(path.join(root, "state", "accounts", "accounts.json"), "utf8");
    expect(file).not.toContain(a.token);
    expect(file).not.toContain(a.token.slice(4));
    expect(file).toContain(a.record.sha256);
    expect(await store.principalForToken(a.token)).toEqual({ user: "ci", admin: false, via: "token" });
    expect(await store.principalForToken(a.token + "x")).toBeUndefined();
    expect(await store.principalForToken("")).toBeUndefined();
    expect(await store.principalForToken(b.token)).toBeDefined();
    clock.now = new Date(clock.now.getTime() + 60_000);
    expect(await store.principalForToken(b.token)).toBeUndefined();
    await store.revokeToken("ci", a.record.id);
    expect(await store.principalForToken(a.token)).toBeUndefined();
    await expect(store.revokeToken("ci", a.record.id)).rejects.toThrow(/already revoked/);
    await expect(store.revokeToken("ci", "nope")).rejects.toThrow(/Couldn't find that authorization: nope/);
    for (const bad of [0, -1, 1.5, 11 * 365 * 24 * 3600]) await expect(store.createToken("ci", { expiresInS: bad })).rejects.toThrow(/--expires-in must be a whole number of seconds/);
});

test("another user's token is revoked only by an administrator's call", async () => {
    await store.addUser("ci");
    await store.addUser("bob");
    const { record } = await store.createToken("ci", {});
    await expect(store.revokeToken("bob", record.id)).rejects.toThrow(/Couldn't find that authorization/);
    expect((await store.revokeToken("root", record.id, true)).owner).toBe("ci");
});

test("access: the owner owns, collaborators operate, others nothing; admins everything; apps with no entry are admins' only", async () => {
    await store.addUser("bob");
    await store.addUser("carol");
    await store.setOwner("shop", "bob");
    const bob = { user: "bob", admin: false, via: "ssh" as const };
    const carol = { user: "carol", admin: false, via: "ssh" as const };
    const admin = { user: "root", admin: true, via: "ssh" as const };
    expect(await store.can(bob, "shop", "own")).toBe(true);
    expect(await store.can(carol, "shop", "read")).toBe(false);
    await store.addCollaborator("shop", "carol");
    expect([await store.can(carol, "shop", "read"), await store.can(carol, "shop", "operate"), await store.can(carol, "shop", "own")]).toEqual([true, true, false]);
    expect(await store.can(bob, "legacy", "read")).toBe(false);
    expect(await store.can(admin, "legacy", "own")).toBe(true);
    expect(await store.visibleApps(carol, ["legacy", "shop"])).toEqual(["shop"]);
    expect(await store.visibleApps(admin, ["legacy", "shop"])).toEqual(["legacy", "shop"]);
    await expect(store.addCollaborator("shop", "carol")).rejects.toThrow(/already a collaborator/);
    await expect(store.addCollaborator("shop", "nobody")).rejects.toThrow(/Couldn't find that user/);
    await expect(store.removeCollaborator("shop", "bob")).rejects.toThrow(/owns shop: the owner cannot be removed/);
    await store.removeCollaborator("shop", "carol");
    expect(await store.can(carol, "shop", "read")).toBe(false);
    // root on the control host is no user: what it creates is administrators' only
    await store.setOwner("rootmade", "dynoform");
    expect(await store.access("rootmade")).toEqual({ collaborators: [] });
    // a later app of a destroyed one's name starts with its creator alone
    await store.addCollaborator("shop", "carol");
    await store.forgetApp("shop");
    await store.setOwner("shop", "bob");
    expect(await store.access("shop")).toEqual({ owner: "bob", collaborators: [] });
});

test("users:add checks names and emails, and refuses a second user of a name", async () => {
    await expect(store.addUser('a"b')).rejects.toThrow(/not a valid user name/);
    await expect(store.addUser("bob", { email: "not an email" })).rejects.toThrow(/is not an email address: use e.g. --email/);
    await store.addUser("bob", { admin: true, email: "bob@example.com" });
    await expect(store.addUser("bob")).rejects.toThrow(/already exists/);
    expect(await store.user("bob")).toMatchObject({ name: "bob", email: "bob@example.com", admin: true, keys: [], tokens: [] });
});

test("audit: append-only JSON lines per app and in the platform's file; app entries become app[api] lines unless told not to", async () => {
    await store.audit({ user: "bob", via: "ssh", app: "shop", action: "config:set", detail: "Set FOO config vars" }, { apiLine: false });
    await store.audit({ user: "bob", via: "token", app: "shop", action: "ps:restart", detail: "Restart web" });
    await store.audit({ user: "root", via: "ssh", action: "users:add", detail: "Add user bob" });
    expect(await store.auditEntries("shop")).toEqual([
        { at: "2026-11-30T04:00:00.000Z", user: "bob", via: "ssh", app: "shop", action: "config:set", detail: "Set FOO config vars" },
        { at: "2026-11-30T04:00:00.000Z", user: "bob", via: "token", app: "shop", action: "ps:restart", detail: "Restart web" },
    ]);
    expect((await store.auditEntries()).map((e) => e.action)).toEqual(["config:set", "ps:restart", "users:add"]);
    expect(lines).toEqual([["shop", "Restart web by user bob"]]);
    // a crash mid-append leaves a torn last line: skipped, the rest read
    fs.appendFileSync(path.join(root, "state", "audit", "shop.jsonl"), '{"at":"2026');
    expect(await store.auditEntries("shop")).toHaveLength(2);
    await store.forgetApp("shop");
    expect(await store.auditEntries("shop")).toEqual([]);
    expect(await store.auditEntries()).toHaveLength(3);
});

test("concurrent writers (two stores, as two processes' would be) lose no change, and leave no temp file", async () => {
    const other = new AccountStore(path.join(root, "state"), { sshDir, binary: BIN });
    const names = Array.from({ length: 24 }, (_, i) => `user${i}`);
    await Promise.all(names.map((n, i) => (i % 2 ? store : other).addUser(n)));
    await Promise.all(names.map((n, i) => (i % 2 ? other : store).addKey(n, ed25519PublicKey())));
    expect((await store.users()).map((u) => u.name).sort()).toEqual([...names].sort());
    expect(keys2().split("\n").filter((l) => l.startsWith("command="))).toHaveLength(24);
    expect(fs.readdirSync(path.join(root, "state", "accounts"))).toEqual(["accounts.json"]);
    expect(fs.readdirSync(sshDir)).toEqual(["authorized_keys2"]);
});

test("a refused change writes nothing", async () => {
    await store.addUser("bob");
    const before = fs.readFileSync(path.join(root, "state", "accounts", "accounts.json"), "utf8");
    await expect(store.addUser("bob")).rejects.toThrow();
    await expect(store.addKey("bob", "ssh-ed25519 AAAA")).rejects.toThrow();
    expect(fs.readFileSync(path.join(root, "state", "accounts", "accounts.json"), "utf8")).toBe(before);
});

test("without an ssh directory (a developer's machine) keys are kept, not written", async () => {
    const local = new AccountStore(path.join(root, "state2"), { sshDir: path.join(root, "none"), binary: BIN });
    await local.addUser("bob");
    await local.addKey("bob", ed25519PublicKey());
    expect(fs.existsSync(path.join(root, "none"))).toBe(false);
    expect((await local.user("bob"))?.keys).toHaveLength(1);
});

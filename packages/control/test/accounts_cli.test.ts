// Authorization per verb (a table over VERBS: a new verb without a declared access fails here), the
// access/keys/users/authorizations/audit verbs, and what the audit log records.
import { Readable } from "node:stream";
import * as path from "node:path";
import { AccountStore } from "../src/accounts/account_store";
import type { Principal } from "../src/accounts/principal";
import { VERBS } from "../src/cli";
import { Verb } from "../src/cli/context";
import { harness, Harness } from "./helpers/cli_harness";
import { ed25519PublicKey } from "./helpers/ssh_key";

let h: Harness;
let accounts: AccountStore;
let apiLines: string[];
beforeEach(async () => {
    h = await harness();
    apiLines = [];
    accounts = new AccountStore(h.root, { binary: "/usr/local/lib/dynoform/dynoform-control", apiLine: (app, m) => apiLines.push(`${app}: ${m}`) });
    await accounts.addUser("alice");
    await accounts.addUser("bob");
    as({ user: "alice", admin: false, via: "ssh" });
});
afterEach(() => h.cleanup());

function as(principal: Principal, stdin?: string) {
    h.extra = { caller: { principal, accounts }, settings: { domain: "dynoform.test", gitUrl: (a) => `git@control.test:${a}.git`, webUrl: (a) => `http://${a}.dynoform.test/`, user: principal.user }, ...(stdin !== undefined ? { stdin: Readable.from([stdin]) } : {}) };
}
const alice = () => as({ user: "alice", admin: false, via: "ssh" });
const bob = () => as({ user: "bob", admin: false, via: "ssh" });
const root = () => as({ user: "root", admin: true, via: "ssh" });

type Audit = "spec" | "self" | "none";
/** What each verb needs and whether it is audited: every verb must be here, so each new one is decided. */
const EXPECTED: Record<string, [Verb["access"], Audit]> = {
    apps: ["user", "none"],
    "apps:create": ["user", "self"],
    "apps:destroy": ["own", "self"],
    "apps:info": ["read", "none"],
    config: ["read", "none"],
    "config:get": ["read", "none"],
    "config:set": ["operate", "spec"],
    "config:unset": ["operate", "spec"],
    ps: ["read", "none"],
    "ps:scale": ["operate", "spec"],
    "ps:restart": ["operate", "spec"],
    releases: ["read", "none"],
    rollback: ["operate", "spec"],
    run: ["operate", "spec"],
    logs: ["read", "none"],
    drains: ["read", "none"],
    "drains:add": ["operate", "spec"],
    "drains:remove": ["operate", "spec"],
    domains: ["read", "none"],
    "domains:add": ["operate", "spec"],
    "domains:remove": ["operate", "spec"],
    buildpacks: ["read", "none"],
    "buildpacks:set": ["operate", "spec"],
    "buildpacks:add": ["operate", "spec"],
    "buildpacks:remove": ["operate", "spec"],
    "buildpacks:clear": ["operate", "spec"],
    "git:remote": ["read", "none"],
    "addons:create": ["operate", "spec"],
    maintenance: ["read", "none"],
    "maintenance:on": ["operate", "spec"],
    "cache:purge": ["operate", "spec"],
    "maintenance:off": ["operate", "spec"],
    hosts: ["admin", "none"],
    "hosts:drain": ["admin", "spec"],
    "hosts:undrain": ["admin", "spec"],
    "pg:backups": ["read", "none"],
    "pg:backups:capture": ["operate", "spec"],
    "pg:backups:restore": ["operate", "spec"],
    "pg:backups:schedule": ["admin", "spec"],
    "pg:psql": ["operate", "spec"],
    "pg:credentials:rotate": ["operate", "spec"],
    access: ["read", "none"],
    "access:add": ["own", "self"],
    "access:remove": ["own", "self"],
    keys: ["user", "none"],
    "keys:add": ["user", "self"],
    "keys:remove": ["user", "self"],
    users: ["admin", "none"],
    "users:add": ["admin", "self"],
    "users:remove": ["admin", "self"],
    authorizations: ["user", "none"],
    "authorizations:create": ["user", "self"],
    "authorizations:revoke": ["user", "self"],
    audit: ["read", "none"],
};

test("every verb declares what it needs and whether it is audited, as decided here", () => {
    const declared = Object.fromEntries(VERBS.map((v) => [v.name, [v.access, v.audit === undefined ? "none" : v.audit === "self" ? "self" : "spec"]]));
    expect(declared).toEqual(EXPECTED);
});

/** argv that gets a verb past argument parsing, against `app`. */
function argvFor(verb: Verb, app: string): string[] {
    const positional = Array.from({ length: verb.args.min }, () => "x");
    const appFlag = verb.flags.some((f) => f.name === "app") ? ["-a", app] : [];
    return [verb.name, ...appFlag, ...positional];
}

test.each(VERBS.filter((v) => v.access !== "user").map((v) => [v.name, v] as const))("%s: a user without access is refused, and nothing runs", async (_name, verb) => {
    await h.cli("apps:create", "shop");
    await h.cli("config:set", "A=1", "-a", "shop");
    bob();
    const calls = h.fleet.calls.length;
    const audited = (await accounts.auditEntries()).length;
    const config = await h.store.getConfig("shop");
    const r = await h.cli(...argvFor(verb, "shop"));
    expect(r.code).toBe(1);
    expect(r.out).toEqual([]);
    expect(r.err).toEqual([expect.stringMatching(/^ ▸    (You do not have access to the app shop\. Its owner or an administrator can grant it with "dynoform access:add bob -a shop"|Only the owner or an administrator can .* ⬢ shop\.|Only an administrator can run .*: ask one)/)]);
    expect(h.fleet.calls.length).toBe(calls);
    expect((await accounts.auditEntries()).length).toBe(audited);
    expect(await h.store.getConfig("shop")).toEqual(config);
});

test("two users: the owner's app is theirs until access:add; a collaborator operates it but never destroys it or changes its access", async () => {
    expect((await h.cli("apps:create", "shop")).code).toBe(0);
    expect(await accounts.access("shop")).toEqual({ owner: "alice", collaborators: [] });
    bob();
    expect((await h.cli("apps")).out).toEqual(["You have no apps."]);
    expect((await h.cli("config", "-a", "shop")).err).toEqual([' ▸    You do not have access to the app shop. Its owner or an administrator can grant it with "dynoform access:add bob -a shop"']);
    expect((await h.cli("apps:destroy", "-a", "shop", "--confirm", "shop")).err).toEqual([" ▸    Only the owner or an administrator can destroy ⬢ shop."]);
    alice();
    expect(await h.cli("access:add", "bob", "-a", "shop")).toMatchObject({ code: 0, err: ["Adding bob access to the app shop... done"] });
    expect((await h.cli("access", "-a", "shop")).out).toEqual(["=== shop Access", "alice  owner", "bob    collaborator"]);
    bob();
    expect((await h.cli("apps")).out).toEqual(["=== Apps", "shop"]);
    expect((await h.cli("config:set", "SECRET=hunter2", "-a", "shop")).code).toBe(0);
    expect((await h.cli("maintenance:on", "-a", "shop")).code).toBe(0);
    expect((await h.cli("apps:destroy", "-a", "shop", "--confirm", "shop")).err).toEqual([" ▸    Only the owner or an administrator can destroy ⬢ shop."]);
    expect((await h.cli("access:add", "bob", "-a", "shop")).err).toEqual([" ▸    Only the owner or an administrator can add collaborators to ⬢ shop."]);
    expect((await h.cli("audit")).err).toEqual([' ▸    Only an administrator can run audit without -a APP: ask one to run it ("dynoform users" lists who is)']);
    const audit = await h.cli("audit", "-a", "shop");
    expect(audit.out.map((l) => l.replace(/^\S+\s+/, ""))).toEqual([
        "alice (ssh)  apps:create     Create app",
        "alice (ssh)  access:add      Add bob as collaborator",
        "bob (ssh)    config:set      Set SECRET config vars",
        "bob (ssh)    maintenance:on  Enable maintenance mode",
    ]);
    expect(JSON.stringify(await accounts.auditEntries())).not.toContain("hunter2");
    // release and scale lines exist already (releases.ts, ps.ts): only the others become app[api] lines
    expect(apiLines).toEqual(["shop: Create app by user alice", "shop: Add bob as collaborator by user alice", "shop: Enable maintenance mode by user bob"]);
    alice();
    expect((await h.cli("access:remove", "bob", "-a", "shop")).err).toEqual(["Removing bob access from the app shop... done"]);
    bob();
    expect((await h.cli("config", "-a", "shop")).code).toBe(1);
    alice();
    expect((await h.cli("apps:destroy", "-a", "shop", "--confirm", "shop")).code).toBe(0);
    expect(await accounts.access("shop")).toEqual({ collaborators: [] });
    expect((await accounts.auditEntries()).at(-1)).toMatchObject({ user: "alice", app: "shop", action: "apps:destroy", detail: "Destroy app (final backup shop::b001)" });
});

test("apps made before accounts are administrators' only, until access is granted", async () => {
    root();
    await h.store.createApp("legacy", {});
    alice();
    expect((await h.cli("apps")).out).toEqual(["You have no apps."]);
    expect((await h.cli("releases", "-a", "legacy")).code).toBe(1);
    root();
    expect((await h.cli("apps")).out).toEqual(["=== Apps", "legacy"]);
    expect((await h.cli("access", "-a", "legacy")).out).toContain("No owner: only administrators have access (the app predates accounts). Grant it with dynoform access:add USER");
    expect((await h.cli("access:add", "alice", "-a", "legacy")).code).toBe(0);
    alice();
    expect((await h.cli("releases", "-a", "legacy")).code).toBe(0);
});

test("pg:backups:restore OTHERAPP::b001 needs read on OTHERAPP too", async () => {
    await h.cli("apps:create", "shop");
    root();
    await h.cli("apps:create", "secret");
    alice();
    const r = await h.cli("pg:backups:restore", "secret::b001", "DATABASE_URL", "-a", "shop", "--confirm", "shop");
    expect(r.err).toEqual([' ▸    You do not have access to the app secret. Its owner or an administrator can grant it with "dynoform access:add alice -a secret"']);
});

test("keys: add from stdin or an argument, list, remove; another user's only for an administrator", async () => {
    const key = ed25519PublicKey();
    as({ user: "alice", admin: false, via: "ssh" }, `${key} alice@laptop\n`);
    const added = await h.cli("keys:add");
    expect(added.err).toEqual([expect.stringMatching(/^Uploading SSH public key SHA256:\S+\.\.\. done$/)]);
    const fp = added.err[0].split(" ")[4].replace(/\.\.\.$/, "");
    alice();
    expect((await h.cli("keys")).out).toEqual(["=== alice Keys", expect.stringMatching(new RegExp(`^ssh-ed25519 \\S+\\.\\.\\.\\S+  ${fp.replace(/[+/]/g, "\\$&")}$`))]);
    expect((await h.cli("keys:add", ed25519PublicKey(), "--user", "bob")).err).toEqual([' ▸    Only an administrator can run keys:add for another user: ask one to run it ("dynoform users" lists who is)']);
    expect((await h.cli("keys:add", 'command="/bin/sh" ssh-ed25519 AAAA')).code).toBe(1);
    expect((await h.cli("keys:remove", fp)).err).toEqual([`Removing ${fp} SSH key... done`]);
    root();
    expect((await h.cli("keys:add", ed25519PublicKey(), "--user", "bob")).code).toBe(0);
    expect((await accounts.auditEntries()).map((e) => `${e.user} ${e.action}`)).toEqual(["alice keys:add", "alice keys:remove", "root keys:add"]);
});

test("users: administrators add and remove them; others cannot", async () => {
    alice();
    expect((await h.cli("users:add", "carol")).err).toEqual([' ▸    Only an administrator can run users:add: ask one to run it ("dynoform users" lists who is)']);
    root();
    expect(await h.cli("users:add", "carol", "--email", "carol@example.com")).toMatchObject({ code: 0, err: ["Creating user carol... done"], out: ['Give them a key: dynoform keys:add "ssh-ed25519 AAAA..." --user carol'] });
    expect((await h.cli("users")).out).toEqual([
        "User   Email              Role  Keys    Tokens",
        expect.stringMatching(/^─+/),
        "alice                     user  0 keys  0 tokens",
        "bob                       user  0 keys  0 tokens",
        "carol  carol@example.com  user  0 keys  0 tokens",
    ]);
    expect((await h.cli("users:remove", "root")).err).toEqual([" ▸    You cannot remove yourself: ask another administrator"]);
    expect((await h.cli("users:remove", "carol")).code).toBe(0);
    expect(await accounts.user("carol")).toBeUndefined();
});

test("authorizations: the token is printed once, by create; the list shows IDs and descriptions; revoke stops it", async () => {
    const created = await h.cli("authorizations:create", "--description", "CI deploys", "--expires-in", "3600");
    expect(created.err).toEqual(["Creating OAuth Authorization... done"]);
    const token = created.out.find((l) => l.startsWith("Token:"))!.split(/\s+/)[1];
    const id = created.out.find((l) => l.startsWith("ID:"))!.split(/\s+/)[1];
    expect(created.out).toEqual(["Client:      <none>", `ID:          ${id}`, "Description: CI deploys", "Scope:       global", `Token:       ${token}`, expect.stringMatching(/^Expires at:  2026-/)]);
    expect(await accounts.principalForToken(token)).toEqual({ user: "alice", admin: false, via: "token" });
    const list = await h.cli("authorizations");
    expect(list.out).toEqual([expect.stringMatching(new RegExp(`^CI deploys  ${id}  expires 2026-`))]);
    expect(JSON.stringify(await accounts.auditEntries())).not.toContain(token);
    expect((await h.cli("authorizations:create", "--expires-in", "soon")).err).toEqual([" ▸    --expires-in soon is not a number of seconds: use e.g. --expires-in 2592000 for 30 days"]);
    bob();
    expect((await h.cli("authorizations:revoke", id)).code).toBe(1);
    alice();
    expect((await h.cli("authorizations:revoke", id)).err).toEqual([`Revoking OAuth Authorization ${id}... done`]);
    expect(await accounts.principalForToken(token)).toBeUndefined();
    expect((await h.cli("authorizations")).out).toEqual(['No authorizations. Create one with "dynoform authorizations:create --description CI"']);
});

test("run is audited before it starts; a change that failed is not recorded", async () => {
    await h.cli("apps:create", "shop");
    expect((await h.cli("run", "-a", "shop", "bash")).code).toBe(1); // nothing deployed
    expect((await accounts.auditEntries("shop")).map((e) => e.detail)).toEqual(["Create app", "Starting process with command `bash`"]);
    expect((await h.cli("config:set", "B=2", "-a", "shop")).code).toBe(0);
    expect((await h.cli("domains:add", "bad domain", "-a", "shop")).code).toBe(1);
    expect((await accounts.auditEntries("shop")).map((e) => e.action)).toEqual(["apps:create", "run", "config:set"]);
    expect(path.basename(accounts.paths.appAudit("shop"))).toBe("shop.jsonl");
});

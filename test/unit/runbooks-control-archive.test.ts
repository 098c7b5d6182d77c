// control-backup / control-restore's archive: the pure rules, and the host scripts run for real on
// a state root in a temp directory (bash, tar, git as on a Debian host): what is kept and left out,
// a lock a live process holds, the drill's checks, a restore that keeps the state it replaces.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { callEsm } from "../support/esm";

const LIB = "runbooks/lib/control_archive.mjs";
const script = (fn: string, ...args: unknown[]) => callEsm<string>(LIB, fn, ...args).value!;
const bash = (text: string, input?: Buffer) => execFileSync("bash", ["-s"], { input: Buffer.concat([Buffer.from(text), input ?? Buffer.alloc(0)]), maxBuffer: 64 << 20, stdio: ["pipe", "pipe", "pipe"] });
const SHA = "a".repeat(64);
const OLD = "b".repeat(64);

let dir: string;
let root: string;
let backups: string;

beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "runbook-archive-"));
    root = path.join(dir, "state");
    backups = path.join(dir, "backups");
    const w = (rel: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        fs.writeFileSync(path.join(root, rel), text);
    };
    w("apps/shop/app.json", '{"name":"shop"}');
    w("apps/shop/config.json", '{"GREETING":"hi"}');
    w("apps/shop/releases/v1.json", JSON.stringify({ version: 1, slug: { sha256: OLD } }));
    w("apps/shop/releases/v2.json", JSON.stringify({ version: 2, slug: { sha256: SHA } }));
    w("apps/shop/releases/v2.status.json", '{"status":"succeeded"}');
    w("apps/blog/app.json", '{"name":"blog"}');
    w("apps/.creating-tmp-1/app.json", "{}");
    w(`slugs/shop/${SHA}.tgz`, "current slug");
    w(`slugs/shop/${OLD}.tgz`, "old slug");
    w("placement/shop.json", '{"placement":{}}');
    w("hosts/drained.json", '{"drained":{}}');
    w("accounts/accounts.json", '{"users":{"ann":{"name":"ann"}},"apps":{"shop":{"owner":"ann","collaborators":[]}}}');
    w("audit/shop.jsonl", '{"action":"config:set"}\n');
    w("cache/shop/big", "cache");
    w("runtimes/node.tgz", "runtime");
    w("locks/blog.lock", `999999 ${os.hostname()} dead deploy`); // its holder died: broken, as app_lock.ts does
    const src = path.join(dir, "src");
    execFileSync("git", ["init", "-q", "--bare", path.join(root, "repos/shop.git")]);
    execFileSync("git", ["init", "-q", src]);
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "one"], { cwd: src });
    execFileSync("git", ["push", "-q", path.join(root, "repos/shop.git"), "HEAD:refs/heads/main"], { cwd: src });
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test("ids, --keep and app lists", () => {
    expect(callEsm(LIB, "archiveId", "2026-11-30T04:45:12.345Z").value).toBe("20261130T044512Z");
    expect(callEsm(LIB, "parseKeep").value).toBe(7);
    expect(callEsm(LIB, "parseKeep", "3").value).toBe(3);
    expect(callEsm(LIB, "parseKeep", "0").error).toMatch(/use 1 to 999/);
    expect(callEsm(LIB, "appList", "shop\n\nblog\n.creating-x\n").value).toEqual(["blog", "shop"]);
    expect(callEsm(LIB, "appsDiffer", ["a", "b"], ["a", "b"]).value).toBeUndefined();
    expect(callEsm(LIB, "appsDiffer", ["a", "b"], ["b", "c"]).value).toBe("a in the archive but not in control; c in control but not in the archive");
    expect(callEsm(LIB, "receiveCommand", "../etc").error).toMatch(/not an archive id/);
});

test("snapshot → seal → drill → restore: apps, config, releases, repos and current slugs; no caches", () => {
    const archive = bash(script("snapshotScript", root));
    const members = execFileSync("tar", ["-tzf", "-"], { input: archive, encoding: "utf8" }).split("\n");
    expect(members).toEqual(expect.arrayContaining(["APPS", "apps/shop/config.json", "apps/shop/releases/v1.json", "apps/blog/app.json", `slugs/shop/${SHA}.tgz`, "repos/shop.git/HEAD", "placement/shop.json", "hosts/drained.json", "accounts/accounts.json", "audit/shop.jsonl"]));
    expect(members.filter((m) => /cache|runtimes|locks|creating|\.control-backup/.test(m) || m.includes(OLD))).toEqual([]);
    expect(fs.readdirSync(root).filter((f) => f.startsWith("."))).toEqual([]); // the snapshot is gone
    expect(fs.readdirSync(path.join(root, "locks"))).toEqual([]); // every lock let go (the dead one broken)

    // the backup host: received, sealed (its app list beside it), pruned to --keep
    const id = "20261130T044512Z";
    for (const old of ["20261128T000000Z", "20261129T000000Z"]) {
        fs.mkdirSync(path.join(backups, "control"), { recursive: true });
        fs.writeFileSync(path.join(backups, "control", `${old}.tar.gz`), archive);
    }
    bash(`${script("receiveCommand", id, path.join(backups, "control"))}\n`, archive);
    expect(bash(script("sealScript", id, 2, path.join(backups, "control"))).toString()).toBe("blog\nshop\n");
    expect(fs.readdirSync(path.join(backups, "control")).sort()).toEqual(["20261129T000000Z.tar.gz", `${id}.apps`, `${id}.tar.gz`]);
    expect(bash(script("listScript", path.join(backups, "control"))).toString()).toMatch(new RegExp(`^20261129T000000Z \\d+\n${id} \\d+\n$`));

    expect(bash(script("drillScript", id, path.join(backups, "control"))).toString()).toBe("apps: blog shop \n");

    // a restore onto a host with other state: it goes aside, the archive's comes in
    const target = path.join(dir, "target");
    fs.mkdirSync(path.join(target, "apps/stranger"), { recursive: true });
    fs.mkdirSync(path.join(target, "accounts"), { recursive: true });
    fs.writeFileSync(path.join(target, "accounts/accounts.json"), '{"users":{},"apps":{}}');
    fs.writeFileSync(path.join(dir, "restore.tgz"), archive);
    // a unit no machine has: the test never stops a real service
    const out = bash(script("restoreScript", target, path.join(dir, "restore.tgz"), "dynoform-test-absent.service")).toString();
    expect(out).toMatch(/^aside: .*target\.before-restore-\d{8}T\d{6}Z\nservice: absent\n$/);
    expect(fs.readdirSync(path.join(target, "apps")).sort()).toEqual(["blog", "shop"]);
    expect(fs.readFileSync(path.join(target, "apps/shop/config.json"), "utf8")).toBe('{"GREETING":"hi"}');
    expect(execFileSync("git", ["-c", "safe.directory=*", "--git-dir", path.join(target, "repos/shop.git"), "log", "--format=%s", "main"], { encoding: "utf8" })).toBe("one\n");
    // users, their keys and each app's owner come back with the apps, and the audit log
    expect(JSON.parse(fs.readFileSync(path.join(target, "accounts/accounts.json"), "utf8")).apps.shop.owner).toBe("ann");
    expect(fs.readFileSync(path.join(target, "audit/shop.jsonl"), "utf8")).toBe('{"action":"config:set"}\n');
    expect(fs.readdirSync(path.join(/^aside: (.*)$/m.exec(out)![1], "apps"))).toEqual(["stranger"]);
    expect(fs.readdirSync(path.join(/^aside: (.*)$/m.exec(out)![1], "accounts"))).toEqual(["accounts.json"]);
    expect(fs.existsSync(path.join(dir, "restore.tgz"))).toBe(false);
    for (const d of ["locks", "trash", "builds", "cache"]) expect(fs.statSync(path.join(target, d)).isDirectory()).toBe(true);
});

test("the drill names what is wrong: an app with code but no slug", () => {
    fs.rmSync(path.join(root, "slugs"), { recursive: true });
    const archive = bash(script("snapshotScript", root));
    fs.mkdirSync(path.join(backups, "control"), { recursive: true });
    fs.writeFileSync(path.join(backups, "control", "20261130T000000Z.tar.gz"), archive);
    expect(bash(script("drillScript", "20261130T000000Z", path.join(backups, "control"))).toString()).toContain("problem: shop has releases with code but no slug in the archive");
});

test("an app whose lock a live process holds is waited for, not copied from under it", () => {
    fs.writeFileSync(path.join(root, "locks/shop.lock"), `${process.pid} ${os.hostname()} abc config:set`);
    const started = Date.now();
    // execFileSync blocks this process's timers: a child lets the lock go
    const release = `(sleep 1.5; rm -f ${path.join(root, "locks/shop.lock")}) &\n`;
    const archive = bash(release + script("snapshotScript", root));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(execFileSync("tar", ["-tzf", "-"], { input: archive, encoding: "utf8" })).toContain("apps/shop/config.json");
});

test("a restore onto a wiped state root makes it again; an archive from before accounts were kept leaves the host's accounts in place", () => {
    // wiped: no state root at all
    const wiped = path.join(dir, "wiped");
    fs.writeFileSync(path.join(dir, "restore.tgz"), bash(script("snapshotScript", root)));
    bash(script("restoreScript", wiped, path.join(dir, "restore.tgz"), "dynoform-test-absent.service"));
    expect(fs.readdirSync(path.join(wiped, "apps")).sort()).toEqual(["blog", "shop"]);
    expect(fs.existsSync(path.join(wiped, "accounts/accounts.json"))).toBe(true);

    // an older archive: the six directories and APPS, no accounts/ or audit/
    const old = path.join(dir, "old");
    fs.mkdirSync(old);
    fs.writeFileSync(path.join(old, "APPS"), "shop\n");
    for (const d of ["apps", "repos", "slugs", "placement", "hosts", "tombstones"]) fs.mkdirSync(path.join(old, d), { recursive: true });
    fs.cpSync(path.join(root, "apps/shop"), path.join(old, "apps/shop"), { recursive: true });
    execFileSync("tar", ["-C", old, "-czf", path.join(dir, "restore.tgz"), "APPS", "apps", "repos", "slugs", "placement", "hosts", "tombstones"]);
    const target = path.join(dir, "target");
    fs.mkdirSync(path.join(target, "accounts"), { recursive: true });
    fs.writeFileSync(path.join(target, "accounts/accounts.json"), '{"users":{"bob":{}},"apps":{}}');
    const out = bash(script("restoreScript", target, path.join(dir, "restore.tgz"), "dynoform-test-absent.service")).toString();
    expect(fs.readFileSync(path.join(target, "accounts/accounts.json"), "utf8")).toContain("bob");
    expect(fs.readdirSync(/^aside: (.*)$/m.exec(out)![1])).not.toContain("accounts");
    expect(fs.readdirSync(path.join(target, "apps"))).toEqual(["shop"]);
});

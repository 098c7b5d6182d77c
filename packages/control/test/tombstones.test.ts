// Issue 9 item 9: a destroyed app must not come back. A dyno host that was down during apps:destroy
// still runs the app when it returns; the placement loop removes it there, a same-named new app
// never adopts the old one's dynos, and the destroy removes what builds left (cache, build user).
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AppStore, Formation } from "../src/app_store";
import { BuildLog } from "../src/build_log";
import { BuildUsers } from "../src/build_users";
import { runCli } from "../src/cli";
import { CliContext } from "../src/cli/context";
import { RemoteFleet } from "../src/remote_fleet";
import { isRoot, processesOf, testBuildUserPrefix } from "./helpers/build_user";
import { close, FakeAgent, listen } from "./helpers/fake_agent";

jest.setTimeout(30_000);

let root: string;
let clock: { now: Date };
let store: AppStore;
let a: FakeAgent;
let b: FakeAgent;
let fleet: RemoteFleet;
let buildUsers: BuildUsers | undefined;
const lines: string[] = [];
const web2: Formation = { web: { quantity: 2, size: "standard-1x" } };

beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-tombstones-"));
    fs.chmodSync(root, 0o711);
    clock = { now: new Date("2026-11-29T20:00:00Z") };
    store = new AppStore(root, () => clock.now);
    await store.init();
    a = new FakeAgent();
    b = new FakeAgent();
    const urls = [await listen(a.server), await listen(b.server)];
    fleet = new RemoteFleet(store, { agents: urls, agentToken: "agent-token", routers: [], routerToken: "router-token", slugBaseUrl: "http://127.0.0.1:1/slugs" });
    buildUsers = undefined;
    lines.length = 0;
});

afterEach(async () => {
    await close(a.server);
    await close(b.server);
    fs.rmSync(root, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; err: string[] }> {
    const err: string[] = [];
    const ctx: CliContext = {
        store,
        fleet,
        settings: { domain: "dynoform.test", gitUrl: (x) => `git@control.test:${x}.git`, webUrl: (x) => `http://${x}.dynoform.test/` },
        out: () => undefined,
        err: (l) => err.push(l),
        writeStdout: () => undefined,
        writeStderr: () => undefined,
        now: () => clock.now,
        randomName: () => "misty-river-1001",
        ...(buildUsers ? { buildUsers } : {}),
    };
    return { code: await runCli(argv, ctx), err };
}

/** A deploy of `marker` (a config var telling incarnations apart) with web=2, as deploy.ts's rollout does it. */
async function deploy(app: string, marker: string): Promise<void> {
    await store.withAppLock(app, "deploy", async () => {
        const release = await store.createRelease(app, { slug: { sha256: "5".repeat(64), size: 1 }, config: { MARKER: marker }, processTypes: { web: "node server.js" }, commit: "0123456", description: "Deploy 0123456" });
        await store.setFormation(app, web2);
        await fleet.rollout(app, release, web2, new BuildLog(() => undefined));
        await store.setReleaseStatus(app, release.version, "succeeded");
    });
}

const reconcile = () => fleet.reconcile((l) => lines.push(l));

test("a host that was down during apps:destroy loses the app at the next pass of the placement loop", async () => {
    expect((await cli("apps:create", "shop")).code).toBe(0);
    await deploy("shop", "old");
    expect(a.apps.get("shop")?.dynos).toEqual(["web.1"]);
    expect(b.apps.get("shop")?.dynos).toEqual(["web.2"]);

    b.down = true;
    expect(await cli("apps:destroy", "-a", "shop", "--confirm", "shop")).toEqual({ code: 0, err: ["Destroying ⬢ shop (including all add-ons)... done"] });
    expect(a.apps.has("shop")).toBe(false);
    expect(b.apps.has("shop")).toBe(true); // it never heard of the destroy

    await reconcile(); // still down: nothing to do there yet
    expect(b.apps.has("shop")).toBe(true);

    b.down = false;
    await reconcile();
    expect(b.apps.has("shop")).toBe(false);
    expect(lines).toContain(`shop: removing the destroyed app from 127.0.0.1`);

    // done once: the next passes leave that host alone
    const before = b.seen.length;
    await reconcile();
    expect(b.callsFor("shop").filter((m) => m === "DELETE")).toHaveLength(1);
    expect(b.seen.slice(before).filter((s) => s.url.startsWith("/v1/apps/"))).toEqual([]);
});

test("a same-named new app: the returned host's old dynos are removed before the new ones are placed there", async () => {
    await cli("apps:create", "shop");
    await deploy("shop", "old");
    b.down = true;
    await cli("apps:destroy", "-a", "shop", "--confirm", "shop");
    expect((await cli("apps:create", "shop")).code).toBe(0);

    b.down = false; // back before the placement loop got to it: the new incarnation's rollout places on it
    const seenBefore = b.seen.length;
    await deploy("shop", "new");
    const calls = b.seen.slice(seenBefore).filter((s) => s.url === "/v1/apps/shop").map((s) => s.method);
    expect(calls.slice(0, 2)).toEqual(["DELETE", "PUT"]); // the old incarnation goes first: never adopted
    expect(b.apps.get("shop")).toMatchObject({ env: { MARKER: "new" }, dynos: ["web.2"] });
    expect(a.apps.get("shop")).toMatchObject({ env: { MARKER: "new" }, dynos: ["web.1"] });

    // and the placement loop does not take the new incarnation for the old one
    await reconcile();
    expect(b.apps.get("shop")).toMatchObject({ env: { MARKER: "new" } });
    expect(b.callsFor("shop").filter((m) => m === "DELETE")).toHaveLength(1);
});

test("a same-named new app deployed while the host is still down: the host loses the old one when it returns", async () => {
    await cli("apps:create", "shop");
    await deploy("shop", "old");
    b.down = true;
    await cli("apps:destroy", "-a", "shop", "--confirm", "shop");
    await cli("apps:create", "shop");
    await deploy("shop", "new");
    expect(a.apps.get("shop")).toMatchObject({ env: { MARKER: "new" }, dynos: ["web.1", "web.2"] });

    b.down = false;
    const psBefore = await fleet.dynos("shop"); // the returned host's old dynos are not shown as this app's
    expect(psBefore.map((d) => d.name)).toEqual(["web.1", "web.2"]);
    const seenBefore = b.seen.length;
    await reconcile();
    // the old incarnation goes; the loop may then spread the new one's dynos onto the host again
    expect(b.seen.slice(seenBefore).filter((s) => s.url === "/v1/apps/shop")[0]?.method).toBe("DELETE");
    const running = [a, b].flatMap((h) => (h.apps.has("shop") ? h.apps.get("shop")!.dynos.map((d) => `${d} ${h.apps.get("shop")!.env.MARKER}`) : []));
    expect(running.sort()).toEqual(["web.1 new", "web.2 new"]);
    expect(await fleet.tombstones.list()).toEqual([]);
});

test("apps:create of a destroyed name clears hosts that came back since, before routes are set", async () => {
    await cli("apps:create", "shop");
    await deploy("shop", "old");
    b.down = true;
    await cli("apps:destroy", "-a", "shop", "--confirm", "shop");
    b.down = false;
    await cli("apps:create", "shop");
    expect(b.apps.has("shop")).toBe(false);
});

test("an app the store does not know (destroyed before tombstones) is removed after the grace period, a known one never", async () => {
    await cli("apps:create", "shop");
    await deploy("shop", "live");
    b.apps.set("ghost", { release: 3, dynos: ["web.1"], env: {} });
    await store.createApp("fresh"); // in the store, not deployed: listed by an agent after a one-off
    a.apps.set("fresh", { release: 1, dynos: [], env: {} });

    await reconcile();
    expect(b.apps.has("ghost")).toBe(true); // seen once: within the grace period
    clock.now = new Date(clock.now.getTime() + 59_000);
    await reconcile();
    expect(b.apps.has("ghost")).toBe(true);
    clock.now = new Date(clock.now.getTime() + 2_000);
    await reconcile();
    expect(b.apps.has("ghost")).toBe(false);
    expect(lines).toContain("ghost: not an app of this control role: removing it from 127.0.0.1");
    expect(a.apps.has("fresh")).toBe(true);
    expect(a.apps.get("shop")).toMatchObject({ env: { MARKER: "live" } });
});

test("a tombstone's host that is no longer a configured agent is struck off", async () => {
    await cli("apps:create", "shop");
    await deploy("shop", "old");
    b.down = true;
    await cli("apps:destroy", "-a", "shop", "--confirm", "shop");
    expect(await fleet.tombstones.list()).toEqual(["shop"]);
    fleet = new RemoteFleet(store, { ...fleet.cfg, agents: [fleet.cfg.agents[0]] });
    await reconcile();
    expect(await fleet.tombstones.list()).toEqual([]);
});

const asRoot = isRoot ? test : test.skip;

/**
 * Processes of other users on this machine may share the uid useradd just gave the test user:
 * systemd-nspawn lab machines have no user namespace, so their dyno and router users' uids are the
 * host's too. Killing "every process of the build user" would kill theirs: such a run is skipped.
 */
function uidShared(uid: number): boolean {
    const others = processesOf(uid);
    if (others.length > 0) console.warn(`uid ${uid} is in use by other processes on this machine (${others.slice(0, 3).join(", ")}): skipped`);
    return others.length > 0;
}

/** userdel alone: never pkill a uid other processes may share. */
function removeUsers(prefix: string): void {
    for (const line of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
        const name = line.split(":")[0];
        if (name?.startsWith(prefix)) execFileSync("userdel", [name]);
    }
}

describe("what builds left", () => {
    let prefix: string;
    beforeEach(() => {
        prefix = testBuildUserPrefix();
    });
    const started: number[] = [];
    afterEach(() => {
        for (const pid of started.splice(0)) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                /* gone: the destroy killed it */
            }
        }
        removeUsers(prefix);
    });

    test("apps:destroy removes the app's build cache, a file planted in it included", async () => {
        await cli("apps:create", "shop");
        const cache = path.join(root, "cache", "shop");
        fs.mkdirSync(path.join(cache, "npm"), { recursive: true });
        fs.writeFileSync(path.join(cache, "npm", "planted.js"), "steal()\n");
        await cli("apps:destroy", "-a", "shop", "--confirm", "shop");
        expect(fs.existsSync(cache)).toBe(false);
        expect(fs.readdirSync(path.join(root, "cache"))).toEqual([]);
    });

    asRoot("apps:destroy kills the build user's processes and removes it; a new app of the name starts with neither", async () => {
        buildUsers = new BuildUsers(prefix);
        await cli("apps:create", "shop");
        const user = await buildUsers.forApp("shop");
        if (uidShared(user.uid)) return;
        const cache = path.join(root, "cache", "shop");
        fs.mkdirSync(cache, { recursive: true, mode: 0o711 });
        fs.chmodSync(path.join(root, "cache"), 0o711);
        fs.chownSync(cache, user.uid, user.gid);
        fs.writeFileSync(path.join(cache, "planted"), "x");
        fs.chownSync(path.join(cache, "planted"), user.uid, user.gid);
        const planted = path.join(os.tmpdir(), `dynoform-planted-${prefix}`);
        fs.writeFileSync(planted, "x");
        fs.chownSync(planted, user.uid, user.gid);
        // what a build left running: a background job in its own session
        for (let i = 0; i < 2; i++) started.push(spawn("sleep", ["600"], { uid: user.uid, gid: user.gid, stdio: "ignore", detached: true }).pid!);
        for (let i = 0; i < 100 && processesOf(user.uid).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
        expect(processesOf(user.uid)).toHaveLength(2);

        const d = await cli("apps:destroy", "-a", "shop", "--confirm", "shop");
        expect(d.code).toBe(0);
        expect(processesOf(user.uid)).toEqual([]);
        expect(fs.existsSync(cache)).toBe(false);
        expect(fs.existsSync(planted)).toBe(false);
        expect(fs.readFileSync("/etc/passwd", "utf8")).not.toMatch(new RegExp(`^${user.name}:`, "m"));

        await cli("apps:create", "shop");
        expect(buildUsers.existing("shop")).toBeUndefined(); // made again on the first push, with nothing of the old one
        expect(fs.existsSync(cache)).toBe(false);
    });

    asRoot("a same-named user that is not a dynoform build user is left alone", async () => {
        buildUsers = new BuildUsers(prefix);
        const name = `${prefix}shop`;
        execFileSync("useradd", ["--system", "--no-create-home", "--comment", "someone else", name]);
        await cli("apps:create", "shop");
        expect((await cli("apps:destroy", "-a", "shop", "--confirm", "shop")).code).toBe(0);
        expect(fs.readFileSync("/etc/passwd", "utf8")).toMatch(new RegExp(`^${name}:`, "m"));
    });
});

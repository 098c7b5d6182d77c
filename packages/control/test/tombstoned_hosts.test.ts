// A dyno host that may still run a destroyed app of the same name (its tombstone names it) loses that
// app before any router hears of the host in the new app's placement: a router accepts a host's
// registrations for the apps placed on it, so the old incarnation's dynos there would register under
// the new app's name in between. Rollout, scale and the placement loop alike.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AppStore, Formation, Release } from "../src/app_store";
import { BuildLog } from "../src/build_log";
import { RemoteFleet } from "../src/remote_fleet";
import { close, FakeAgent, jsonServer, listen } from "./helpers/fake_agent";

jest.setTimeout(30_000);

/** Every request any fake got, in order: "<who> <METHOD> <url>" (the router's placement PUTs with their hosts). */
const journal: string[] = [];
const B = "127.0.0.2";

let root: string;
let store: AppStore;
let a: FakeAgent;
let b: FakeAgent;
let router: ReturnType<typeof jsonServer>;
let fleet: RemoteFleet;
const web = (quantity: number): Formation => ({ web: { quantity, size: "standard-1x" } });

beforeEach(async () => {
    journal.length = 0;
    root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-tombstoned-"));
    store = new AppStore(root);
    await store.init();
    a = new FakeAgent("a", journal);
    b = new FakeAgent("b", journal);
    router = jsonServer(({ req, url, body, json }) => {
        const hosts = url.endsWith("/placement") && req.method === "PUT" ? ` ${(body.hosts as string[]).join(",")}` : "";
        journal.push(`router ${req.method} ${url}${hosts}`);
        if (url === "/v1/apps" && req.method === "GET") return json({ apps: [] });
        json({});
    });
    // b on an address of its own: the routers tell the hosts apart by address.
    fleet = new RemoteFleet(store, { agents: [await listen(a.server), await listen(b.server, B)], agentToken: "agent-token", routers: [await listen(router)], routerToken: "router-token", slugBaseUrl: "http://127.0.0.1:1/slugs" });
});

afterEach(async () => {
    for (const s of [a.server, b.server, router]) await close(s);
    fs.rmSync(root, { recursive: true, force: true });
});

async function deploy(marker: string, formation: Formation): Promise<Release> {
    const release = await store.createRelease("shop", { slug: { sha256: "5".repeat(64), size: 1 }, config: { MARKER: marker }, processTypes: { web: "node server.js" }, commit: "0123456", description: "Deploy 0123456" });
    await fleet.rollout("shop", release, formation, new BuildLog(() => undefined));
    await store.setFormation("shop", formation);
    await store.setReleaseStatus("shop", release.version, "succeeded");
    return release;
}

/** shop ran on a and b; b was down while it was destroyed, and a new shop was created meanwhile. */
async function destroyedWhileBWasDown(): Promise<void> {
    await store.createApp("shop");
    await deploy("old", web(2));
    expect(b.apps.get("shop")?.dynos).toEqual(["web.2"]);
    b.down = true;
    await fleet.stopAll("shop");
    await store.destroyApp("shop");
    await store.createApp("shop");
}

/** Where in the journal b lost the old app, and where a router first heard of b in shop's placement. */
function order(): { cleared: number; heard: number } {
    return {
        cleared: journal.indexOf("b DELETE /v1/apps/shop"),
        heard: journal.findIndex((l) => l.startsWith("router PUT /v1/apps/shop/placement") && l.split(" ")[3].split(",").includes(B)),
    };
}

test("rollout: the returned host loses the destroyed app before the routers hear of it", async () => {
    await destroyedWhileBWasDown();
    b.down = false;
    journal.length = 0;
    await deploy("new", web(2));
    const { cleared, heard } = order();
    expect(cleared).toBeGreaterThanOrEqual(0);
    expect(heard).toBeGreaterThan(cleared);
    expect(b.apps.get("shop")).toMatchObject({ env: { MARKER: "new" } });
});

test("scale: the host a new dyno goes to loses the destroyed app before the routers hear of it", async () => {
    await destroyedWhileBWasDown();
    const release = await deploy("new", web(1)); // b still down: web.1 on a
    b.down = false;
    journal.length = 0;
    await fleet.scale("shop", release, web(2));
    const { cleared, heard } = order();
    expect(cleared).toBeGreaterThanOrEqual(0);
    expect(heard).toBeGreaterThan(cleared);
    expect(b.apps.get("shop")).toMatchObject({ env: { MARKER: "new" }, dynos: ["web.2"] });
});

test("placement loop: a host whose destroyed app will not go is never announced; once it goes, it is cleared first", async () => {
    await destroyedWhileBWasDown();
    await deploy("new", web(2)); // b still down: both dynos on a
    b.down = false;
    b.failDelete = true;
    journal.length = 0;
    await fleet.reconcile();
    expect(order().heard).toBe(-1);
    expect(b.apps.get("shop")).toMatchObject({ env: { MARKER: "old" } });

    b.failDelete = false;
    journal.length = 0;
    await fleet.reconcile();
    const { cleared, heard } = order();
    expect(cleared).toBeGreaterThanOrEqual(0);
    if (heard >= 0) expect(heard).toBeGreaterThan(cleared);
    expect(b.apps.get("shop")?.env).not.toEqual({ MARKER: "old" });
});

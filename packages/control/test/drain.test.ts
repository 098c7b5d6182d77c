// hosts:drain against the real RemoteFleet and fake agents and router over HTTP: a drained host
// gets no dyno, its dynos move to the others with each replacement up before the old one stops, and
// the placement loop moves dynos a deploy put there meanwhile. The verbs' wording is in the CLI test
// below (fake fleet).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AppStore, Formation, Release } from "../src/app_store";
import { BuildLog } from "../src/build_log";
import { RemoteFleet } from "../src/remote_fleet";
import { close, FakeAgent, jsonServer, listen } from "./helpers/fake_agent";
import { harness } from "./helpers/cli_harness";

jest.setTimeout(30_000);

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
    root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-drain-"));
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
    fleet = new RemoteFleet(store, { agents: [await listen(a.server), await listen(b.server, B)], agentToken: "agent-token", routers: [await listen(router)], routerToken: "router-token", slugBaseUrl: "http://127.0.0.1:1/slugs" });
    await store.createApp("shop");
});

afterEach(async () => {
    for (const s of [a.server, b.server, router]) await close(s);
    fs.rmSync(root, { recursive: true, force: true });
});

async function deploy(formation: Formation): Promise<Release> {
    const release = await store.createRelease("shop", { slug: { sha256: "5".repeat(64), size: 1 }, config: {}, processTypes: { web: "node server.js" }, commit: "0123456", description: "Deploy 0123456" });
    await fleet.rollout("shop", release, formation, new BuildLog(() => undefined));
    await store.setFormation("shop", formation);
    await store.setReleaseStatus("shop", release.version, "succeeded");
    return release;
}

test("drain moves the host's dynos to the others, each up before the old stops; new placements skip it; undrain lets it take dynos again", async () => {
    await deploy(web(2));
    expect(b.apps.get("shop")?.dynos).toEqual(["web.2"]);
    expect(await fleet.hosts()).toEqual([
        { host: "127.0.0.1", state: "up", dynos: 1 },
        { host: B, state: "up", dynos: 1 },
    ]);
    journal.length = 0;
    const lines: string[] = [];
    expect(await fleet.drainHost(B, (l) => lines.push(l))).toEqual({ moved: 1, failed: [] });
    expect(lines).toEqual([`shop: moving web.2 (${B} → 127.0.0.1)`]);
    expect(a.apps.get("shop")?.dynos).toEqual(["web.1", "web.2"]);
    expect(b.apps.has("shop")).toBe(false);
    // The replacement is put and seen up (GET) before the old host loses the app; the routers hear
    // of both hosts before, and only of the one left after.
    const put = journal.indexOf("a PUT /v1/apps/shop");
    const up = journal.indexOf("a GET /v1/apps/shop", put);
    const stopped = journal.indexOf("b DELETE /v1/apps/shop");
    expect(put).toBeGreaterThan(journal.indexOf(`router PUT /v1/apps/shop/placement 127.0.0.1,${B}`));
    expect(up).toBeGreaterThan(put);
    expect(stopped).toBeGreaterThan(up);
    expect(journal.filter((l) => l.startsWith("router PUT /v1/apps/shop/placement")).pop()).toBe("router PUT /v1/apps/shop/placement 127.0.0.1");
    const hosts = await fleet.hosts();
    expect(hosts[1]).toMatchObject({ host: B, dynos: 0, drainedSince: expect.any(String) });

    // idempotent: nothing left to move
    expect(await fleet.drainHost(B, () => undefined)).toEqual({ moved: 0, failed: [] });
    // a deploy and a scale place nothing on the drained host
    await deploy(web(3));
    expect(a.apps.get("shop")?.dynos).toEqual(["web.1", "web.2", "web.3"]);
    expect(b.apps.has("shop")).toBe(false);
    // the last undrained host is not drained
    await expect(fleet.drainHost("127.0.0.1", () => undefined)).rejects.toThrow("127.0.0.1 is the last undrained dyno host that answers: its dynos would have nowhere to go. Undrain or add another dyno host first");

    await fleet.undrainHost(B);
    expect((await fleet.hosts())[1]).toEqual({ host: B, state: "up", dynos: 0 });
    await deploy(web(4));
    expect(b.apps.get("shop")?.dynos.length).toBe(2);
});

test("the placement loop moves dynos a deploy put on a host drained meanwhile, replacement first", async () => {
    await deploy(web(2));
    // as if hosts:drain had run between the deploy's placement and its end
    await fs.promises.mkdir(path.join(root, "hosts"), { recursive: true });
    await fs.promises.writeFile(path.join(root, "hosts", "drained.json"), JSON.stringify({ drained: { [`http://${B}:${(b.server.address() as { port: number }).port}`]: "2026-11-30T00:00:00.000Z" } }));
    journal.length = 0;
    await fleet.reconcile();
    expect(a.apps.get("shop")?.dynos).toEqual(["web.1", "web.2"]);
    expect(b.apps.has("shop")).toBe(false);
    expect(journal.indexOf("b DELETE /v1/apps/shop")).toBeGreaterThan(journal.indexOf("a GET /v1/apps/shop", journal.indexOf("a PUT /v1/apps/shop")));
});

test("an unknown host is refused with the hosts there are", async () => {
    await expect(fleet.drainHost("10.9.9.9", () => undefined)).rejects.toThrow(`10.9.9.9 is not a dyno host of this platform: run "dynoform hosts" to list them (127.0.0.1, ${B})`);
    await expect(fleet.undrainHost("dyno-9")).rejects.toThrow(/dyno-9 is not a dyno host of this platform/);
});

describe("verbs", () => {
    test("hosts, hosts:drain, hosts:undrain", async () => {
        const h = await harness();
        try {
            await h.cli("apps:create", "myapp");
            await h.store.createRelease("myapp", { slug: { sha256: "5".repeat(64), size: 1 }, config: {}, processTypes: { web: "x" }, commit: null, description: "Deploy" }, "succeeded");
            await h.cli("ps:scale", "web=2", "-a", "myapp");
            expect((await h.cli("hosts")).out).toEqual(["=== Dyno Hosts", "Host   State  Drained  Dynos", "─────  ─────  ───────  ─────", "dyno1  up     no       1", "dyno2  up     no       1"]);
            const d = await h.cli("hosts:drain", "dyno2");
            expect(d).toMatchObject({ code: 0, err: ["Draining dyno2...", "  myapp: moving web.2 (dyno2 → dyno1)", "Draining dyno2... done, 1 dyno moved"] });
            expect((await h.cli("hosts")).out[4]).toBe("dyno2  up     since 2026-11-21T18:53:46.000Z  0");
            expect(JSON.parse((await h.cli("hosts", "--json")).out.join("\n"))[1]).toEqual({ host: "dyno2", state: "up", drainedSince: "2026-11-21T18:53:46.000Z", dynos: 0 });
            expect(await h.cli("hosts:undrain", "dyno2")).toMatchObject({ code: 0, err: ["Undraining dyno2... done", "Dynos go to it again from the next deploy or ps:scale (none is moved back at once)."] });
            const bad = await h.cli("hosts:drain", "dyno9");
            expect(bad).toMatchObject({ code: 1, err: [" ▸    dyno9 is not a dyno host of this platform: run \"dynoform hosts\" to list them (dyno1, dyno2)"] });
            expect((await h.cli("hosts:drain")).err[0]).toBe(" ▸    Missing argument for hosts:drain. Usage: dynoform hosts:drain HOST");
        } finally {
            await h.cleanup();
        }
    });
});

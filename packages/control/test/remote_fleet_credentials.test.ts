// The control role's credentials: each agent is driven with its own token, and every change of an
// app's placement reaches the routers (with the control role's token) before agents start dynos on
// a new host; a router that lost placements gets them again from reconcile().
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { AppStore, Release } from "../src/app_store";
import { BuildLog } from "../src/build_log";
import { RemoteFleet } from "../src/remote_fleet";
import { allUp, close, jsonServer, listen } from "./helpers/fake_agent";

interface Seen {
    n: number;
    who: string;
    method: string;
    url: string;
    auth: string | undefined;
    body: Record<string, unknown>;
}

let seq = 0;
const seen: Seen[] = [];

/** A dyno host's agent that answers only its own token and reports its dynos up at once. */
function fakeAgent(who: string, token: string): http.Server {
    const desired = new Map<string, { release: number; dynos: string[] }>();
    return jsonServer(({ req, url, body, json }) => {
        if (url === "/health") return json({ ok: true });
        seen.push({ n: ++seq, who, method: req.method ?? "", url, auth: req.headers.authorization, body });
        if (req.headers.authorization !== `Bearer ${token}`) return json({ error: "unauthorized" }, 401);
        const app = /^\/v1\/apps\/([a-z0-9-]+)/.exec(url)?.[1];
        if (url === "/v1/apps") return json({ apps: [...desired.keys()] });
        if (app && req.method === "PUT") {
            desired.set(app, { release: body.release as number, dynos: body.dynos as string[] });
            return json({ app });
        }
        if (app && req.method === "DELETE") return json({ app, deleted: desired.delete(app) });
        if (app && req.method === "GET" && url === `/v1/apps/${app}`) {
            const d = desired.get(app);
            if (!d) return json({ error: "no app" }, 404);
            return json(allUp(app, d.release, d.dynos));
        }
        json({ error: "not here" }, 404);
    });
}

/** A router's control API: placements by app, as GET /v1/apps shows them. */
function fakeRouter(placements: Map<string, string[]>): http.Server {
    return jsonServer(({ req, url, body, json }) => {
        seen.push({ n: ++seq, who: "router", method: req.method ?? "", url, auth: req.headers.authorization, body });
        if (req.headers.authorization !== "Bearer control-token") return json({ error: "unauthorized" }, 401);
        const placed = /^\/v1\/apps\/([a-z0-9-]+)\/placement$/.exec(url);
        if (placed && req.method === "PUT") {
            placements.set(placed[1], body.hosts as string[]);
            return json({ app: placed[1], hosts: body.hosts });
        }
        if (url === "/v1/apps" && req.method === "GET") return json({ apps: [...placements].map(([name, placement]) => ({ name, placement, dynos: [] })) });
        json({}, 200);
    });
}

let root: string;
let store: AppStore;
let release: Release;
const servers: http.Server[] = [];
const routerPlacements = new Map<string, string[]>();
let one: string;
let two: string;
let router: string;

beforeEach(async () => {
    seen.length = 0;
    routerPlacements.clear();
    root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-fleet-creds-"));
    store = new AppStore(root);
    await store.init();
    await store.createApp("shop");
    release = await store.createRelease("shop", { slug: { sha256: "5".repeat(64), size: 12 }, config: {}, processTypes: { web: "node server.js" }, commit: "0123456", description: "Deploy 0123456" });
    const a = fakeAgent("dyno-1", "token-1");
    const b = fakeAgent("dyno-2", "token-2");
    const r = fakeRouter(routerPlacements);
    servers.push(a, b, r);
    // Two dyno hosts with private addresses of their own (both on loopback).
    one = await listen(a, "127.0.0.1");
    two = await listen(b, "127.0.0.2");
    router = await listen(r, "127.0.0.1");
});

afterEach(async () => {
    while (servers.length) await close(servers.pop()!);
    fs.rmSync(root, { recursive: true, force: true });
});

const fleet = () =>
    new RemoteFleet(store, { agents: [one, two], agentTokens: { [one]: "token-1", [`${two}/`]: "token-2" }, routers: [router], routerToken: "control-token", slugBaseUrl: "http://127.0.0.1:9/slugs" });
const web = (quantity: number) => ({ web: { quantity, size: "standard-1x" } });
const first = (who: string, method: string, url: string) => seen.find((s) => s.who === who && s.method === method && s.url === url);
/** The placements PUT on the router (a router that lost its state also gets the app's route: route_sync.test.ts). */
const placementsSent = () => seen.filter((s) => s.who === "router" && s.method === "PUT" && s.url.endsWith("/placement")).map((s) => s.body.hosts);

test("each agent is driven with its own token, and no agent answers 401", async () => {
    const p = fleet();
    await p.rollout("shop", release, web(2), new BuildLog(() => undefined));
    await p.dynos("shop");
    await p.logs("shop", { num: 10, tail: false }, () => undefined);
    const agentCalls = seen.filter((s) => s.who !== "router");
    expect(agentCalls.filter((s) => s.who === "dyno-1").length).toBeGreaterThan(0);
    expect(agentCalls.filter((s) => s.who === "dyno-2").length).toBeGreaterThan(0);
    for (const s of agentCalls) expect([s.who, s.auth]).toEqual([s.who, s.who === "dyno-1" ? "Bearer token-1" : "Bearer token-2"]);
});

test("an agent without a token is a configuration error", () => {
    expect(() => new RemoteFleet(store, { agents: [one, two], agentTokens: { [one]: "token-1" }, routers: [], routerToken: "control-token", slugBaseUrl: "http://127.0.0.1:9/slugs" })).toThrow(
        `control config: no token for agent ${two} (agentTokens)`,
    );
});

test("routers learn an app's placement before agents start its dynos, and lose a host only once it is cleared", async () => {
    const p = fleet();
    await p.scale("shop", release, web(1));
    // web.1 on dyno-1: the routers hear of it before dyno-1 is asked to start it.
    expect(first("router", "PUT", "/v1/apps/shop/placement")!.n).toBeLessThan(first("dyno-1", "PUT", "/v1/apps/shop")!.n);
    expect(routerPlacements.get("shop")).toEqual(["127.0.0.1"]);
    seen.length = 0;
    await p.scale("shop", release, web(2));
    // web.2 goes to dyno-2: placed there on the routers first.
    const toTwo = seen.find((s) => s.who === "router" && s.method === "PUT" && (s.body.hosts as string[]).includes("127.0.0.2"))!;
    expect(toTwo.n).toBeLessThan(first("dyno-2", "PUT", "/v1/apps/shop")!.n);
    expect(routerPlacements.get("shop")).toEqual(["127.0.0.1", "127.0.0.2"]);
    seen.length = 0;
    await p.scale("shop", release, web(1));
    // dyno-2 keeps its registration rights until it has stopped (and deregistered) its dyno.
    expect(placementsSent()).toEqual([["127.0.0.1", "127.0.0.2"], ["127.0.0.1"]]);
    const last = seen.filter((s) => s.who === "router" && s.method === "PUT" && s.url.endsWith("/placement")).pop()!;
    expect(last.n).toBeGreaterThan(first("dyno-2", "DELETE", "/v1/apps/shop")!.n);
    expect(routerPlacements.get("shop")).toEqual(["127.0.0.1"]);
    for (const s of seen.filter((x) => x.who === "router")) expect(s.auth).toBe("Bearer control-token");
});

test("reconcile sends the placement again to a router that lost it (restart), and not to one that has it", async () => {
    const p = fleet();
    await p.scale("shop", release, web(2));
    routerPlacements.clear(); // the router restarted without its state
    seen.length = 0;
    await p.reconcile();
    expect(placementsSent()).toEqual([["127.0.0.1", "127.0.0.2"]]);
    seen.length = 0;
    await p.reconcile();
    expect(placementsSent()).toEqual([]);
});

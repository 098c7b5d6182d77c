// The placement loop sends a router whose route of an app differs from the control role's state (a
// new or restarted router, a maintenance toggle it missed) the whole route again, and leaves one
// that agrees alone.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AppStore } from "../src/app_store";
import { RemoteFleet } from "../src/remote_fleet";
import { close, FakeAgent, jsonServer, listen } from "./helpers/fake_agent";

let root: string;
let store: AppStore;
let agent: FakeAgent;
let router: ReturnType<typeof jsonServer>;
let fleet: RemoteFleet;
/** The router's routes by app, as it lists them; PUT bodies it got. */
const routes = new Map<string, Record<string, unknown>>();
const puts: string[] = [];

beforeEach(async () => {
    routes.clear();
    puts.length = 0;
    root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-routes-"));
    store = new AppStore(root);
    await store.init();
    agent = new FakeAgent();
    router = jsonServer(({ req, url, body, json }) => {
        if (url === "/v1/apps" && req.method === "GET") return json({ apps: [...routes.entries()].map(([name, r]) => ({ name, configured: true, holdWhenEmpty: true, placement: [], dynos: [], ...r })) });
        const app = /^\/v1\/apps\/([a-z0-9-]+)$/.exec(url)?.[1];
        if (app && req.method === "PUT") {
            puts.push(`${app} ${JSON.stringify(body)}`);
            routes.set(app, body);
        }
        json({});
    });
    fleet = new RemoteFleet(store, { agents: [await listen(agent.server)], agentToken: "t", routers: [await listen(router)], routerToken: "r", slugBaseUrl: "http://127.0.0.1:1/slugs" });
    await store.createApp("shop", { domains: ["shop.dynoform.test", "www.shop.example"] });
    await store.setConfig("shop", { MAINTENANCE_PAGE_URL: "https://pages.example/down.html" });
});

afterEach(async () => {
    for (const s of [agent.server, router]) await close(s);
    fs.rmSync(root, { recursive: true, force: true });
});

test("a router without the app's route, or with a stale one, gets it again; one that agrees is left alone", async () => {
    await fleet.reconcile();
    expect(puts).toEqual([`shop {"domains":["www.shop.example"],"maintenancePageUrl":"https://pages.example/down.html"}`]);
    await fleet.reconcile();
    expect(puts).toHaveLength(1);
    await store.setMaintenance("shop", true); // as if the router missed maintenance:on
    await fleet.reconcile();
    expect(puts[1]).toBe(`shop {"domains":["www.shop.example"],"maintenance":true,"maintenancePageUrl":"https://pages.example/down.html"}`);
    await fleet.reconcile();
    expect(puts).toHaveLength(2);
});

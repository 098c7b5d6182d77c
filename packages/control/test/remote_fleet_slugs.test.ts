// What the fleet tells agents about a slug: a URL and a token made at send time from (app, sha256),
// so a release stored before slug tokens existed (its old URL in v<N>.json) rolls out with both, and
// the token opens that slug, and only it, on the real slug server.
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { AppStore, Release } from "../src/app_store";
import { BuildLog } from "../src/build_log";
import { RemoteFleet } from "../src/remote_fleet";
import { slugToken } from "../src/slug_access";
import { createSlugServer } from "../src/slug_server";
import { close, FakeAgent, listen } from "./helpers/fake_agent";

const KEY = "f00d".repeat(16);

let root: string;
let store: AppStore;
let agent: FakeAgent;
let slugs: http.Server;
let slugBase: string;
let agentUrl: string;
let release: Release;
const sha = "5".repeat(64);

beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-fleet-slugs-"));
    store = new AppStore(root);
    await store.init();
    await store.createApp("shop");
    fs.mkdirSync(store.slugDir("shop"), { recursive: true });
    fs.writeFileSync(store.paths.slugFile("shop", sha), "shop's slug\n");
    // as stored by a control role from before slug tokens: a full URL, on an address it no longer has
    release = await store.createRelease("shop", {
        slug: { url: `http://10.0.0.99:5080/slugs/shop/${sha}.tgz`, sha256: sha, size: 12 },
        config: { GREETING: "hi" },
        processTypes: { web: "node server.js" },
        commit: "0123456",
        description: "Deploy 0123456",
    });
    agent = new FakeAgent();
    agentUrl = await listen(agent.server);
    slugs = createSlugServer({ paths: store.paths, signingKey: KEY });
    slugBase = `${await listen(slugs)}/slugs`;
});

afterEach(async () => {
    await close(agent.server);
    await close(slugs);
    fs.rmSync(root, { recursive: true, force: true });
});

function fleet(signingKey: string | null = KEY): RemoteFleet {
    return new RemoteFleet(store, { agents: [agentUrl], agentToken: "agent-token", routers: [], routerToken: "router-token", slugBaseUrl: `${slugBase}/`, ...(signingKey ? { slugSigningKey: signingKey } : {}) });
}

test("a rollout of an old release sends the slug's URL and token made from (app, sha256), not the stored URL", async () => {
    await fleet().rollout("shop", release, { web: { quantity: 1, size: "standard-1x" } }, new BuildLog(() => undefined));
    const put = agent.seen.find((s) => s.method === "PUT")!;
    expect(put.body.slug).toEqual({ url: `${slugBase}/shop/${sha}.tgz`, sha256: sha, token: slugToken(KEY, "shop", sha) });
    expect(JSON.stringify(agent.seen)).not.toContain(KEY);
    // the agent's download, as it makes it: the token opens this slug on the control's slug server
    const { url, token } = put.body.slug as { url: string; token: string };
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("shop's slug\n");
    expect((await fetch(url)).status).toBe(403);
});

test("the release phase's one-off gets the token too", async () => {
    const out: string[] = [];
    const r = await fleet().runOneOff("shop", release, "node migrate.js", { stdout: (s) => out.push(String(s)), stderr: (s) => out.push(String(s)) }, "release");
    expect(r.exitCode).toBe(0);
    const run = agent.seen.find((s) => s.method === "POST" && s.url.endsWith("/run"))!;
    expect(run.body.slug).toEqual({ url: `${slugBase}/shop/${sha}.tgz`, sha256: sha, token: slugToken(KEY, "shop", sha) });
});

test("without a signing key configured no token is sent, and the download is refused", async () => {
    await fleet(null).scale("shop", release, { web: { quantity: 1, size: "standard-1x" } });
    const put = agent.seen.find((s) => s.method === "PUT")!;
    expect(put.body.slug).toEqual({ url: `${slugBase}/shop/${sha}.tgz`, sha256: sha });
    expect((await fetch((put.body.slug as { url: string }).url)).status).toBe(403);
});

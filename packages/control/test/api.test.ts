import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { AddressInfo } from "node:net";
import { createApiServer, ApiServer } from "../src/api/api_server";
import type { ApiDeps } from "../src/api/api_deps";
import type { BuildSource } from "../src/build_sandbox";
import { LogRouterClient } from "../src/log_router_client";
import { PublicAddresses } from "../src/api/public_addresses";
import type { SourcePolicy } from "../src/api/source_blob_fetch";
import { FakeAccounts } from "./helpers/fake_accounts";
import { harness, Harness } from "./helpers/cli_harness";
import { deploySource, push } from "./helpers/push";

let h: Harness;
let accounts: FakeAccounts;
let server: ApiServer;
let base: string;
let deploys: { app: string; source: BuildSource; commit: string; user: string }[];

const ADMIN = "admin-token";
/** source_blob URLs: 127.0.0.1 stands for the public internet (the tests' blob servers listen there); the rest of 127/8 stays inside. */
const loopbackAsOutside: SourcePolicy = { addresses: new PublicAddresses({ allowed: ["127.0.0.1"] }) };
const ALICE = "alice-token";
const BOB = "bob-token";

async function start(extra: Partial<ApiDeps> = {}) {
    server?.close();
    server = createApiServer({
        store: h.store,
        fleet: h.fleet,
        accounts,
        settings: { domain: "dynoform.test", gitUrl: (a) => `git@control.test:${a}.git`, webUrl: (a) => `http://${a}.dynoform.test/` },
        randomName: () => "misty-river-1001",
        deploy: async (app, source, commit, user, out) => {
            deploys.push({ app, source, commit, user });
            const result = await deploySource(h, source, commit, app, out, user);
            return !(result instanceof Error);
        },
        ...extra,
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeEach(async () => {
    h = await harness();
    accounts = new FakeAccounts();
    accounts.addUser("admin@example.com", ADMIN, true);
    accounts.addUser("alice@example.com", ALICE);
    accounts.addUser("bob@example.com", BOB);
    deploys = [];
    expect((await h.cli("apps:create", "myapp")).code).toBe(0);
    accounts.grant("myapp", "alice@example.com", "own");
    await start();
});
afterEach(() => {
    server.close();
    h.cleanup();
});

async function api(method: string, p: string, opts: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
    const token = opts.token === undefined ? ALICE : opts.token;
    const res = await fetch(base + p, {
        method,
        headers: { Accept: "application/vnd.heroku+json; version=3", ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(opts.body !== undefined || opts.raw !== undefined ? { "Content-Type": "application/json" } : {}), ...opts.headers },
        ...(opts.raw !== undefined ? { body: opts.raw } : opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    let json: any;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return { status: res.status, json, text, headers: res.headers };
}

/** State that no refused request may change. */
const snapshot = async () => JSON.stringify([await h.store.listApps(), await h.store.getConfig("myapp"), await h.store.getFormation("myapp"), await h.store.listReleases("myapp"), await h.store.getDomains("myapp")]);

async function deployed() {
    const { result } = await push(h, { Procfile: "web: ./serve\nworker: ./work\n" });
    expect(result).not.toBeInstanceOf(Error);
}

describe("who is asking", () => {
    test("no token, an unknown one and a revoked one are 401 with Heroku's id", async () => {
        for (const token of [null, "nope"]) {
            const r = await api("GET", "/apps/myapp", { token });
            expect(r.status).toBe(401);
            expect(r.json.id).toBe("unauthorized");
            expect(r.json.message).toMatch(/token|Bearer/);
        }
        expect((await api("GET", "/apps/myapp")).status).toBe(200);
        accounts.revoke(ALICE);
        expect((await api("GET", "/apps/myapp")).json).toMatchObject({ id: "unauthorized", message: expect.stringMatching(/revoked/) });
        expect((await api("GET", "/apps/myapp", { headers: { Authorization: "Basic Zm9vOmJhcg==" }, token: null })).status).toBe(401);
    });

    test("no access is 403, an unknown app 404, and nothing changes", async () => {
        const before = await snapshot();
        expect(await api("GET", "/apps/myapp", { token: BOB })).toMatchObject({ status: 403, json: { id: "forbidden", message: expect.stringMatching(/access to the app myapp/) } });
        expect((await api("PATCH", "/apps/myapp/config-vars", { token: BOB, body: { A: "1" } })).status).toBe(403);
        expect(await api("GET", "/apps/nosuch")).toMatchObject({ status: 404, json: { id: "not_found", message: expect.stringMatching(/Couldn't find that app: nosuch/) } });
        expect((await api("GET", "/apps/Bad_Name")).status).toBe(404);
        expect(await snapshot()).toBe(before);
    });

    test("a collaborator may operate but not destroy; the owner may", async () => {
        accounts.grant("myapp", "bob@example.com", "operate");
        expect((await api("PATCH", "/apps/myapp/config-vars", { token: BOB, body: { A: "1" } })).status).toBe(200);
        expect(await api("DELETE", "/apps/myapp", { token: BOB })).toMatchObject({ status: 403, json: { id: "forbidden", message: "Only the owner of myapp or an administrator may do this." } });
        expect((await h.store.listApps())).toEqual(["myapp"]);
        const r = await api("DELETE", "/apps/myapp");
        expect(r).toMatchObject({ status: 200, json: { name: "myapp" } });
        expect(await h.store.listApps()).toEqual([]);
        expect(accounts.audits.map((e) => [e.user, e.action])).toEqual([
            ["bob@example.com", "config:set"],
            ["alice@example.com", "destroy"],
        ]);
    });

    test("an unknown endpoint is 404 and a wrong method 405, both JSON", async () => {
        expect(await api("GET", "/nothing")).toMatchObject({ status: 404, json: { id: "not_found" } });
        const r = await api("PUT", "/apps/myapp");
        expect(r).toMatchObject({ status: 405, json: { id: "method_not_allowed" } });
        expect(r.headers.get("allow")).toBe("GET, DELETE");
    });

    test("another API version is refused; plain JSON is taken", async () => {
        expect((await api("GET", "/apps/myapp", { headers: { Accept: "application/vnd.heroku+json; version=2" } })).status).toBe(406);
        expect((await api("GET", "/apps/myapp", { headers: { Accept: "application/json" } })).status).toBe(200);
    });
});

describe("bad bodies", () => {
    test("malformed JSON is 400 and a JSON that is not an object too; nothing is applied", async () => {
        await deployed();
        const before = await snapshot();
        const r = await api("PATCH", "/apps/myapp/formation", { raw: "{updates: [" });
        expect(r).toMatchObject({ status: 400, json: { id: "bad_request", message: expect.stringMatching(/not valid JSON/) } });
        expect((await api("PATCH", "/apps/myapp/formation", { raw: "[1]" })).status).toBe(400);
        expect(await snapshot()).toBe(before);
    });

    test("wrong fields are 422 naming the field; one bad update applies none", async () => {
        await deployed();
        const before = await snapshot();
        const calls = h.fleet.calls.length;
        for (const body of [{}, { updates: [] }, { updates: [{ type: "web", quantity: -1 }] }, { updates: [{ type: "web", quantity: 1.5 }] }, { updates: [{ type: "web", quantity: 2 }, { type: "nosuch", quantity: 1 }] }, { updates: [{ type: "web", quantity: 1, size: "performance-l" }] }]) {
            const r = await api("PATCH", "/apps/myapp/formation", { body });
            expect(r.status).toBe(422);
            expect(r.json.id).toBe("invalid_params");
        }
        expect((await api("PATCH", "/apps/myapp/formation", { body: { updates: [{ type: "nosuch", quantity: 1 }] } })).json.message).toBe("Couldn't find that process type (nosuch): myapp has web, worker (declared in its Procfile)");
        expect((await api("PATCH", "/apps/myapp/config-vars", { body: { PORT: "1" } })).json.message).toMatch(/PORT is set by dynoform/);
        expect((await api("PATCH", "/apps/myapp/config-vars", { body: { A: 1 } })).status).toBe(422);
        expect(await snapshot()).toBe(before);
        expect(h.fleet.calls.slice(calls)).toEqual([]);
        expect(accounts.audits).toEqual([]);
    });

    test("a body above the limit is 413", async () => {
        const r = await api("PATCH", "/apps/myapp/config-vars", { raw: JSON.stringify({ A: "x".repeat(1024 * 1024) }) });
        expect(r).toMatchObject({ status: 413, json: { id: "payload_too_large" } });
    });
});

describe("formation", () => {
    test("PATCH scales through ps:scale's path (lock, fleet.scale), audits, and answers the new formation", async () => {
        await deployed();
        const r = await api("PATCH", "/apps/myapp/formation", { body: { updates: [{ type: "web", quantity: 3, size: "Standard-1X" }, { type: "worker", quantity: 1 }] } });
        expect(r.status).toBe(200);
        expect(r.json).toEqual([
            { app: { name: "myapp" }, type: "web", quantity: 3, size: "standard-1x", command: "./serve" },
            { app: { name: "myapp" }, type: "worker", quantity: 1, size: "standard-1x", command: "./work" },
        ]);
        expect(h.fleet.calls.at(-1)).toMatch(/^scale myapp v1 .*"web":\{"quantity":3/);
        expect(accounts.audits.at(-1)).toMatchObject({ user: "alice@example.com", via: "token", app: "myapp", action: "scale", detail: "web=3:Standard-1X worker=1" });
        const one = await api("PATCH", "/apps/myapp/formation/web", { body: { quantity: 0 } });
        expect(one.json).toEqual([{ app: { name: "myapp" }, type: "web", quantity: 0, size: "standard-1x", command: "./serve" }]);
        expect((await h.store.getFormation("myapp")).web.quantity).toBe(0);
        expect((await api("GET", "/apps/myapp/formation")).json.map((f: { type: string; quantity: number }) => `${f.type}=${f.quantity}`)).toEqual(["web=0", "worker=1"]);
    });

    test("a fleet that fails leaves the formation as it was and says so", async () => {
        await deployed();
        const before = await h.store.getFormation("myapp");
        h.fleet.failScale = "dyno1 did not answer";
        const r = await api("PATCH", "/apps/myapp/formation/web", { body: { quantity: 4 } });
        expect(r).toMatchObject({ status: 422, json: { id: "invalid_params", message: expect.stringMatching(/failed, its dynos are as they were: dyno1 did not answer/) } });
        expect(await h.store.getFormation("myapp")).toEqual(before);
    });
});

describe("apps, config vars, releases, dynos, domains", () => {
    test("POST /apps creates (the creator owns it), GET /apps lists what the caller may see", async () => {
        const r = await api("POST", "/apps", { token: BOB, body: { name: "bobapp" } });
        expect(r).toMatchObject({ status: 201, json: { name: "bobapp", web_url: "http://bobapp.dynoform.test/", git_url: "git@control.test:bobapp.git", stack: { name: "dynoform-24" } } });
        expect((await api("GET", "/apps", { token: BOB })).json.map((a: { name: string }) => a.name)).toEqual(["bobapp"]);
        expect((await api("GET", "/apps", { token: ADMIN })).json.map((a: { name: string }) => a.name)).toEqual(["bobapp", "myapp"]);
        expect((await api("POST", "/apps", { body: { name: "myapp" } })).json).toMatchObject({ id: "invalid_params", message: expect.stringMatching(/Name myapp is already taken/) });
        expect((await api("POST", "/apps", { body: {} })).json.name).toBe("misty-river-1001");
    });

    test("config vars: strings set and nulls unset in one release", async () => {
        await deployed();
        await h.cli("config:set", "OLD=1", "-a", "myapp");
        const r = await api("PATCH", "/apps/myapp/config-vars", { body: { NEW: "2", OLD: null, NEVER: null } });
        expect(r.status).toBe(200);
        expect(r.json.NEW).toBe("2");
        expect(r.json.OLD).toBeUndefined();
        const releases = await h.store.listReleases("myapp");
        expect(releases.length).toBe(3);
        expect(releases[0]).toMatchObject({ description: "Set NEW config vars, remove OLD config vars", user: "alice@example.com" });
        expect(accounts.audits.map((e) => `${e.action} ${e.detail}`)).toEqual(["config:set set NEW", "config:unset unset OLD"]);
        expect((await api("GET", "/apps/myapp/config-vars")).json).toMatchObject({ NEW: "2" });
    });

    test("releases list (no config vars), one release, and rollback by version", async () => {
        await deployed();
        await h.cli("config:set", "A=1", "-a", "myapp");
        const list = await api("GET", "/apps/myapp/releases");
        expect(list.json.map((r: { version: number; current: boolean }) => [r.version, r.current])).toEqual([
            [1, false],
            [2, true],
        ]);
        expect(list.text).not.toMatch(/DATABASE_URL|A=1/);
        expect((await api("GET", "/apps/myapp/releases/v1")).json).toMatchObject({ version: 1, description: "Deploy 1a2b3c4" });
        const rb = await api("POST", "/apps/myapp/releases", { body: { release: 1 } });
        expect(rb).toMatchObject({ status: 201, json: { version: 3, description: "Rollback to v1", current: true } });
        expect((await api("POST", "/apps/myapp/releases", { body: { release: 9 } })).json.message).toMatch(/Release v9 not found/);
        expect((await api("POST", "/apps/myapp/releases", { body: { release: "latest" } })).status).toBe(422);
        expect(accounts.audits.at(-1)).toMatchObject({ action: "rollback", detail: "rolled back to v1, now v3" });
    });

    test("dynos: list, restart all or one, run detached", async () => {
        await deployed();
        const list = await api("GET", "/apps/myapp/dynos");
        expect(list.json[0]).toMatchObject({ name: "web.1", type: "web", state: "up", release: { version: 1 } });
        expect((await api("DELETE", "/apps/myapp/dynos")).status).toBe(202);
        expect((await api("DELETE", "/apps/myapp/dynos/web.1")).status).toBe(202);
        expect((await api("DELETE", "/apps/myapp/dynos/web.9")).json.message).toMatch(/Couldn't find that dyno \(web.9\)/);
        expect(h.fleet.calls.filter((c) => c.startsWith("restart"))).toEqual(["restart myapp all", "restart myapp web.1"]);
        const run = await api("POST", "/apps/myapp/dynos", { body: { command: "rake db:migrate" } });
        expect(run).toMatchObject({ status: 201, json: { name: "run.4821", type: "run", command: "rake db:migrate" } });
        expect((await api("POST", "/apps/myapp/dynos", { body: { command: "bash", attach: true } })).status).toBe(422);
    });

    test("domains: add, list, remove", async () => {
        expect(await api("POST", "/apps/myapp/domains", { body: { hostname: "www.Example.com" } })).toMatchObject({ status: 201, json: { hostname: "www.example.com", kind: "custom", cname: "myapp.dynoform.test" } });
        expect((await api("GET", "/apps/myapp/domains")).json.map((d: { hostname: string }) => d.hostname)).toEqual(["myapp.dynoform.test", "www.example.com"]);
        expect((await api("POST", "/apps/myapp/domains", { body: { hostname: "x.dynoform.test" } })).json.message).toMatch(/under the platform domain/);
        expect((await api("DELETE", "/apps/myapp/domains/www.example.com")).status).toBe(200);
        expect((await api("DELETE", "/apps/myapp/domains/myapp.dynoform.test")).json.message).toMatch(/default domain and cannot be removed/);
        expect(h.fleet.routes.get("myapp")).toEqual(["myapp.dynoform.test"]);
    });
});

describe("pagination and rate limit", () => {
    test("Range with max pages the list; Next-Range names the next page", async () => {
        for (const a of ["app-b", "app-c", "app-a"]) await h.cli("apps:create", a);
        const first = await api("GET", "/apps", { token: ADMIN, headers: { Range: "name ..; max=2" } });
        expect(first.status).toBe(206);
        expect(first.json.map((a: { name: string }) => a.name)).toEqual(["app-a", "app-b"]);
        expect(first.headers.get("next-range")).toBe("name ]app-b..; max=2");
        const second = await api("GET", "/apps", { token: ADMIN, headers: { Range: first.headers.get("next-range")! } });
        expect(second.status).toBe(200);
        expect(second.json.map((a: { name: string }) => a.name)).toEqual(["app-c", "myapp"]);
        expect(second.headers.get("next-range")).toBeNull();
        const byId = await api("GET", "/apps", { token: ADMIN, headers: { Range: "id ..; max=10" } });
        expect(byId.json.map((a: { id: string }) => a.id)).toEqual(byId.json.map((a: { id: string }) => a.id).sort());
        expect(byId.json).toHaveLength(4);
        const desc = await api("GET", "/apps", { token: ADMIN, headers: { Range: "name ..; max=1, order=desc" } });
        expect(desc.json.map((a: { name: string }) => a.name)).toEqual(["myapp"]);
        expect((await api("GET", "/apps", { token: ADMIN, headers: { Range: "color ..; max=1" } })).status).toBe(416);
        expect((await api("GET", "/apps", { token: ADMIN, headers: { Range: "name ..; max=0" } })).status).toBe(416);
    });

    test("each token has its own allowance; past it, 429 until it refills", async () => {
        await start({ requestsPerHour: 3 });
        const seen = [];
        for (let i = 0; i < 4; i++) {
            const r = await api("GET", "/apps/myapp");
            seen.push([r.status, r.headers.get("ratelimit-remaining")]);
        }
        expect(seen).toEqual([
            [200, "2"],
            [200, "1"],
            [200, "0"],
            [429, "0"],
        ]);
        expect((await api("GET", "/apps/myapp")).json).toMatchObject({ id: "rate_limit" });
        expect((await api("GET", "/apps/myapp", { token: ADMIN })).status).toBe(200);
    });
});

describe("streams", () => {
    test("a log session's logplex_url streams the app's lines; a changed or foreign URL is 403", async () => {
        const r = await api("POST", "/apps/myapp/log-sessions", { body: { lines: 10, source: "app" } });
        expect(r.status).toBe(201);
        const url = new URL(r.json.logplex_url);
        expect(url.pathname).toBe("/log-streams/myapp");
        const logs = await fetch(r.json.logplex_url);
        expect(await logs.text()).toBe("2026-11-21T19:53:46+00:00 app[web.1]: listening on 5000\n");
        expect(h.fleet.calls.at(-1)).toMatch(/^logs myapp \{"num":10,"tail":false,"source":"app"/);
        const other = r.json.logplex_url.replace("/log-streams/myapp", "/log-streams/other");
        expect((await fetch(other)).status).toBe(403);
        expect((await api("POST", "/apps/myapp/log-sessions", { token: BOB, body: {} })).status).toBe(403);
        expect((await api("POST", "/apps/myapp/log-sessions", { body: { lines: 5000 } })).status).toBe(422);
    });

    test("a tailing log session reads from the log router and lets go of it when its reader does", async () => {
        let upstreamClosed = false;
        const logplex = http.createServer((req, res) => {
            if (!req.url?.startsWith("/v1/apps/myapp/logs")) return void res.writeHead(404).end();
            expect(req.url).toContain("tail=1");
            res.writeHead(200, { "Content-Type": "text/plain" });
            res.write("2026-11-21T19:53:46+00:00 app[web.1]: first\n");
            req.socket.once("close", () => (upstreamClosed = true));
        });
        await new Promise<void>((r) => logplex.listen(0, "127.0.0.1", r));
        try {
            Object.assign(h.fleet, { logRouter: new LogRouterClient({ url: `http://127.0.0.1:${(logplex.address() as AddressInfo).port}`, token: "t" }) });
            const session = await api("POST", "/apps/myapp/log-sessions", { body: { tail: true } });
            const reader = new AbortController();
            const stream = await fetch(session.json.logplex_url, { signal: reader.signal });
            const first = await stream.body!.getReader().read();
            expect(Buffer.from(first.value!).toString()).toBe("2026-11-21T19:53:46+00:00 app[web.1]: first\n");
            reader.abort();
            for (let i = 0; i < 100 && !upstreamClosed; i++) await new Promise((r) => setTimeout(r, 20));
            expect(upstreamClosed).toBe(true);
        } finally {
            logplex.closeAllConnections();
            logplex.close();
        }
    });

    test("a build from an uploaded tarball deploys through the push path and streams its output", async () => {
        const src = fs.mkdtempSync(path.join(h.root, "src-"));
        fs.writeFileSync(path.join(src, "Procfile"), "web: ./serve\n");
        const tgz = execFileSync("tar", ["-czf", "-", "-C", src, "."]);
        const res = await fetch(`${base}/apps/myapp/builds`, { method: "POST", headers: { Authorization: `Bearer ${ALICE}`, "Content-Type": "application/gzip" }, body: tgz });
        expect(res.status).toBe(201);
        const build = (await res.json()) as { id: string; status: string; output_stream_url: string };
        expect(build.status).toBe("pending");
        const output = await (await fetch(build.output_stream_url)).text();
        expect(output).toMatch(/Released v1\n/);
        expect(output).toMatch(/app detected/);
        expect(deploys).toHaveLength(1);
        expect(deploys[0]).toMatchObject({ app: "myapp", user: "alice@example.com", commit: build.id.replace(/-/g, "") });
        expect("tarball" in deploys[0].source).toBe(true);
        const done = await api("GET", `/apps/myapp/builds/${build.id}`);
        expect(done.json).toMatchObject({ status: "succeeded", release: { version: 1 } });
        expect(accounts.audits.at(-1)).toMatchObject({ action: "deploy", detail: `build ${build.id} released v1` });
    });

    test("a build from a source_blob URL fetches the tarball, then builds it", async () => {
        await start({ sourcePolicy: loopbackAsOutside });
        const src = fs.mkdtempSync(path.join(h.root, "src-"));
        fs.writeFileSync(path.join(src, "Procfile"), "web: ./serve\n");
        const tgz = execFileSync("tar", ["-czf", "-", "-C", src, "."]);
        const blobs = http.createServer((_req, res) => res.end(tgz));
        await new Promise<void>((r) => blobs.listen(0, "127.0.0.1", r));
        try {
            const url = `http://127.0.0.1:${(blobs.address() as AddressInfo).port}/source.tgz`;
            const r = await api("POST", "/apps/myapp/builds", { body: { source_blob: { url, version: "feedbeef" } } });
            expect(r).toMatchObject({ status: 201, json: { status: "pending", source_blob: { url, version: "feedbeef" } } });
            const output = await (await fetch(r.json.output_stream_url)).text();
            expect(output).toMatch(/^-----> Fetching source...\n[^]*Released v1\n/);
            expect((await h.store.currentRelease("myapp"))).toMatchObject({ version: 1, commit: "feedbeef", description: "Deploy feedbee", processTypes: { web: "./serve" } });
        } finally {
            blobs.close();
        }
    });

    test("a build's source_blob must be an http(s) URL; an unreachable one fails the build, not the request", async () => {
        expect((await api("POST", "/apps/myapp/builds", { body: { source_blob: { url: "file:///etc/passwd" } } })).status).toBe(422);
        expect((await api("POST", "/apps/myapp/builds", { body: {} })).status).toBe(422);
        await start({ sourcePolicy: loopbackAsOutside });
        const r = await api("POST", "/apps/myapp/builds", { body: { source_blob: { url: "http://127.0.0.1:1/source.tgz", version: "abc1234" } } });
        expect(r.status).toBe(201);
        const output = await (await fetch(r.json.output_stream_url)).text();
        expect(output).toMatch(/^-----> Fetching source...\n !     .*\n !     Build failed: the previous release is still serving\n$/);
        expect(deploys).toEqual([]);
        expect((await api("GET", `/apps/myapp/builds/${r.json.id}`)).json.status).toBe("failed");
    });

    test("a source_blob URL into the platform's own network is refused with 422, and nothing connects there", async () => {
        // The API itself on loopback stands for every service of the control host.
        let reached = 0;
        const inside = http.createServer((_req, res) => (reached++, res.end("secret")));
        await new Promise<void>((r) => inside.listen(0, "127.0.0.1", r));
        const port = (inside.address() as AddressInfo).port;
        try {
            for (const url of [
                `http://127.0.0.1:${port}/`,
                `http://localhost:${port}/`,
                `http://[::ffff:127.0.0.1]:${port}/`,
                `http://2130706433:${port}/`,
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                "http://10.213.1.30:5432/",
                "http://192.168.0.1/",
                "http://[::1]:5200/",
                "http://[fd00:ec2::254]/",
                "https://user:secret@example.com/source.tgz",
                "ftp://example.com/source.tgz",
            ]) {
                const r = await api("POST", "/apps/myapp/builds", { body: { source_blob: { url } } });
                expect([url, r.status, r.json.id]).toEqual([url, 422, "invalid_params"]);
                expect(r.json.message).toMatch(/^source_blob\.url must be a public http\(s\) URL: .+\. Upload the tarball as the body instead: curl .*-H 'Content-Type: application\/gzip' --data-binary @source\.tgz http:\/\/127\.0\.0\.1:\d+\/apps\/myapp\/builds/);
            }
            expect(reached).toBe(0);
            expect(deploys).toEqual([]);
            expect(accounts.audits).toEqual([]);
        } finally {
            inside.close();
        }
    });

    test("a public source_blob URL that redirects inside fails the build before the redirect is followed", async () => {
        let reached = 0;
        const inside = http.createServer((_req, res) => (reached++, res.end("secret")));
        await new Promise<void>((r) => inside.listen(0, "127.0.0.2", r));
        const blobs = http.createServer((_req, res) => res.writeHead(302, { Location: `http://127.0.0.2:${(inside.address() as AddressInfo).port}/` }).end());
        await new Promise<void>((r) => blobs.listen(0, "127.0.0.1", r));
        try {
            await start({ sourcePolicy: loopbackAsOutside });
            const r = await api("POST", "/apps/myapp/builds", { body: { source_blob: { url: `http://127.0.0.1:${(blobs.address() as AddressInfo).port}/source.tgz` } } });
            expect(r.status).toBe(201);
            const output = await (await fetch(r.json.output_stream_url)).text();
            expect(output).toMatch(/^-----> Fetching source...\n !     .*redirected to http:\/\/127\.0\.0\.2:\d+\/: 127\.0\.0\.2 is a loopback address.*\n !     Build failed/);
            expect(reached).toBe(0);
            expect(deploys).toEqual([]);
        } finally {
            blobs.close();
            inside.close();
        }
    });

    test("a tarball with one top folder (GitHub's archive links) builds the app inside it", async () => {
        const src = fs.mkdtempSync(path.join(h.root, "src-"));
        fs.mkdirSync(path.join(src, "myapp-main"));
        fs.writeFileSync(path.join(src, "myapp-main", "Procfile"), "web: ./serve\n");
        const tgz = execFileSync("tar", ["-czf", "-", "-C", src, "."]);
        const res = await fetch(`${base}/apps/myapp/builds`, { method: "POST", headers: { Authorization: `Bearer ${ALICE}`, "Content-Type": "application/gzip" }, body: tgz });
        expect(res.status).toBe(201);
        const build = (await res.json()) as { output_stream_url: string };
        expect(await (await fetch(build.output_stream_url)).text()).toMatch(/Released v1\n/);
        expect(await h.store.currentRelease("myapp")).toMatchObject({ version: 1, processTypes: { web: "./serve" } });
    });
});

test("GET /openapi.json describes every route of the table, without a token", async () => {
    const r = await api("GET", "/openapi.json", { token: null });
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe("3.0.3");
    const described = Object.entries(r.json.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(described.sort()).toEqual(server.routes.map((rt) => `${rt.method} ${rt.path}`).sort());
    expect(r.json.paths["/apps/{app}/formation"].patch.requestBody.content["application/json"].schema.required).toEqual(["updates"]);
    // Every reference names a schema the document holds.
    for (const [, ref] of r.text.matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)) expect(Object.keys(r.json.components.schemas)).toContain(ref);
});

// The web dashboard over a real loopback server: sign-in, who sees what, escaping, CSRF, and
// changes going through the verbs' own paths.
import { deployed, DashboardServer, startDashboard } from "./helpers/dashboard_server";
import { MetricsHistory } from "../src/dashboard/metrics_history";
import { parseRouterMetrics, RouterCounters } from "../src/dashboard/router_metrics";
import { escapeHtml, html } from "../src/dashboard/html";
import { platformWatch } from "../src/dashboard/platform_watch";

let d: DashboardServer;
beforeEach(async () => {
    d = await startDashboard();
    await d.h.cli("apps:create", "myapp");
    d.accounts.grant("myapp", "alice", "own");
    await deployed(d.h, "myapp");
});
afterEach(() => d.close());

interface Browser {
    cookie?: string;
    get(path: string, headers?: Record<string, string>): Promise<Response>;
    post(path: string, fields: Record<string, string>, headers?: Record<string, string>): Promise<Response>;
    csrf(path?: string): Promise<string>;
}

function browser(): Browser {
    const b: Browser = {
        async get(path, headers = {}) {
            return fetch(d.url + path, { redirect: "manual", headers: { ...(b.cookie ? { cookie: b.cookie } : {}), ...headers } });
        },
        async post(path, fields, headers = {}) {
            const res = await fetch(d.url + path, {
                method: "POST",
                redirect: "manual",
                headers: { "content-type": "application/x-www-form-urlencoded", ...(b.cookie ? { cookie: b.cookie } : {}), ...headers },
                body: new URLSearchParams(fields).toString(),
            });
            const set = res.headers.get("set-cookie");
            if (set) b.cookie = set.split(";")[0];
            return res;
        },
        async csrf(path = "/apps") {
            const text = await (await b.get(path)).text();
            return /name="_csrf" value="([^"]+)"/.exec(text)![1];
        },
    };
    return b;
}

async function signedIn(token: string): Promise<Browser> {
    const b = browser();
    const res = await b.post("/sign-in", { token });
    expect(res.status).toBe(303);
    return b;
}

describe("sign-in", () => {
    test("a good token gets a session cookie (HttpOnly, SameSite=Strict, not the token) and the apps page", async () => {
        const b = browser();
        const res = await b.post("/sign-in", { token: "token-a" });
        expect(res.status).toBe(303);
        expect(res.headers.get("location")).toBe("/apps");
        const cookie = res.headers.get("set-cookie")!;
        expect(cookie).toMatch(/^dynoform_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
        expect(cookie).not.toContain("token-a");
        const apps = await b.get("/apps");
        expect(apps.status).toBe(200);
        expect(apps.headers.get("content-security-policy")).toContain("script-src 'self'");
        expect(await apps.text()).toContain('href="/apps/myapp"');
    });

    test("behind the TLS edge the cookie is Secure with the __Host- prefix", async () => {
        const res = await browser().post("/sign-in", { token: "token-a" }, { "x-forwarded-proto": "https" });
        expect(res.headers.get("set-cookie")).toMatch(/^__Host-dynoform_session=\S+; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    });

    test("a bad token is refused with a clear answer and no cookie", async () => {
        const res = await browser().post("/sign-in", { token: "nope" });
        expect(res.status).toBe(401);
        expect(res.headers.get("set-cookie")).toBeNull();
        expect(await res.text()).toContain("That API token is not valid: it may be mistyped, revoked or expired.");
        expect((await browser().post("/sign-in", { token: "" })).status).toBe(400);
    });

    test("ten failed sign-ins from one address in a minute hold that address back, not others", async () => {
        for (let i = 0; i < 10; i++) expect((await browser().post("/sign-in", { token: `guess${i}` }, { "x-forwarded-for": "203.0.113.7" })).status).toBe(401);
        const held = await browser().post("/sign-in", { token: "token-a" }, { "x-forwarded-for": "203.0.113.7" });
        expect(held.status).toBe(429);
        expect(held.headers.get("retry-after")).toBe("60");
        expect((await browser().post("/sign-in", { token: "token-a" }, { "x-forwarded-for": "198.51.100.2" })).status).toBe(303);
        d.h.clock.now = new Date(d.h.clock.now.getTime() + 61_000);
        expect((await browser().post("/sign-in", { token: "token-a" }, { "x-forwarded-for": "203.0.113.7" })).status).toBe(303);
    });

    test("without a session pages redirect to sign-in; a revoked token ends the session at once", async () => {
        expect((await browser().get("/apps/myapp")).headers.get("location")).toBe("/sign-in");
        const b = await signedIn("token-a");
        expect((await b.get("/apps/myapp")).status).toBe(200);
        d.accounts.revoke("token-a");
        const res = await b.get("/apps/myapp");
        expect(res.status).toBe(303);
        expect(res.headers.get("location")).toBe("/sign-in");
        expect((await b.get("/apps/myapp/logs/stream")).status).toBe(401);
    });

    test("sign-out needs the form's CSRF token and ends the session", async () => {
        const b = await signedIn("token-a");
        expect((await b.post("/sign-out", {})).status).toBe(403);
        const out = await b.post("/sign-out", { _csrf: await b.csrf() });
        expect(out.headers.get("location")).toBe("/sign-in?ended=1");
        expect((await b.get("/apps")).status).toBe(303);
    });
});

describe("who sees what", () => {
    test("an app B may not see is a 404, exactly like one that does not exist; the apps list leaves it out", async () => {
        const b = await signedIn("token-b");
        expect(await (await b.get("/apps")).text()).not.toContain("myapp");
        const hidden = await b.get("/apps/myapp");
        const missing = await b.get("/apps/noapp");
        expect([hidden.status, missing.status]).toEqual([404, 404]);
        expect(await hidden.text()).toContain(escapeHtml("Couldn't find that app: myapp. It does not exist, or you have no access to it"));
        expect((await b.get("/apps/myapp/config-vars/DATABASE_URL")).status).toBe(404);
        expect((await b.get("/apps/myapp/logs")).status).toBe(404);
        const post = await b.post("/apps/myapp/formation", { _csrf: await b.csrf(), "quantity.web": "5" });
        expect(post.status).toBe(404);
        expect((await d.h.store.getFormation("myapp")).web.quantity).toBe(1);
    });

    test("a reader sees the app but no forms, and a POST is refused with 403", async () => {
        d.accounts.grant("myapp", "bob", "read");
        const b = await signedIn("token-b");
        const text = await (await b.get("/apps/myapp")).text();
        expect(text).toContain("You may see myapp but not change it");
        expect(text).not.toContain('action="/apps/myapp/formation"');
        const post = await b.post("/apps/myapp/formation", { _csrf: await b.csrf(), "quantity.web": "5" });
        expect(post.status).toBe(403);
        expect(d.h.fleet.calls.filter((c) => c.startsWith("scale"))).toEqual([]);
        expect(d.accounts.audits).toEqual([]);
    });

    test("the platform page is for administrators", async () => {
        expect((await (await signedIn("token-a")).get("/platform")).status).toBe(403);
        const root = await signedIn("token-root");
        const res = await root.get("/platform");
        expect(res.status).toBe(200);
        const text = await res.text();
        expect(text).toContain("Dyno hosts");
        expect(text).toMatch(/<td class="mono">dyno1<\/td><td class="state-up">up<\/td><td>no<\/td><td>1<\/td>/);
    });
});

describe("escaping", () => {
    const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>`;
    test("hostile config values, commands, user names and log lines are text, never markup", async () => {
        await d.h.cli("config:set", `EVIL=${HOSTILE}`, "-a", "myapp");
        await deployed(d.h, "myapp", { web: `./serve '${HOSTILE}'` }, "9f8e7d6", HOSTILE);
        d.accounts.addUser(HOSTILE, "token-evil", true);
        d.h.fleet.logLines = [`app[web.1]: ${HOSTILE}`];
        const b = await signedIn("token-evil");
        const page = await (await b.get("/apps/myapp?reveal=EVIL")).text();
        expect(page).not.toContain("<script>alert");
        expect(page).not.toContain("<img src=x");
        expect(page).toContain(escapeHtml(HOSTILE));
        // Hidden until asked: without ?reveal the value is not in the page.
        const plain = await (await b.get("/apps/myapp")).text();
        expect(plain.match(/&#60;script&#62;/g)?.length).toBe(3); // command, release user, top bar: not the config value
        const json = await b.get("/apps/myapp/config-vars/EVIL");
        expect(json.headers.get("content-type")).toContain("application/json");
        expect(await json.json()).toEqual({ key: "EVIL", value: HOSTILE });
        const stream = await (await b.get("/apps/myapp/logs/stream")).text();
        expect(stream).toContain(`data: app[web.1]: ${HOSTILE}\n\n`); // the script inserts it as text
    });

    test("the html tag escapes every value but its own output", () => {
        expect(html`<p title="${`"'><`}">${"<b>"}${html`<i>${"&"}</i>`}${[1, "<", undefined, false]}</p>`.text).toBe(`<p title="&#34;&#39;&#62;&#60;">&#60;b&#62;<i>&#38;</i>1&#60;</p>`);
    });
});

describe("changes", () => {
    test("a POST without the session's CSRF token, or from another site, changes nothing", async () => {
        const b = await signedIn("token-a");
        for (const csrf of [undefined, "forged"]) {
            const res = await b.post("/apps/myapp/formation", { ...(csrf ? { _csrf: csrf } : {}), "quantity.web": "3" });
            expect(res.status).toBe(403);
            expect(await res.text()).toContain("nothing was changed");
        }
        const other = await signedIn("token-root");
        expect((await b.post("/apps/myapp/formation", { _csrf: await other.csrf(), "quantity.web": "3" })).status).toBe(403);
        expect((await b.post("/apps/myapp/formation", { _csrf: await b.csrf(), "quantity.web": "3" }, { origin: "https://evil.example" })).status).toBe(403);
        expect((await d.h.store.getFormation("myapp")).web.quantity).toBe(1);
        expect(d.h.fleet.calls.filter((c) => c.startsWith("scale"))).toEqual([]);
    });

    test("scaling runs ps:scale's own path: the same fleet call, formation, message and audit entry", async () => {
        const b = await signedIn("token-a");
        const res = await b.post("/apps/myapp/formation", { _csrf: await b.csrf(), "quantity.web": "3" });
        expect(res.status).toBe(303);
        expect(res.headers.get("location")).toBe("/apps/myapp");
        const byDashboard = d.h.fleet.calls.filter((c) => c.startsWith("scale"));
        expect((await d.h.store.getFormation("myapp")).web.quantity).toBe(3);
        expect(d.accounts.audits).toEqual([{ at: expect.any(String), user: "alice", via: "token", app: "myapp", action: "scale", detail: "web=3" }]);
        expect(await (await b.get("/apps/myapp")).text()).toContain("Scaling dynos... done, now running web at 3:standard-1x");
        // The CLI verb makes the very same call.
        await d.h.cli("ps:scale", "web=1", "-a", "myapp");
        await d.h.cli("ps:scale", "web=3", "-a", "myapp");
        expect(d.h.fleet.calls.filter((c) => c.startsWith("scale")).at(-1)).toBe(byDashboard[0]);
    });

    test("bad scaling input gets the verb's or the form's clear answer, nothing applied", async () => {
        const b = await signedIn("token-a");
        await b.post("/apps/myapp/formation", { _csrf: await b.csrf(), "quantity.web": "many" });
        expect(await (await b.get("/apps/myapp")).text()).toContain("The quantity of web must be a whole number from 0 to 100, not &#34;many&#34;");
        await b.post("/apps/myapp/formation", { _csrf: await b.csrf(), "quantity.worker": "2" });
        expect(await (await b.get("/apps/myapp")).text()).toContain(escapeHtml("Couldn't find that process type (worker): myapp has web"));
        expect(d.accounts.audits).toEqual([]);
        expect((await d.h.store.getFormation("myapp")).web.quantity).toBe(1);
    });

    test("config:set makes a release; the audit names the key, never the value; rollback makes another", async () => {
        const b = await signedIn("token-a");
        await b.post("/apps/myapp/config", { _csrf: await b.csrf(), key: "GREETING", value: "s3cret=yes" });
        expect((await d.h.store.getConfig("myapp")).GREETING).toBe("s3cret=yes");
        expect((await d.h.store.currentRelease("myapp"))!.description).toBe("Set GREETING config vars");
        expect((await d.h.store.currentRelease("myapp"))!.user).toBe("alice");
        expect(JSON.stringify(d.accounts.audits)).not.toContain("s3cret");
        await b.post("/apps/myapp/config", { _csrf: await b.csrf(), key: "PORT", value: "1" });
        expect(await (await b.get("/apps/myapp")).text()).toContain("PORT is set by dynoform in every dyno and cannot be changed");
        await b.post("/apps/myapp/rollback", { _csrf: await b.csrf(), version: "v1" });
        const current = (await d.h.store.currentRelease("myapp"))!;
        expect(current.description).toBe("Rollback to v1");
        expect((await d.h.store.getConfig("myapp")).GREETING).toBeUndefined();
        expect(d.accounts.audits.map((a) => `${a.action} ${a.detail}`)).toEqual(["config:set Set GREETING", "rollback Rollback to v1"]);
    });

    test("domains and restart go through their verbs", async () => {
        const b = await signedIn("token-a");
        await b.post("/apps/myapp/domains", { _csrf: await b.csrf(), hostname: "WWW.Example.com" });
        expect(d.h.fleet.routes.get("myapp")).toEqual(["myapp.dynoform.test", "www.example.com"]);
        await b.post("/apps/myapp/domains", { _csrf: await b.csrf(), hostname: "x.dynoform.test" });
        expect(await (await b.get("/apps/myapp")).text()).toContain("is under the platform domain dynoform.test");
        await b.post("/apps/myapp/restart", { _csrf: await b.csrf() });
        expect(d.h.fleet.calls).toContain("restart myapp all");
        expect(d.accounts.audits.map((a) => a.action)).toEqual(["domains:add", "restart"]);
    });

    test("a form body that is not urlencoded, or too large, is refused", async () => {
        const b = await signedIn("token-a");
        const json = await fetch(d.url + "/apps/myapp/formation", { method: "POST", headers: { cookie: b.cookie!, "content-type": "application/json" }, body: "{}" });
        expect(json.status).toBe(415);
        const big = await b.post("/apps/myapp/config", { _csrf: await b.csrf(), key: "BIG", value: "x".repeat(70_000) });
        expect(big.status).toBe(413);
    });
});

describe("live logs and metrics", () => {
    test("the stream sends the logs verb's lines as server-sent events, then says it ended", async () => {
        const b = await signedIn("token-a");
        const res = await b.get("/apps/myapp/logs/stream");
        expect(res.headers.get("content-type")).toContain("text/event-stream");
        expect(await res.text()).toBe(": stream open\n\ndata: 2026-11-21T19:53:46+00:00 app[web.1]: listening on 5000\n\nevent: end\ndata: The log stream ended\n\n");
        expect(d.h.fleet.calls.at(-1)).toBe('logs myapp {"tail":true,"num":100}');
    });

    test("router counters become requests/s, status classes and latency quantiles, across a router restart", async () => {
        const text = (n: number, fast: number) =>
            [
                `dynoform_router_requests_total{app="myapp",code="",status="200"} ${n}`,
                `dynoform_router_requests_total{app="myapp",code="H12",status="503"} 1`,
                `dynoform_router_request_duration_seconds_bucket{app="myapp",le="0.01"} ${fast}`,
                `dynoform_router_request_duration_seconds_bucket{app="myapp",le="0.1"} ${n + 1}`,
                `dynoform_router_request_duration_seconds_bucket{app="myapp",le="+Inf"} ${n + 1}`,
                `dynoform_router_dyno_inflight{app="myapp",dyno="web.1"} 2`,
            ].join("\n");
        expect(parseRouterMetrics(text(10, 5)).myapp).toEqual({ statuses: { "200": 10, "503": 1 }, bounds: [10, 100, Infinity], cumulative: [5, 11, 11], inflight: 2, queued: 0 });
        const scrapes: Record<string, RouterCounters | undefined>[] = [{ r1: parseRouterMetrics(text(10, 5)) }, { r1: parseRouterMetrics(text(160, 155)) }, { r1: parseRouterMetrics(text(30, 0)), r2: undefined }];
        let t = 0;
        const history = new MetricsHistory({ scrape: async () => scrapes.shift()! }, () => new Date((t += 15_000)));
        for (let i = 0; i < 3; i++) await history.sample();
        const [a, b] = history.series("myapp");
        expect(a.rps).toBeCloseTo(10);
        expect(a.statuses).toEqual({ "2xx": 150, "3xx": 0, "4xx": 0, "5xx": 0 });
        expect(a.p50).toBeCloseTo(5);
        expect(b.statuses).toEqual({ "2xx": 30, "3xx": 0, "4xx": 0, "5xx": 1 }); // restarted: counted from zero
        expect(history.routers()).toEqual([{ url: "r1", answered: true }, { url: "r2", answered: false }]);
        expect(history.load()).toEqual([{ app: "myapp", rps: 31 / 15, inflight: 2, queued: 0 }]);
    });

    test("the app page draws the charts when metrics are sampled", async () => {
        await d.close();
        let n = 0;
        const history = new MetricsHistory({ scrape: async () => ({ r1: parseRouterMetrics(`dynoform_router_requests_total{app="myapp",code="",status="200"} ${(n += 100)}`) }) });
        await history.sample();
        await history.sample();
        d = await startDashboard({ metrics: history });
        await d.h.cli("apps:create", "myapp");
        const b = await signedIn("token-root");
        const page = await (await b.get("/apps/myapp")).text();
        expect(page).toContain("<polyline");
        expect(page).toContain("Requests/s");
        expect(await (await b.get("/apps/myapp/charts")).text()).toContain("Latency");
    });
});

describe("platform watch", () => {
    test("from the control config: routers' metrics and every service's health URL", async () => {
        expect(platformWatch(undefined).metrics).toBeUndefined();
        const watch = platformWatch({ agents: [d.url], routers: ["http://127.0.0.1:9"], routerToken: "t", slugBaseUrl: "http://127.0.0.1:5080/slugs", logRouterUrl: d.url, logRouterToken: "t" });
        expect(watch.metrics).toBeDefined();
        const services = await watch.services!();
        expect(services.map((s) => `${s.name} ${s.state}`)).toEqual(["dynoform-router down", "dynoform-agent up", "dynoform-logplex up"]);
        await watch.metrics!.sample();
        expect(watch.metrics!.routers()).toEqual([{ url: "http://127.0.0.1:9", answered: false }]);
    });
});

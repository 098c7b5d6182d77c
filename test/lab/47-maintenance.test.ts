// Maintenance mode on the lab stack (issue 12): maintenance:on → every edge answers the app 503 with
// the maintenance page and no dyno gets a request (the example app counts every page it serves in
// PostgreSQL, so the count shows it); the mode survives a router restart; MAINTENANCE_PAGE_URL is
// framed; maintenance:off → 200 again. Then the edges' cache (issue 12, "Cache after a deploy"): the
// app's /cached page (Cache-Control: public, max-age=300) is served from every edge's Varnish until
// a new release (config:set) or cache:purge bans it there; a BAN from another host is refused.
import * as path from "path";
import { cli, GitRepo, until } from "../support/apps";
import { hostWithRole, labStackInfo } from "../support/lab_stack";
import { httpGet, LabShell } from "../support/lab_hosts";
import { projectRoot } from "../support/pulumi";

jest.setTimeout(15 * 60_000);

const APP = "calm-maint";
const edge = hostWithRole("edge");
const host = `${APP}.${labStackInfo().domain}`;
const shell = new LabShell();
const repo = new GitRepo("maintenance-test", path.join(projectRoot, "examples/node-counter"));

const visits = (body: string) => Number(/id="visits">(\d+)</.exec(body)?.[1]);
const edges = labStackInfo().hosts.filter((h) => h.roles.includes("edge"));
const stamp = (body: string) => /id="stamp">([^<]+)</.exec(body)?.[1];
const greeting = (body: string) => /id="greeting">([^<]*)</.exec(body)?.[1];
/** Varnish's X-Varnish: a hit names two XIDs (the request's and the cached object's), a miss one. */
const isHit = (r: { headers: Record<string, unknown> }) => /^\d+ \d+$/.test(String(r.headers["x-varnish"]));

beforeAll(async () => {
    await repo.init();
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]); // a leftover of an interrupted run
    expect((await cli(["apps:create", APP])).code).toBe(0);
    expect((await cli(["git:remote", "-a", APP], repo.dir)).code).toBe(0);
    expect((await repo.push()).code).toBe(0);
    expect((await cli(["ps:scale", "web=2", "-a", APP])).code).toBe(0);
    await until("the app answers", async () => (await httpGet(edge.address, host)).status === 200);
});

afterAll(async () => {
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
    shell.close();
    repo.remove();
});

test("maintenance:on: 503 with the maintenance page and H80 at the edge, no dyno sees a request; off: 200 again", async () => {
    const before = visits((await httpGet(edge.address, host)).body);
    expect(before).toBeGreaterThan(0);

    const on = await cli(["maintenance:on", "-a", APP]);
    expect(on).toMatchObject({ code: 0 });
    expect(on.stderr).toContain(`Enabling maintenance mode for ⬢ ${APP}... done`);
    expect((await cli(["maintenance", "-a", APP])).stdout.trim()).toBe("on");
    for (let i = 0; i < 20; i++) {
        const r = await httpGet(edge.address, host, `/?i=${i}`);
        expect(r.status).toBe(503);
        expect(r.body).toContain("<title>Offline for Maintenance</title>");
    }
    await until("H80 in the router's log", async () => (await shell.on(edge.name, `journalctl -u dynoform-router --since -5min --no-pager | grep -c 'code=H80 desc="Maintenance mode".*host=${host}' || true`)) !== "0");
    // The dynos kept running (maintenance does not touch them) ...
    const ps = await cli(["ps", "-a", APP]);
    expect(ps.stdout.match(/^web\.\d+: up/gm)).toHaveLength(2);

    // ... and a restarted router still knows the app is in maintenance (its saved routes).
    await shell.on(edge.name, "systemctl restart dynoform-router");
    await until("the restarted router answers 503", async () => (await httpGet(edge.address, host)).status === 503);

    // A custom page: framed, fetched by the browser (the router never fetches it).
    expect((await cli(["config:set", "MAINTENANCE_PAGE_URL=https://pages.example.com/down.html", "-a", APP])).code).toBe(0);
    await until("the custom page is framed", async () => (await httpGet(edge.address, host)).body.includes('<iframe src="https://pages.example.com/down.html"'));

    const off = await cli(["maintenance:off", "-a", APP]);
    expect(off.stderr).toContain(`Disabling maintenance mode for ⬢ ${APP}... done`);
    const after = await until("200 again", async () => {
        const r = await httpGet(edge.address, host);
        return r.status === 200 && r.body;
    });
    // Every request in maintenance was answered by the routers: the dynos counted none of them.
    expect(visits(after)).toBe(before + 1);
});

test("the edges' cache: a cached page is banned on every edge by a new release and by cache:purge", async () => {
    /** The page, cached on the edge: a second request is a hit with the same rendering. */
    const cachedOn = async (address: string, urlPath = "/cached") => {
        const first = await httpGet(address, host, urlPath);
        expect(first.status).toBe(200);
        const again = await httpGet(address, host, urlPath);
        expect(isHit(again)).toBe(true);
        expect(stamp(again.body)).toBe(stamp(first.body));
        return again.body;
    };
    /** The next request is a miss with a new rendering. */
    const freshOn = async (address: string, before: string, urlPath = "/cached") => {
        const r = await httpGet(address, host, urlPath);
        expect(isHit(r)).toBe(false);
        expect(stamp(r.body)).not.toBe(stamp(before));
        return r.body;
    };

    // A new release (config:set) bans the app's pages on every edge: the new greeting at once.
    const before = await Promise.all(edges.map((e) => cachedOn(e.address)));
    const set = await cli(["config:set", "GREETING=fresh-release", "-a", APP]);
    expect(set.code).toBe(0);
    expect(set.stderr).not.toContain("could not be purged");
    for (const [i, e] of edges.entries()) expect(greeting(await freshOn(e.address, before[i]))).toBe("fresh-release");

    // cache:purge: the whole app, then one path (its query strings too), the other pages kept.
    const cached = await Promise.all(edges.map((e) => cachedOn(e.address)));
    const purge = await cli(["cache:purge", "-a", APP]);
    expect(purge.code).toBe(0);
    expect(purge.stderr).toContain(`Purging cache of ⬢ ${APP}... done`);
    for (const [i, e] of edges.entries()) await freshOn(e.address, cached[i]);
    const page = await cachedOn(edges[0].address, "/cached");
    const other = await cachedOn(edges[0].address, "/cached?other=1");
    const one = await cli(["cache:purge", "/cached", "-a", APP]);
    expect(one.stderr).toContain(`Purging cache of /cached of ⬢ ${APP}... done`);
    await freshOn(edges[0].address, page);
    await freshOn(edges[0].address, other, "/cached?other=1");

    // A BAN from a host that is not the control host (data-1, as root: not even a tenant) is refused.
    const data = hostWithRole("data");
    const ban = `exec 3<>/dev/tcp/${edges[0].address}/6081 && printf 'BAN / HTTP/1.1\\r\\nHost: ${host}\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -1 <&3\n`;
    const answer = await shell.on(data.name, "bash -s", ban); // /dev/tcp is bash's
    expect(answer.trim()).toMatch(/^HTTP\/1\.1 403/);
});

// Banning an app's cached pages on every edge (cache_purge.ts): the BAN each edge's Varnish gets
// (token, Host per hostname, path), an edge that is down named as a warning after a release and as
// the error of cache:purge, and DYNOFORM_CACHE_PURGE_ON_RELEASE=false.
import * as http from "node:http";
import * as net from "node:net";
import { AddressInfo } from "node:net";
import { CACHE_PURGE_ON_RELEASE, purgeOnRelease, purgePathProblem, VarnishEdgeCaches } from "../src/cache_purge";
import { keyProblem } from "../src/config_vars";
import { harness, Harness } from "./helpers/cli_harness";
import { deployed } from "./helpers/dashboard_server";

const TOKEN = "c0".repeat(32);

interface Ban {
    method: string;
    host: string;
    token: string | undefined;
    path: string | undefined;
}

/**
 * A stand-in for an edge's Varnish: records each request's head, answers `status`. On net, not
 * node:http: Node's HTTP parser answers 400 to methods it does not know, BAN among them.
 */
async function fakeEdge(status = 200): Promise<{ url: string; bans: Ban[]; server: net.Server }> {
    const bans: Ban[] = [];
    const server = net.createServer((socket) => {
        let head = "";
        socket.on("data", (c) => {
            head += c.toString("latin1");
            if (!head.includes("\r\n\r\n")) return;
            const [requestLine, ...lines] = head.split("\r\n\r\n")[0].split("\r\n");
            const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
            bans.push({ method: requestLine.split(" ")[0], host: headers.host ?? "", token: headers["x-dynoform-purge-token"], path: headers["x-dynoform-purge-path"] });
            socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        });
        socket.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bans, server };
}

/** An address where nothing listens: an edge that is down. */
async function downEdge(): Promise<string> {
    const e = await fakeEdge();
    await new Promise((r) => e.server.close(r));
    return e.url;
}

let h: Harness;
let edges: Awaited<ReturnType<typeof fakeEdge>>[];
beforeEach(async () => {
    h = await harness();
    edges = [await fakeEdge(), await fakeEdge()];
});
afterEach(async () => {
    h.cleanup();
    await Promise.all(edges.map((e) => new Promise((r) => e.server.close(r))));
});

describe("the purge client", () => {
    test("every edge gets one BAN per hostname, with the token; a path goes along", async () => {
        const caches = new VarnishEdgeCaches(edges.map((e) => e.url), TOKEN);
        expect(await caches.purge(["shop.dynoform.test", "www.shop.example"])).toEqual([]);
        expect(await caches.purge(["shop.dynoform.test"], "/about")).toEqual([]);
        for (const e of edges) {
            expect(e.bans).toEqual([
                { method: "BAN", host: "shop.dynoform.test", token: TOKEN, path: undefined },
                { method: "BAN", host: "www.shop.example", token: TOKEN, path: undefined },
                { method: "BAN", host: "shop.dynoform.test", token: TOKEN, path: "/about" },
            ]);
        }
    });

    test("an edge that is down or refuses is named; the others are still purged", async () => {
        const down = await downEdge();
        const refusing = await fakeEdge(403);
        try {
            const failures = await new VarnishEdgeCaches([edges[0].url, down, refusing.url], TOKEN).purge(["shop.dynoform.test"]);
            expect(failures.map((f) => f.edge)).toEqual([new URL(down).host, new URL(refusing.url).host]);
            expect(failures[0].reason).toMatch(/ECONNREFUSED/);
            expect(failures[1].reason).toBe("Varnish answered 403 Forbidden");
            expect(edges[0].bans).toHaveLength(1);
        } finally {
            await new Promise((r) => refusing.server.close(r));
        }
    });

    test("an edge that does not answer in time is named", async () => {
        const sockets: net.Socket[] = [];
        const silent = net.createServer((socket) => void sockets.push(socket));
        await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
        try {
            const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
            expect(await new VarnishEdgeCaches([url], TOKEN, 200).purge(["a.dynoform.test"])).toEqual([{ edge: new URL(url).host, reason: "no answer in 0.2 s" }]);
        } finally {
            for (const socket of sockets) socket.destroy();
            await new Promise((r) => silent.close(r));
        }
    });

    test("the config var and the path's checks", () => {
        expect(purgeOnRelease({})).toBe(true);
        expect(purgeOnRelease({ [CACHE_PURGE_ON_RELEASE]: "true" })).toBe(true);
        for (const off of ["false", "FALSE", "0", "off", "no"]) expect(purgeOnRelease({ [CACHE_PURGE_ON_RELEASE]: off })).toBe(false);
        expect(keyProblem(CACHE_PURGE_ON_RELEASE)).toBeUndefined(); // the app's to set, though under DYNOFORM_
        expect(keyProblem("DYNOFORM_OTHER")).toMatch(/set by dynoform/);
        expect(purgePathProblem("/about")).toBeUndefined();
        expect(purgePathProblem("/a/b.css")).toBeUndefined();
        for (const bad of ["about", "/a?b=1", "/a b", '/a"', "/a\\b", ""]) expect(purgePathProblem(bad)).toMatch(/is not a URL path: give one such as \/about/);
    });
});

describe("cache:purge", () => {
    test("the whole app, custom domains included, or one path, in Heroku's words", async () => {
        h.fleet.edgeCaches = new VarnishEdgeCaches(edges.map((e) => e.url), TOKEN);
        await h.cli("apps:create", "shop");
        await h.cli("domains:add", "www.shop.example", "-a", "shop");
        expect(await h.cli("cache:purge", "-a", "shop")).toMatchObject({ code: 0, out: [], err: ["Purging cache of ⬢ shop... done"] });
        expect(await h.cli("cache:purge", "/about", "-a", "shop")).toMatchObject({ code: 0, err: ["Purging cache of /about of ⬢ shop... done"] });
        for (const e of edges) expect(e.bans.map((b) => `${b.host} ${b.path ?? "*"}`)).toEqual(["shop.dynoform.test *", "www.shop.example *", "shop.dynoform.test /about", "www.shop.example /about"]);
    });

    test("an edge that is down: exit 1 naming it", async () => {
        const down = await downEdge();
        h.fleet.edgeCaches = new VarnishEdgeCaches([edges[0].url, down], TOKEN);
        await h.cli("apps:create", "shop");
        const r = await h.cli("cache:purge", "-a", "shop");
        expect(r.code).toBe(1);
        expect(r.err[0]).toBe("Purging cache of ⬢ shop... failed");
        expect(r.err[1]).toMatch(new RegExp(`the cache of edge ${new URL(down).host} \\(connect ECONNREFUSED .*\\) could not be purged: run the command again once it is back`));
        expect(edges[0].bans).toHaveLength(1);
    });

    test("refusals: a bad path, an unknown app, no edge caches configured", async () => {
        h.fleet.edgeCaches = new VarnishEdgeCaches(edges.map((e) => e.url), TOKEN);
        await h.cli("apps:create", "shop");
        expect((await h.cli("cache:purge", "about", "-a", "shop")).err[0]).toMatch(/"about" is not a URL path/);
        expect((await h.cli("cache:purge", "-a", "nope")).err[0]).toMatch(/Couldn't find that app: nope/);
        h.fleet.edgeCaches = undefined;
        expect((await h.cli("cache:purge", "-a", "shop")).err[0]).toMatch(/names no edge caches/);
        expect(edges[0].bans).toEqual([]);
    });
});

describe("each new release bans the app's pages", () => {
    test("config:set and rollback purge every edge; DYNOFORM_CACHE_PURGE_ON_RELEASE=false turns it off", async () => {
        h.fleet.edgeCaches = new VarnishEdgeCaches(edges.map((e) => e.url), TOKEN);
        await h.cli("apps:create", "shop");
        await deployed(h, "shop");
        expect((await h.cli("config:set", "FOO=1", "-a", "shop")).code).toBe(0);
        expect(edges[1].bans.map((b) => b.host)).toEqual(["shop.dynoform.test"]);
        expect((await h.cli("rollback", "-a", "shop")).code).toBe(0);
        expect(edges[1].bans).toHaveLength(2);
        expect((await h.cli("config:set", `${CACHE_PURGE_ON_RELEASE}=false`, "-a", "shop")).code).toBe(0);
        expect((await h.cli("config:set", "FOO=2", "-a", "shop")).code).toBe(0);
        expect(edges[1].bans).toHaveLength(2);
    });

    test("an edge that is down: the release goes out, with a warning naming the edge", async () => {
        const down = await downEdge();
        h.fleet.edgeCaches = new VarnishEdgeCaches([edges[0].url, down], TOKEN);
        await h.cli("apps:create", "shop");
        await deployed(h, "shop");
        const r = await h.cli("config:set", "FOO=1", "-a", "shop");
        expect(r.code).toBe(0);
        expect(r.err.join("\n")).toContain(`Warning: the cache of edge ${new URL(down).host} could not be purged`);
        expect(r.err.join("\n")).toContain('run "dynoform cache:purge -a shop" once the edge is back');
        const releases = await h.store.listReleases("shop");
        expect(releases.find((x) => x.version === Math.max(...releases.map((y) => y.version)))?.status).toBe("succeeded");
        expect(edges[0].bans).toHaveLength(1);
    });
});

// The rendered VCL in a real varnishd (Debian's varnish, when installed) on loopback, in front of a
// tiny backend: a cached page stays cached until control's BAN (cache_purge.ts) for its Host, or its
// path, and only a BAN from the purgers' address with the token is taken.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { render } from "../../components/templates/render";
import { vclVars } from "../../components/edge/edge";
import { PURGE_TOKEN_HEADER, VarnishEdgeCaches } from "../../packages/control/src/cache_purge";

function varnishd(): string | undefined {
    if (process.env.DYNOFORM_VARNISHD) return process.env.DYNOFORM_VARNISHD;
    try {
        return execFileSync("sh", ["-c", "command -v varnishd || ls /usr/sbin/varnishd"], { encoding: "utf8" }).trim() || undefined;
    } catch {
        return undefined;
    }
}

const binary = varnishd();
const TOKEN = "5a".repeat(32);
const APP_HOST = "shop.dynoform.test";
const CUSTOM_HOST = "www.shop.example";

interface Answer {
    status: number;
    body: string;
    headers: http.IncomingHttpHeaders;
}

function request(port: number, method: string, urlPath: string, headers: Record<string, string>, localAddress = "127.0.0.1"): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, method, path: urlPath, headers, localAddress, agent: false }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        });
        req.on("error", reject);
        req.end();
    });
}

async function freePort(): Promise<number> {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    return port;
}

(binary ? describe : describe.skip)("Varnish with the rendered VCL: bans after a release and cache:purge", () => {
    let dir: string;
    let backend: http.Server;
    let varnish: ChildProcess;
    let port: number;
    let served = 0;

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-varnish-"));
        // Every page is new on each fetch and marked cacheable, as an app's public page would be.
        backend = http.createServer((req, res) => {
            served++;
            res.writeHead(200, { "Content-Type": "text/plain", "Cache-Control": "public, max-age=300" });
            res.end(`${req.headers.host} ${req.url} #${served}`);
        });
        await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
        const backendPort = (backend.address() as AddressInfo).port;
        const vcl = path.join(dir, "default.vcl");
        fs.writeFileSync(vcl, render("varnish/default.vcl", vclVars([{ address: "127.0.0.1", port: backendPort }], { controlAddress: "127.0.0.1", token: TOKEN })), { mode: 0o600 });
        port = await freePort();
        const jail = process.getuid?.() === 0 ? ["-j", "none"] : [];
        varnish = spawn(binary!, ["-F", ...jail, "-n", path.join(dir, "work"), "-a", `127.0.0.1:${port}`, "-T", "127.0.0.1:0", "-f", vcl, "-s", "malloc,16m", "-p", "ban_lurker_sleep=0.01"], { stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        varnish.stdout?.on("data", (c) => (output += c));
        varnish.stderr?.on("data", (c) => (output += c));
        const deadline = Date.now() + 20_000;
        for (;;) {
            const a = await request(port, "GET", "/health-of-test", { Host: "ready.test" }).catch(() => undefined);
            if (a?.status === 200) break;
            if (Date.now() > deadline || varnish.exitCode !== null) throw new Error(`varnishd did not come up: ${output}`);
            await new Promise((r) => setTimeout(r, 200));
        }
    }, 30_000);

    afterAll(async () => {
        varnish?.kill("SIGTERM");
        await new Promise((r) => (varnish && varnish.exitCode === null ? varnish.once("exit", r) : r(undefined)));
        await new Promise((r) => backend?.close(r));
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    const get = (host: string, urlPath: string) => request(port, "GET", urlPath, { Host: host });

    test("a cached page is served from cache until control bans the app's hostnames; the ban keys never reach the client", async () => {
        const first = await get(APP_HOST, "/");
        const again = await get(APP_HOST, "/");
        expect(again.body).toBe(first.body);
        expect(String(again.headers["x-varnish"])).toMatch(/^\d+ \d+$/); // a hit names the object's XID too
        expect(again.headers["x-dynoform-host"]).toBeUndefined();
        expect(again.headers["x-dynoform-path"]).toBeUndefined();
        const custom = await get(CUSTOM_HOST, "/");
        const other = await get("other.dynoform.test", "/");

        const caches = new VarnishEdgeCaches([`http://127.0.0.1:${port}`], TOKEN);
        expect(await caches.purge([APP_HOST, CUSTOM_HOST])).toEqual([]);

        const fresh = await get(APP_HOST, "/");
        expect(fresh.body).not.toBe(first.body);
        expect(String(fresh.headers["x-varnish"])).toMatch(/^\d+$/);
        expect((await get(CUSTOM_HOST, "/")).body).not.toBe(custom.body);
        expect((await get("other.dynoform.test", "/")).body).toBe(other.body); // another app keeps its cache
    });

    test("a path's ban takes that path (every query string of it) and nothing else", async () => {
        const about = await get(APP_HOST, "/about");
        const aboutQuery = await get(APP_HOST, "/about?lang=de");
        const home = await get(APP_HOST, "/");
        expect((await get(APP_HOST, "/about")).body).toBe(about.body);

        const caches = new VarnishEdgeCaches([`http://127.0.0.1:${port}`], TOKEN);
        expect(await caches.purge([APP_HOST], "/about")).toEqual([]);

        expect((await get(APP_HOST, "/about")).body).not.toBe(about.body);
        expect((await get(APP_HOST, "/about?lang=de")).body).not.toBe(aboutQuery.body);
        expect((await get(APP_HOST, "/")).body).toBe(home.body);
    });

    test("a BAN without the token, with a wrong one, or from another address is refused (403) and bans nothing", async () => {
        const page = await get(APP_HOST, "/kept");
        expect((await request(port, "BAN", "/", { Host: APP_HOST })).status).toBe(403);
        expect((await request(port, "BAN", "/", { Host: APP_HOST, [PURGE_TOKEN_HEADER]: "5a".repeat(31) + "5b" })).status).toBe(403);
        expect((await request(port, "BAN", "/", { Host: APP_HOST, [PURGE_TOKEN_HEADER]: TOKEN }, "127.0.0.2")).status).toBe(403);
        expect((await get(APP_HOST, "/kept")).body).toBe(page.body);
    });

    test("a path that would not be one word of the ban expression is refused (400)", async () => {
        const a = await request(port, "BAN", "/", { Host: APP_HOST, [PURGE_TOKEN_HEADER]: TOKEN, "X-Dynoform-Purge-Path": '/a" || obj.status == 200' });
        expect(a.status).toBe(400);
    });
});

// The control host's slug server, started for real on loopback: only a request carrying the token
// of exactly that app's slug gets its bytes (issue 9 item 5: a dyno could download other apps' code).
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { slugToken } from "../src/slug_access";
import { createSlugServer } from "../src/slug_server";
import { StatePaths } from "../src/state_paths";

const KEY = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
const BYTES_A = Buffer.from("the victim's slug bytes\n");

let root: string;
let server: http.Server;
let base: string;

/** A raw request (no URL normalisation by the client: `..` reaches the server as sent). */
function request(method: string, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
        const req = http.request(`${base}${p}`, { method, headers, path: p }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
        });
        req.on("error", reject);
        req.end();
    });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function start(signingKey: string | undefined): Promise<void> {
    server = createSlugServer({ paths: new StatePaths(root), signingKey });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-slugsrv-"));
    fs.mkdirSync(path.join(root, "slugs", "victim"), { recursive: true });
    fs.mkdirSync(path.join(root, "slugs", "attacker"), { recursive: true });
    fs.writeFileSync(path.join(root, "slugs", "victim", `${SHA_A}.tgz`), BYTES_A);
    fs.writeFileSync(path.join(root, "slugs", "attacker", `${SHA_B}.tgz`), "attacker's own slug\n");
    fs.writeFileSync(path.join(root, "control.json"), '{"slugSigningKey":"not for you"}');
    await start(KEY);
});

afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(root, { recursive: true, force: true });
});

test("a slug without its token is refused with 403, GET and HEAD alike", async () => {
    for (const method of ["GET", "HEAD"]) {
        const res = await request(method, `/slugs/victim/${SHA_A}.tgz`);
        expect(res.status).toBe(403);
        expect(res.body.toString()).not.toContain("victim's");
    }
    const get = await request("GET", `/slugs/victim/${SHA_A}.tgz`);
    expect(get.body.toString()).toBe("forbidden: a slug needs its token\n");
});

test("another app's token, a token for another slug, a malformed or non-Bearer token: 403", async () => {
    const p = `/slugs/victim/${SHA_A}.tgz`;
    expect((await request("GET", p, bearer(slugToken(KEY, "attacker", SHA_B)))).status).toBe(403);
    expect((await request("GET", p, bearer(slugToken(KEY, "attacker", SHA_A)))).status).toBe(403); // same code pushed to another app
    expect((await request("GET", p, bearer(slugToken(KEY, "victim", SHA_B)))).status).toBe(403);
    expect((await request("GET", p, bearer(slugToken("another key", "victim", SHA_A)))).status).toBe(403);
    expect((await request("GET", p, bearer("zz")))).toMatchObject({ status: 403 });
    expect((await request("GET", p, bearer(slugToken(KEY, "victim", SHA_A).toUpperCase() + "00")))).toMatchObject({ status: 403 });
    expect((await request("GET", p, { authorization: `Basic ${slugToken(KEY, "victim", SHA_A)}` }))).toMatchObject({ status: 403 });
    // the token in a query string is not accepted either: it would land in access logs and error messages
    expect((await request("GET", `${p}?token=${slugToken(KEY, "victim", SHA_A)}`)).status).not.toBe(200);
});

test("the slug's own token gets 200 and the bytes; HEAD gets the length and no body", async () => {
    const token = slugToken(KEY, "victim", SHA_A);
    const get = await request("GET", `/slugs/victim/${SHA_A}.tgz`, bearer(token));
    expect(get.status).toBe(200);
    expect(get.headers["content-type"]).toBe("application/gzip");
    expect(get.body).toEqual(BYTES_A);
    const head = await request("HEAD", `/slugs/victim/${SHA_A}.tgz`, bearer(token));
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String(BYTES_A.length));
    expect(head.body.length).toBe(0);
    expect((await request("GET", `/slugs/victim/${SHA_A}.tgz`, { authorization: `bearer ${token}` })).status).toBe(200);
});

test("an unknown slug is 404 only with a valid token: without one, existence is not told", async () => {
    const missing = "c".repeat(64);
    expect((await request("GET", `/slugs/victim/${missing}.tgz`)).status).toBe(403);
    expect((await request("GET", `/slugs/nosuchapp/${missing}.tgz`)).status).toBe(403);
    const res = await request("GET", `/slugs/victim/${missing}.tgz`, bearer(slugToken(KEY, "victim", missing)));
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe("no such slug\n");
});

test("paths outside /slugs/<app>/<sha256>.tgz never reach the filesystem", async () => {
    const token = slugToken(KEY, "victim", SHA_A);
    for (const p of [
        "/slugs/../control.json",
        `/slugs/victim/../victim/${SHA_A}.tgz`,
        "/slugs/victim/%2e%2e/%2e%2e/control.json",
        `/slugs/victim/${SHA_A}.tgz/../../../control.json`,
        "/slugs/victim/",
        "/slugs/",
        "/control.json",
        `//slugs/victim/${SHA_A}.tgz`,
    ]) {
        const res = await request("GET", p, bearer(token));
        expect([p, res.status]).toEqual([p, 404]);
        expect(res.body.toString()).not.toContain("not for you");
    }
});

test("/health stays open; other methods are refused", async () => {
    const health = await request("GET", "/health");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString())).toEqual({ ok: true });
    const put = await request("PUT", `/slugs/victim/${SHA_A}.tgz`, bearer(slugToken(KEY, "victim", SHA_A)));
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe("GET, HEAD");
});

test("without a signing key configured every slug is refused (fail closed), even with an empty-key token", async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await start(undefined);
    expect((await request("GET", `/slugs/victim/${SHA_A}.tgz`, bearer(slugToken("", "victim", SHA_A)))).status).toBe(403);
    expect((await request("GET", "/health")).status).toBe(200);
});

// A dyno host's agent or a router restarts now and then (a token rotation, an upgrade): a request
// that found nobody listening, or whose connection was reset before any answer, is sent again while
// its deadline allows when it may be (PUT, DELETE: the control host states what it wants), and
// never when it may not (POST) nor for a read (a probe of a host that is down must say so at once).
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { apiJson, HttpError } from "../src/api_request";

/** A port nobody listens on yet, and a way to start answering on it. */
async function laterServer(): Promise<{ base: string; start(): Promise<void>; seen: string[]; close(): Promise<void> }> {
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
        seen.push(`${req.method} ${req.url}`);
        res.setHeader("content-type", "application/json");
        res.end('{"ok":true}');
    });
    return {
        base: `http://127.0.0.1:${port}`,
        seen,
        start: () => new Promise<void>((r) => server.listen(port, "127.0.0.1", r)),
        close: () => new Promise<void>((r) => (server.listening ? server.close(() => r()) : r())),
    };
}

test("a PUT to a service that is restarting goes through once it listens again", async () => {
    const s = await laterServer();
    try {
        setTimeout(() => void s.start(), 600);
        await expect(apiJson(s.base, "t", "/v1/apps/shop", { method: "PUT", json: { release: 3 } })).resolves.toEqual({ ok: true });
        expect(s.seen).toEqual(["PUT /v1/apps/shop"]);
    } finally {
        await s.close();
    }
});

test("a POST is not sent again: the caller is told nobody answered", async () => {
    const s = await laterServer();
    try {
        setTimeout(() => void s.start(), 300);
        const err = await apiJson(s.base, "t", "/v1/apps/shop/restart", { method: "POST", json: {} }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(HttpError);
        expect((err as HttpError).status).toBe(0);
        await new Promise((r) => setTimeout(r, 500));
        expect(s.seen).toEqual([]);
    } finally {
        await s.close();
    }
});

test("a service that stays away fails a change within its deadline and a read at once, naming the call", async () => {
    const s = await laterServer();
    let t0 = Date.now();
    const put = await apiJson(s.base, "t", "/v1/apps/shop", { method: "PUT", json: {}, timeoutMs: 1000 }).catch((e: unknown) => e);
    expect((put as HttpError).status).toBe(0);
    expect((put as Error).message).toContain(`PUT ${s.base}/v1/apps/shop`);
    expect(Date.now() - t0).toBeLessThan(1900);
    t0 = Date.now();
    const get = await apiJson(s.base, "t", "/v1/apps/shop").catch((e: unknown) => e);
    expect((get as HttpError).status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(200);
});

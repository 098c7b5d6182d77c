// Integration tests: the real dynoform-router single executable (Node 24 SEA) in front of real
// HTTP servers on 127.0.0.1.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { connect, type Server as NetServer } from "node:net";
import { ensureBinary, get, raw, sleep, startBackend, startHeadServer, startRouter, stopAll, waitFor, type Backend, type HeadServer, type Router } from "./harness";

jest.setTimeout(30_000);

let r: Router;
const backends: Backend[] = [];
async function backend(h?: Parameters<typeof startBackend>[0]): Promise<Backend> {
  const b = await startBackend(h);
  backends.push(b);
  return b;
}
async function app(name: string, route: Record<string, unknown> = {}, router = r) {
  const res = await router.api("PUT", `/v1/apps/${name}`, route);
  expect([200, 201]).toContain(res.status);
}
async function dyno(name: string, d: string, body: Record<string, unknown>, router = r) {
  const res = await router.api("PUT", `/v1/apps/${name}/dynos/${d}`, body);
  expect([200, 201]).toContain(res.status);
}

beforeAll(async () => {
  ensureBinary();
  r = await startRouter({ clientHeaderTimeoutMs: 1000, connectTimeoutMs: 1000, quarantineMs: 5000 });
}, 120_000);

afterAll(() => stopAll(r, ...backends));

describe("binary", () => {
  test("the single executable prints usage", () => {
    const out = execFileSync(ensureBinary(), ["--help"], { encoding: "utf8" });
    expect(out).toMatch(/usage: dynoform-router/);
  });
});

describe("control API", () => {
  test("needs the bearer token on /v1, validates bodies, lists apps", async () => {
    expect((await r.api("GET", "/v1/apps", undefined, "wrong")).status).toBe(401);
    expect((await r.api("PUT", "/v1/apps/Bad_Name", {})).status).toBe(400);
    expect((await r.api("PUT", "/v1/apps/okay/dynos/web.1", { address: "nonsense" })).status).toBe(400);
    expect((await r.api("PUT", "/v1/apps/okay/dynos/web.1", { address: "127.0.0.1:1", concurrency: 0 })).status).toBe(400);
    await app("listed", { domains: ["listed.example.com"], concurrency: 3, timeouts: { firstByteMs: 1000 } });
    const list = await r.api("GET", "/v1/apps");
    expect(list.status).toBe(200);
    const a = list.body.apps.find((x: { name: string }) => x.name === "listed");
    expect(a).toMatchObject({ domains: ["listed.example.com"], concurrency: 3, firstByteTimeoutMs: 1000, dynos: [] });
    expect((await r.api("DELETE", "/v1/apps/listed")).status).toBe(200);
    expect((await r.api("DELETE", "/v1/apps/listed")).status).toBe(404);
    expect((await r.api("GET", "/health", undefined, "")).status).toBe(200);
  });
});

describe("routing and headers", () => {
  test("custom domain, wildcard and <app>.<platform domain> reach the app; unknown host is a 404 page", async () => {
    const b = await backend();
    await app("routed", { domains: ["www.routed.example", "*.wild.example"] });
    await dyno("routed", "web.1", { address: b.address, concurrency: 10, release: 3 });
    for (const host of ["www.routed.example", "WWW.Routed.Example:8080", "a.wild.example", "routed.dynoform.test"]) {
      const res = await get(r.port, host, "/p?q=1");
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).url).toBe("/p?q=1");
    }
    const miss = await get(r.port, "nope.example.com");
    expect(miss.status).toBe(404);
    expect(miss.body).toMatch(/No such app/);
    const health = await get(r.port, "dynoform-router-health", "/health");
    expect(health.status).toBe(200);
  });

  test("adds X-Request-Id/-Start/-Forwarded-*/Via, keeps valid inbound ones, strips hop-by-hop both ways", async () => {
    const b = await backend((req, res) => {
      res.setHeader("Connection", "X-Secret-Hop");
      res.setHeader("X-Secret-Hop", "1");
      res.setHeader("Keep-Alive", "timeout=5");
      res.setHeader("X-App", "yes");
      res.end("ok");
    });
    await app("hdrs", { domains: ["hdrs.example"] });
    await dyno("hdrs", "web.1", { address: b.address });
    const inboundId = "abcdefghijklmnopqrstuvwxyz0123456789";
    const res = await get(r.port, "hdrs.example", "/", {
      headers: {
        "X-Request-Id": inboundId,
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        "X-Request-Start": "t=1700000000000",
        Connection: "keep-alive, X-Hop",
        "X-Hop": "drop me",
        TE: "trailers",
        "Proxy-Authorization": "Basic eA==",
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers["x-app"]).toBe("yes");
    expect(res.headers["x-secret-hop"]).toBeUndefined();
    expect(res.headers["keep-alive"]).not.toBe("timeout=5"); // the dyno's; the router may send its own
    expect(res.headers["x-request-id"]).toBe(inboundId);
    const h = b.requests[0].headers;
    expect(h["x-request-id"]).toBe(inboundId);
    // The test client is on loopback, a trusted proxy by default: its forwarded headers are kept.
    expect(h["x-forwarded-for"]).toBe("203.0.113.7");
    expect(h["x-forwarded-proto"]).toBe("https");
    expect(h["x-forwarded-port"]).toBe("443");
    expect(h["x-request-start"]).toBe("t=1700000000000");
    expect(h.via).toBe("1.1 dynoform");
    expect(h["x-hop"]).toBeUndefined();
    expect(h.te).toBeUndefined();
    expect(h["proxy-authorization"]).toBeUndefined();
    expect(h.host).toBe("hdrs.example");

    const res2 = await get(r.port, "hdrs.example", "/", { headers: { "X-Request-Id": "bad id!" } });
    const h2 = b.requests[1].headers;
    expect(h2["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(res2.headers["x-request-id"]).toBe(h2["x-request-id"]);
    expect(Number(h2["x-request-start"])).toBeGreaterThan(Date.now() - 60_000);
    expect(h2["x-forwarded-for"]).toBe("127.0.0.1");

    const line = await r.logLine(new RegExp(`request_id=${inboundId}`));
    expect(line).toMatch(/^at=info method=GET path="\/" host=hdrs\.example request_id=\S+ fwd="203\.0\.113\.7" dyno=web\.1 connect=\d+ms service=\d+ms status=200 bytes=2 protocol=http$/);
  });

  test("forwarded headers are kept only from trusted proxies; from any other peer the router sets them from the socket", async () => {
    const strict = await startRouter({ trustedProxies: "127.0.0.1" });
    try {
      const b = await backend();
      await app("fwd", { domains: ["fwd.example"] }, strict);
      await dyno("fwd", "web.1", { address: b.address }, strict);
      const forged = {
        "X-Forwarded-For": "6.6.6.6",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        "X-Request-Start": "1000000000000",
      };
      // A peer outside trustedProxies (a dyno, say): its claims are replaced.
      const before = Date.now();
      expect((await get(strict.port, "fwd.example", "/", { headers: forged, localAddress: "127.0.0.2" })).status).toBe(200);
      const h = b.requests[0].headers;
      expect(h["x-forwarded-for"]).toBe("127.0.0.2");
      expect(h["x-forwarded-proto"]).toBe("http");
      expect(h["x-forwarded-port"]).toBe(String(strict.port));
      expect(Number(h["x-request-start"])).toBeGreaterThanOrEqual(before);
      await strict.logLine(/host=fwd\.example .*fwd="127\.0\.0\.2" /);
      // The same over a WebSocket handshake (its own forwarding path).
      const ws = await raw(strict.port, "GET /ws HTTP/1.1\r\nHost: fwd.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Request-Start: 1000000000000\r\n\r\n", 3000, "127.0.0.2");
      expect(ws.data).toMatch(/^HTTP\/1\.1 200 /);
      expect(b.requests[1].headers).toMatchObject({ "x-forwarded-for": "127.0.0.2", "x-forwarded-proto": "http" });
      expect(Number(b.requests[1].headers["x-request-start"])).toBeGreaterThanOrEqual(before);
      // The trusted proxy (the edge): kept as it sent them, nothing appended.
      expect((await get(strict.port, "fwd.example", "/", { headers: forged, localAddress: "127.0.0.1" })).status).toBe(200);
      expect(b.requests[2].headers).toMatchObject({
        "x-forwarded-for": "6.6.6.6", "x-forwarded-proto": "https", "x-forwarded-port": "443", "x-request-start": "1000000000000",
      });
    } finally {
      await strict.stop();
    }
  });

  test("a trustedProxies entry that is not an address or CIDR stops the start", async () => {
    await expect(startRouter({ trustedProxies: "10.0.0.0/33" })).rejects.toThrow(/trustedProxies: not an address or CIDR/);
  });

  test("Expect: 100-continue is answered by the router and the body forwarded", async () => {
    const b = await backend();
    await app("cont", { domains: ["cont.example"] });
    await dyno("cont", "web.1", { address: b.address });
    const out = await raw(r.port, "POST /up HTTP/1.1\r\nHost: cont.example\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nhello");
    expect(out.data).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
    expect(out.data).toMatch(/HTTP\/1\.1 200 OK/);
    expect(b.requests[0].body).toBe("hello");
    expect(b.requests[0].headers.expect).toBeUndefined();
  });

  test("chunked uploads, chunked and large responses pass intact over reused dyno connections", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, "abcdefghij").toString("latin1");
    const b = await backend((req, res, body) => {
      if (req.url === "/big") {
        res.end(big);
        return;
      }
      res.write(`got ${body.length} `); // no length: chunked to the router
      res.end(createHash("sha256").update(body).digest("hex"));
    });
    await app("stream", { domains: ["stream.example"] });
    await dyno("stream", "web.1", { address: b.address });
    const payload = "x".repeat(100_000);
    const up = await raw(
      r.port,
      `POST /up HTTP/1.1\r\nHost: stream.example\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${(50_000).toString(16)}\r\n${payload.slice(0, 50_000)}\r\n${(50_000).toString(16)}\r\n${payload.slice(50_000)}\r\n0\r\n\r\n`,
    );
    expect(up.data).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(up.data).toContain("got 100000 ");
    expect(up.data).toContain(createHash("sha256").update(payload).digest("hex"));
    expect(b.requests.at(-1)?.headers["transfer-encoding"]).toBe("chunked");
    for (let i = 0; i < 3; i++) {
      const res = await get(r.port, "stream.example", "/big");
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(big.length);
      expect(res.body === big).toBe(true);
    }
    const head = await get(r.port, "stream.example", "/big", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect((await get(r.port, "stream.example", "/after-head")).status).toBe(200);
  });
});

describe("balancing, queue and booting", () => {
  test("app with no web dynos answers 503 H14 (when not holding)", async () => {
    await app("empty", { domains: ["empty.example"], holdWhenEmpty: false });
    const res = await get(r.port, "empty.example");
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/Application error/);
    await r.logLine(/at=error code=H14 desc="No web dynos running" method=GET path="\/" host=empty\.example .*status=503/);
  });

  test("a request sent before any dyno registers is served once one does", async () => {
    const b = await backend();
    await app("booting", { domains: ["booting.example"], timeouts: { queueMs: 10_000 } });
    const pending = get(r.port, "booting.example", "/early");
    await sleep(400);
    expect(b.hits).toBe(0);
    await dyno("booting", "web.1", { address: b.address });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(b.requests[0].url).toBe("/early");
  });

  test("held requests with no dyno in time get H14; busy dynos get H11 (queue full, and the queue deadline)", async () => {
    await app("never", { domains: ["never.example"], timeouts: { queueMs: 300 } });
    const t0 = Date.now();
    const res = await get(r.port, "never.example");
    expect(res.status).toBe(503);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await r.logLine(/code=H14 .*host=never\.example/);

    const slow = await backend((_q, s) => setTimeout(() => s.end("slow"), 1200));
    await app("busy", { domains: ["busy.example"], queueSize: 1, timeouts: { queueMs: 400 } });
    await dyno("busy", "web.1", { address: slow.address, concurrency: 1 });
    const a = get(r.port, "busy.example", "/a");
    await sleep(100);
    const bq = get(r.port, "busy.example", "/b"); // waits in the queue
    await sleep(100);
    const c = await get(r.port, "busy.example", "/c"); // queue full
    expect(c.status).toBe(503);
    await r.logLine(/code=H11 desc="Backlog too deep" method=GET path="\/c"/);
    expect((await bq).status).toBe(503);
    await r.logLine(/code=H11 desc="Backlog too deep" method=GET path="\/b" .*dyno=none /);
    expect(r.logs.some((l) => /code=H20 .*host=busy\.example/.test(l))).toBe(false); // no dyno was booting
    expect((await a).status).toBe(200);
    expect(slow.hits).toBe(1);
  });

  test("H12 counts from arrival: time spent in the queue is part of the first-byte timeout", async () => {
    // web.1 takes one request at a time; the first-byte timeout is 3000 ms, and each request alone
    // answers within it (2700 ms, 2900 ms). /second, queued behind /first, waits what is left of
    // /first's 2700 ms and then 2900 ms at the dyno: past 3000 ms from its arrival, however late the
    // test sends it (up to 2.6 s after /first reached the dyno; a loaded machine stalls for 600 ms).
    const b = await backend((q, s) => setTimeout(() => s.end("ok"), q.url === "/first" ? 2700 : 2900));
    await app("arrival", { domains: ["arrival.example"], timeouts: { firstByteMs: 3000, queueMs: 10_000 } });
    await dyno("arrival", "web.1", { address: b.address, concurrency: 1 });
    const first = get(r.port, "arrival.example", "/first");
    await waitFor("first at the dyno", () => b.hits === 1);
    const second = await get(r.port, "arrival.example", "/second");
    expect(second.status).toBe(503);
    expect((await first).status).toBe(200);
    await r.logLine(/code=H12 desc="Request timeout" method=GET path="\/second" .*dyno=web\.1 /);
  });

  test("queued requests go to the dyno as soon as it has room, never past its cap", async () => {
    let active = 0;
    let maxActive = 0;
    const b = await backend((_q, s) => {
      active++;
      maxActive = Math.max(maxActive, active);
      setTimeout(() => { active--; s.end("ok"); }, 100);
    });
    await app("capped", { domains: ["capped.example"], timeouts: { queueMs: 5000 } });
    await dyno("capped", "web.1", { address: b.address, concurrency: 2 });
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => get(r.port, "capped.example", `/${i}`)));
    expect(all.every((x) => x.status === 200)).toBe(true);
    expect(maxActive).toBe(2);
  });

  test("power of two choices prefers the dyno with fewer outstanding requests", async () => {
    const slow = await backend((_q, s) => setTimeout(() => s.end("slow"), 1500));
    const fast = await backend((_q, s) => s.end("fast"));
    await app("p2c", { domains: ["p2c.example"] });
    await dyno("p2c", "web.1", { address: slow.address, concurrency: 50 });
    await dyno("p2c", "web.2", { address: fast.address, concurrency: 50 });
    // Park a few requests on the slow dyno, then everything after should avoid it.
    const parked: Promise<unknown>[] = [];
    for (let i = 0; i < 20 && slow.hits < 3; i++) {
      parked.push(get(r.port, "p2c.example", "/park"));
      await sleep(20);
    }
    const before = slow.hits;
    for (let i = 0; i < 20; i++) expect((await get(r.port, "p2c.example", "/quick")).status).toBe(200);
    expect(slow.hits).toBe(before);
    await Promise.all(parked);
  });
});

describe("faults and retries", () => {
  test("connection refused: quarantine that dyno and retry on another; H21 when none is left", async () => {
    const good = await backend();
    const dead = await backend();
    await dead.close(); // its port now refuses connections
    await app("refuse", { domains: ["refuse.example"] });
    await dyno("refuse", "web.1", { address: dead.address });
    await dyno("refuse", "web.2", { address: good.address });
    for (let i = 0; i < 6; i++) expect((await get(r.port, "refuse.example", "/r", { method: "POST", body: "x" })).status).toBe(200);
    expect(good.hits).toBe(6);
    const m = await fetchMetrics(r);
    expect(m).toMatch(/dynoform_router_dyno_quarantined\{app="refuse",dyno="web.1"\} 1/);

    await app("refuse2", { domains: ["refuse2.example"] });
    await dyno("refuse2", "web.1", { address: dead.address });
    const res = await get(r.port, "refuse2.example");
    expect(res.status).toBe(503);
    await r.logLine(/code=H21 desc="Backend connection refused" .*host=refuse2\.example/);
  });

  test("a dyno that closes without answering: GET is retried once elsewhere, POST is not (H13)", async () => {
    const bad = await backend((req) => req.socket.destroy());
    const good = await backend();
    await app("flaky", { domains: ["flaky.example"] });
    await dyno("flaky", "web.1", { address: bad.address });
    await dyno("flaky", "web.2", { address: good.address });
    for (let i = 0; i < 12; i++) expect((await get(r.port, "flaky.example", "/g")).status).toBe(200);
    expect(bad.hits).toBeGreaterThan(0); // P(no GET hit the bad dyno) = 2^-12
    const badBefore = bad.hits;
    const goodBefore = good.hits;
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get(r.port, "flaky.example", "/p", { method: "POST", body: "data" })).status);
    const badPosts = bad.hits - badBefore;
    expect(badPosts).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 503).length).toBe(badPosts);
    expect(good.hits - goodBefore).toBe(12 - badPosts);
    await r.logLine(/code=H13 desc="Connection closed without response" method=POST/);
  });

  test("H12 when the dyno sends nothing within the app's first-byte timeout", async () => {
    const mute = await backend(() => undefined);
    await app("mute", { domains: ["mute.example"], timeouts: { firstByteMs: 400 } });
    await dyno("mute", "web.1", { address: mute.address });
    const t0 = Date.now();
    const res = await get(r.port, "mute.example");
    expect(res.status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(3000);
    await r.logLine(/code=H12 desc="Request timeout" .*host=mute\.example .*status=503/);
  });

  test("H15 when a started response goes idle", async () => {
    const stall = await backend((_q, s) => {
      s.writeHead(200, { "Content-Type": "text/plain" });
      s.write("partial");
    });
    await app("stall", { domains: ["stall.example"], timeouts: { idleMs: 400 } });
    await dyno("stall", "web.1", { address: stall.address });
    const out = await raw(r.port, "GET / HTTP/1.1\r\nHost: stall.example\r\n\r\n", 5000);
    expect(out.closed).toBe(true);
    expect(out.data).toMatch(/partial/);
    await r.logLine(/code=H15 desc="Idle connection" .*host=stall\.example/);
  });

  test("H27 when the client goes away before the answer", async () => {
    const slow = await backend((_q, s) => setTimeout(() => s.end("late"), 800));
    await app("gone", { domains: ["gone.example"] });
    await dyno("gone", "web.1", { address: slow.address });
    await raw(r.port, "GET /bye HTTP/1.1\r\nHost: gone.example\r\n\r\n", 200);
    await r.logLine(/code=H27 desc="Client Request Interrupted" method=GET path="\/bye" .*status=499/);
  });

  test("H19 and quarantine on connect timeout (a listener that never accepts)", async () => {
    // A socket in LISTEN with a full backlog drops SYNs: connect() times out.
    try {
      execFileSync("python3", ["-c", "pass"]);
    } catch {
      console.warn("python3 missing: skipping the connect-timeout test");
      return;
    }
    const py = spawn("python3", ["-c", "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(30)"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const port = await new Promise<number>((res) => py.stdout!.once("data", (c: Buffer) => res(Number(c.toString().trim()))));
      // Fill the backlog.
      const fillers = [connect(port, "127.0.0.1"), connect(port, "127.0.0.1"), connect(port, "127.0.0.1")];
      fillers.forEach((s) => s.on("error", () => undefined));
      await sleep(200);
      await app("tarpit", { domains: ["tarpit.example"] });
      await dyno("tarpit", "web.1", { address: `127.0.0.1:${port}` });
      const res = await get(r.port, "tarpit.example");
      expect(res.status).toBe(503);
      await r.logLine(/code=H19 desc="Backend connection timeout" .*host=tarpit\.example/);
      fillers.forEach((s) => s.destroy());
    } finally {
      py.kill("SIGKILL");
    }
  });
});

describe("dyno registration", () => {
  test("a lapsed lease removes the dyno", async () => {
    const b = await backend();
    await app("lease", { domains: ["lease.example"], holdWhenEmpty: false });
    await dyno("lease", "web.1", { address: b.address, leaseMs: 600 });
    expect((await get(r.port, "lease.example")).status).toBe(200);
    await sleep(300);
    await dyno("lease", "web.1", { address: b.address, leaseMs: 600 }); // renewal
    await sleep(400);
    expect((await get(r.port, "lease.example")).status).toBe(200);
    await sleep(800);
    expect((await get(r.port, "lease.example")).status).toBe(503);
    const list = await r.api("GET", "/v1/apps/lease");
    expect(list.body.dynos).toEqual([]);
  });

  test("deregistration drains: in-flight requests finish, new ones do not go there", async () => {
    const b = await backend((_q, s) => setTimeout(() => s.end("done"), 600));
    await app("drain", { domains: ["drain.example"], holdWhenEmpty: false });
    await dyno("drain", "web.1", { address: b.address });
    const inflight = get(r.port, "drain.example", "/slow");
    await sleep(150);
    expect((await r.api("DELETE", "/v1/apps/drain/dynos/web.1", { address: b.address })).status).toBe(200);
    const after = await get(r.port, "drain.example", "/new");
    expect(after.status).toBe(503);
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(res.body).toBe("done");
    expect(b.hits).toBe(1);
  });

  test("a late DELETE from the dyno's old host does not remove its new registration", async () => {
    const oldHost = await backend();
    const newHost = await backend((_q, s) => s.end("new"));
    await app("moved", { domains: ["moved.example"], holdWhenEmpty: false });
    await dyno("moved", "web.1", { address: oldHost.address });
    await dyno("moved", "web.1", { address: newHost.address }); // rescheduled to another host
    const late = await r.api("DELETE", "/v1/apps/moved/dynos/web.1", { address: oldHost.address });
    expect(late.status).toBe(409);
    expect(late.body.error).toMatch(/registered at 127\.0\.0\.1:\d+/);
    const nameOnly = await r.api("DELETE", "/v1/apps/moved/dynos/web.1");
    expect(nameOnly.status).toBe(400);
    expect(nameOnly.body.error).toMatch(/address/);
    expect((await r.api("GET", "/v1/apps/moved")).body.dynos).toMatchObject([{ dyno: "web.1", address: newHost.address }]);
    expect((await get(r.port, "moved.example")).body).toBe("new");
    expect((await r.api("DELETE", "/v1/apps/moved/dynos/web.1", { address: newHost.address })).status).toBe(200);
    expect((await get(r.port, "moved.example")).status).toBe(503);
    expect(oldHost.hits).toBe(0);
  });
});

/** A dyno that answers an upgrade request with a plain 200 and keeps the connection, answering
 * anything else sent on it with "hostile" (`preload`: that answer is sent right after the 200). */
async function hostileDyno(first: string, preload: boolean): Promise<HeadServer> {
  const hostile = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhostile";
  const dyno = await startHeadServer((s) => (head) => {
    s.write(/^upgrade:/im.test(head) ? first + (preload ? hostile : "") : hostile);
  });
  hostileServers.push(dyno.server);
  return dyno;
}
const hostileServers: NetServer[] = [];
afterAll(() => { for (const s of hostileServers) s.close(); });

/** One client connection: sends `first`, then `second` once the answer to `first` is complete
 * (`firstLength` bytes after its head), then collects everything until the router closes (or 3 s). */
function twoOnOneConnection(first: string, firstLength: number, second: string): Promise<{ data: string; closed: boolean }> {
  return new Promise((res) => {
    const s = connect(r.port, "127.0.0.1");
    let data = "";
    let sent = false;
    const done = (closed: boolean) => { clearTimeout(t); s.destroy(); res({ data, closed }); };
    const t = setTimeout(() => done(false), 3000);
    s.on("error", () => undefined);
    s.on("close", () => done(true));
    s.on("data", (c) => {
      data += c.toString("latin1");
      const end = data.indexOf("\r\n\r\n");
      if (!sent && end >= 0 && data.length >= end + 4 + firstLength) {
        sent = true;
        s.write(second);
      }
    });
    s.write(first);
  });
}

describe("Upgrade answered without 101", () => {
  const upgradeReq = (host: string) => `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  test.each([
    ["200 with an empty body", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, false],
    ["200 with a body, then more answers on the same connection", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno", 2, true],
  ])("%s: the client gets it as a normal response, then the connection closes and no later request reaches that dyno", async (_name, first, firstLength, preload) => {
    const evil = await hostileDyno(first, preload);
    const victim = await backend((_q, s) => s.end("victim"));
    const tag = preload ? "talks" : "empty";
    await app(`evil-${tag}`, { domains: [`evil-${tag}.example`] });
    await dyno(`evil-${tag}`, "web.1", { address: evil.address });
    await app(`victim-${tag}`, { domains: [`victim-${tag}.example`] });
    await dyno(`victim-${tag}`, "web.1", { address: victim.address });
    for (let i = 0; i < 5; i++) {
      const out = await twoOnOneConnection(upgradeReq(`evil-${tag}.example`), firstLength, `GET /next HTTP/1.1\r\nHost: victim-${tag}.example\r\n\r\n`);
      expect(out.data).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(out.data).toMatch(/\r\nConnection: close\r\n/i);
      const body = out.data.slice(out.data.indexOf("\r\n\r\n") + 4);
      expect(body).toBe(preload ? "no" : ""); // exactly the one response, nothing after it
      expect(out.data).not.toMatch(/hostile/);
      expect(out.closed).toBe(true);
    }
    for (let i = 0; i < 10; i++) expect((await get(r.port, `victim-${tag}.example`)).body).toBe("victim");
    expect(evil.heads).toHaveLength(5);
    expect(evil.heads.every((h) => /^GET \/ws /.test(h))).toBe(true);
    expect(victim.hits).toBe(10 + 0);
    await r.logLine(new RegExp(`method=GET path="/ws" host=evil-${tag}\\.example .*status=200 .*protocol=websocket`));
  });
});

describe("WebSocket", () => {
  test("upgrade is relayed as raw bytes both ways", async () => {
    const b = await backend();
    b.server.on("upgrade", (req, socket) => {
      const accept = createHash("sha1").update(String(req.headers["sec-websocket-key"]) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Seen-Via: ${req.headers.via}\r\n\r\n`);
      socket.pipe(socket); // echo
    });
    await app("chat", { domains: ["ws.example"] });
    await dyno("chat", "web.1", { address: b.address });
    const s = connect(r.port, "127.0.0.1");
    let got = "";
    s.on("data", (c) => (got += c.toString("latin1")));
    s.write("GET /chat HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    await waitFor("101", () => got.includes("\r\n\r\n"));
    expect(got).toMatch(/^HTTP\/1\.1 101 Switching Protocols/);
    expect(got).toMatch(/Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
    expect(got).toMatch(/X-Seen-Via: 1\.1 dynoform/);
    const headerEnd = got.indexOf("\r\n\r\n") + 4;
    const frame = Buffer.from([0x81, 0x85, 1, 2, 3, 4, ..."hello".split("").map((ch, i) => ch.charCodeAt(0) ^ [1, 2, 3, 4][i % 4])]);
    s.write(frame);
    await waitFor("echo", () => got.length >= headerEnd + frame.length);
    expect(Buffer.from(got.slice(headerEnd), "latin1").equals(frame)).toBe(true);
    s.destroy();
    await r.logLine(/method=GET path="\/chat" host=ws\.example .*status=101 .*protocol=websocket/);
  });

  test("Varnish's piped handshake (Connection: Upgrade, close) still switches; the dyno gets Connection: Upgrade", async () => {
    const seen: string[] = [];
    const b = await backend();
    b.server.on("upgrade", (req, socket) => {
      seen.push(String(req.headers.connection));
      socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhi");
      socket.pipe(socket);
    });
    await app("wsclose", { domains: ["wsclose.example"] });
    await dyno("wsclose", "web.1", { address: b.address });
    const s = connect(r.port, "127.0.0.1");
    let got = "";
    s.on("data", (c) => (got += c.toString("latin1")));
    s.write("GET /c HTTP/1.1\r\nHost: wsclose.example\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n\r\n");
    await waitFor("101 and the dyno's first bytes", () => got.endsWith("\r\n\r\nhi"));
    s.write("ping");
    await waitFor("echo", () => got.endsWith("hiping"));
    s.destroy();
    expect(got).toMatch(/^HTTP\/1\.1 101 /);
    expect(seen).toEqual(["Upgrade"]);
  });
});

describe("hostile input", () => {
  let b: Backend;
  beforeAll(async () => {
    b = await backend();
    await app("victim", { domains: ["victim.example"] });
    await dyno("victim", "web.1", { address: b.address });
  });

  const cases: Array<[string, string]> = [
    ["Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: victim.example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    ["two different Content-Lengths", "POST / HTTP/1.1\r\nHost: victim.example\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nhello"],
    ["an oversize header line", `GET / HTTP/1.1\r\nHost: victim.example\r\nX-Big: ${"a".repeat(9000)}\r\n\r\n`],
    ["a bare-LF request", "GET / HTTP/1.1\nHost: victim.example\n\n"],
    ["invalid bytes in a header name", "GET / HTTP/1.1\r\nHost: victim.example\r\nBad\x01Name: x\r\n\r\n"],
    ["a space before the colon", "GET / HTTP/1.1\r\nHost: victim.example\r\nX-Foo : x\r\n\r\n"],
    ["an odd transfer coding", "POST / HTTP/1.1\r\nHost: victim.example\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"],
    ["an HTTP/0.9 request (absolute form, so it names an app)", "GET http://victim.example/\r\n\r\n"],
    ["more header fields than maxHeaders (100)", `GET / HTTP/1.1\r\nHost: victim.example\r\n${Array.from({ length: 101 }, (_, i) => `X-H${i}: v\r\n`).join("")}\r\n`],
  ];
  test.each(cases)("%s gets a 4xx or a close and never reaches the dyno", async (_name, req) => {
    const before = b.hits;
    const out = await raw(r.port, req, 3000);
    const status = /^HTTP\/1\.1 (\d{3})/.exec(out.data)?.[1];
    expect(status === undefined ? out.closed : Number(status) >= 400 && Number(status) < 500).toBe(true);
    expect(b.hits).toBe(before);
    expect((await get(r.port, "victim.example")).status).toBe(200);
  });

  test("several Host headers are refused (RFC 9112 §3.2) and never reach a dyno", async () => {
    const b = await backend();
    await app("twohosts", { domains: ["twohosts.example", "other.example"] });
    await dyno("twohosts", "web.1", { address: b.address });
    for (const second of ["other.example", "twohosts.example"]) {
      for (const upgrade of ["", "Upgrade: websocket\r\nConnection: Upgrade\r\n"]) {
        const out = await raw(r.port, `GET / HTTP/1.1\r\nHost: twohosts.example\r\nHost: ${second}\r\n${upgrade}\r\n`);
        expect(out.data).toMatch(/^HTTP\/1\.1 400 /);
        expect(out.closed).toBe(true);
      }
    }
    expect(b.hits).toBe(0);
  });

  test("an absolute-form request is routed by its authority, which the dyno gets as Host (RFC 9112 §3.2.2)", async () => {
    const a = await backend();
    const b = await backend();
    await app("abs-a", { domains: ["abs-a.example"] });
    await dyno("abs-a", "web.1", { address: a.address });
    await app("abs-b", { domains: ["abs-b.example"] });
    await dyno("abs-b", "web.1", { address: b.address });
    const out = await raw(r.port, "GET http://abs-b.example:8080/x?y=1 HTTP/1.1\r\nHost: abs-a.example\r\nConnection: close\r\n\r\n");
    expect(out.data).toMatch(/^HTTP\/1\.1 200 /);
    expect(a.hits).toBe(0);
    expect(b.requests).toHaveLength(1);
    expect(b.requests[0].url).toBe("/x?y=1");
    expect(b.requests[0].rawHeaders.filter((_h, i) => i % 2 === 0 && /^host$/i.test(_h))).toHaveLength(1);
    expect(b.requests[0].headers.host).toBe("abs-b.example:8080");
    await r.logLine(/method=GET path="\/x\?y=1" host=abs-b\.example /);
    for (const target of ["http://user@abs-b.example/", "ftp://abs-b.example/", "http:///nohost"]) {
      const bad = await raw(r.port, `GET ${target} HTTP/1.1\r\nHost: abs-a.example\r\n\r\n`);
      expect(bad.data).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect((await raw(r.port, "OPTIONS * HTTP/1.1\r\nHost: abs-a.example\r\n\r\n")).data).toMatch(/^HTTP\/1\.1 400 /);
    expect(a.hits + b.hits).toBe(1);
  });

  test("a slowloris client is cut by the header timeout while others are served", async () => {
    const before = b.hits;
    const s = connect(r.port, "127.0.0.1");
    let closed = false;
    let got = "";
    s.on("data", (c) => (got += c));
    s.on("error", () => undefined);
    s.on("close", () => (closed = true));
    s.write("GET / HTTP/1.1\r\nHost: victim.example\r\n");
    const t0 = Date.now();
    for (let i = 0; i < 40 && !closed; i++) {
      await sleep(100);
      if (!closed) s.write(`X-Drip-${i}: x\r\n`);
      if (i === 5) expect((await get(r.port, "victim.example")).status).toBe(200);
    }
    expect(closed).toBe(true);
    expect(Date.now() - t0).toBeLessThan(3500);
    expect(got === "" || /^HTTP\/1\.1 408/.test(got)).toBe(true);
    expect(b.hits).toBe(before + 1);
  });

  test("a client that drips its body is cut by the request timeout; the dyno never gets a whole request", async () => {
    const slow = await startRouter({ clientHeaderTimeoutMs: 1000, clientRequestTimeoutMs: 2000 });
    try {
      const d = await backend();
      await app("drip", { domains: ["drip.example"] }, slow);
      await dyno("drip", "web.1", { address: d.address }, slow);
      const s = connect(slow.port, "127.0.0.1");
      let closed = false;
      let got = "";
      s.on("data", (c) => (got += c));
      s.on("error", () => undefined);
      s.on("close", () => (closed = true));
      s.write("POST /drip HTTP/1.1\r\nHost: drip.example\r\nContent-Length: 1000\r\n\r\n");
      // One byte every 200 ms: never idle for long, but 1000 bytes would take 200 s.
      for (let i = 0; i < 50 && !closed; i++) {
        await sleep(200);
        if (!closed) s.write("x");
      }
      expect(closed).toBe(true);
      expect(got === "" || /^HTTP\/1\.1 408/.test(got)).toBe(true);
      expect(d.requests).toEqual([]);
    } finally {
      await slow.stop();
    }
  });
});

describe("cores", () => {
  test("with several workers every worker has the table and serves", async () => {
    const r2 = await startRouter({ workers: 2 });
    try {
      const b = await backend();
      await app("multi", { domains: ["multi.example"] }, r2);
      await dyno("multi", "web.1", { address: b.address }, r2);
      await sleep(100);
      const res = await Promise.all(Array.from({ length: 30 }, () => get(r2.port, "multi.example")));
      expect(res.every((x) => x.status === 200)).toBe(true);
      const m = await fetchMetrics(r2);
      expect(m).toMatch(/dynoform_router_workers 2/);
      expect(m).toMatch(/dynoform_router_requests_total\{app="multi",code="",status="200"\} 30/);
    } finally {
      await r2.stop();
    }
  });
});

describe("metrics", () => {
  test("Prometheus text with requests by code, queue depth, in-flight and latency histogram", async () => {
    const m = await fetchMetrics(r);
    expect(m).toMatch(/dynoform_router_requests_total\{app="empty",code="H14",status="503"\} \d+/);
    expect(m).toMatch(/dynoform_router_queue_depth\{app="routed"\} 0/);
    expect(m).toMatch(/dynoform_router_dyno_inflight\{app="routed",dyno="web.1"\} 0/);
    expect(m).toMatch(/dynoform_router_request_duration_seconds_bucket\{app="routed",le="\+Inf"\} \d+/);
  });
});

async function fetchMetrics(router: Router): Promise<string> {
  const res = await router.api("GET", "/metrics");
  expect(res.status).toBe(200);
  return String(res.body);
}

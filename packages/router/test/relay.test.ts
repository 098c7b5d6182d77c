// The relay path (client_connection.ts, relay_exchange.ts, dyno_connection.ts): what a client sees
// must be what node:http's path gave it, on connections that move between the two paths, with
// pipelining, with every way a dyno frames an answer, and with dynos that send more than an answer.
import { connect } from "node:net";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { ClientConnection } from "../src/client_connection";
import { keepAliveHintMs } from "../src/dyno_connection";
import { raw, sleep, startBackend, startHeadServer, startRouter, stopAll, type Backend, type HeadServer, type Router } from "./harness";

jest.setTimeout(30_000);

let r: Router;
const servers: Array<Backend | HeadServer> = [];

async function route(name: string, address: string): Promise<string> {
  const host = `${name}.example`;
  expect([200, 201]).toContain((await r.api("PUT", `/v1/apps/${name}`, { domains: [host] })).status);
  expect([200, 201]).toContain((await r.api("PUT", `/v1/apps/${name}/dynos/web.1`, { address, concurrency: 4 })).status);
  return host;
}

/** The answers in `data`, split by their framing (Content-Length or chunked), in order. */
function answers(data: string): Array<{ status: number; head: string; body: string }> {
  const out: Array<{ status: number; head: string; body: string }> = [];
  let rest = data;
  while (rest.length) {
    const e = rest.indexOf("\r\n\r\n");
    if (e < 0) throw new Error(`no head end in ${JSON.stringify(rest.slice(0, 200))}`);
    const head = rest.slice(0, e);
    rest = rest.slice(e + 4);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
    let body = "";
    if (cl) {
      body = rest.slice(0, Number(cl[1]));
      rest = rest.slice(Number(cl[1]));
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      for (;;) {
        const le = rest.indexOf("\r\n");
        const size = parseInt(rest.slice(0, le), 16);
        rest = rest.slice(le + 2);
        if (size === 0) {
          rest = rest.slice(rest.indexOf("\r\n") + 2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    }
    out.push({ status, head, body });
  }
  return out;
}

beforeAll(async () => {
  r = await startRouter({ clientHeaderTimeoutMs: 1000 });
}, 120_000);

afterAll(async () => {
  await stopAll(r);
  for (const s of servers) await s.close();
});

test("pipelined requests are answered in order, and a request with a body on the same connection goes through node:http's path", async () => {
  const b = await startBackend((req, res, body) => {
    const wait = req.url === "/slow" ? 150 : 0;
    setTimeout(() => res.end(`${req.method} ${req.url} ${body}`), wait);
  });
  servers.push(b);
  const host = await route("pipe", b.address);
  const got = await raw(r.port,
    `GET /slow HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
    `GET /fast HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
    `POST /form HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\n\r\nhello` +
    `GET /last HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  const a = answers(got.data);
  expect(a.map((x) => `${x.status} ${x.body}`)).toEqual(["200 GET /slow ", "200 GET /fast ", "200 POST /form hello", "200 GET /last "]);
  expect(a[0].head).toMatch(/\r\nConnection: keep-alive\r\nKeep-Alive: timeout=\d+/);
  expect(a[0].head).toMatch(/\r\nX-Request-Id: \S+/);
  expect(a[0].head).toMatch(/\r\nDate: \w{3}, /);
  expect(a[3].head).toMatch(/\r\nConnection: close/);
  expect(got.closed).toBe(true);
});

test("every framing a dyno may use reaches the client intact: length, chunked, until close, none for HEAD and 204, after a 103", async () => {
  const hs = await startHeadServer((s) => (head) => {
    const path = /^\w+ (\S+)/.exec(head)![1];
    if (path === "/length") s.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    else if (path === "/chunked") s.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n");
    else if (path === "/close") s.end("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close");
    else if (path === "/head") s.write("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
    else if (path === "/nocontent") s.write("HTTP/1.1 204 No Content\r\n\r\n");
    else if (path === "/hints") s.write("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  servers.push(hs);
  const host = await route("framing", hs.address);
  const req = (method: string, path: string, last = false) => `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n${last ? "Connection: close\r\n" : ""}\r\n`;
  const got = await raw(r.port, req("GET", "/length") + req("GET", "/chunked") + req("GET", "/close") + req("HEAD", "/head") + req("GET", "/nocontent") + req("GET", "/hints", true));
  // HEAD's answer has a Content-Length but no body: split by hand.
  const [beforeHead, afterHead] = got.data.split(/(?=HTTP\/1\.1 204)/);
  const headAnswer = beforeHead.slice(beforeHead.lastIndexOf("HTTP/1.1 200"));
  const first = answers(beforeHead.slice(0, beforeHead.lastIndexOf("HTTP/1.1 200")));
  expect(first.map((x) => x.body)).toEqual(["hello", "abcde", "until close"]);
  expect(first[2].head).toMatch(/\r\nTransfer-Encoding: chunked/);
  expect(headAnswer).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 1234\r\n[^]*\r\n\r\n$/);
  const rest = answers(afterHead);
  expect(rest.map((x) => `${x.status} ${x.body}`)).toEqual(["204 ", "200 ok"]);
  expect(got.data).not.toContain("103 Early Hints");
  await r.logLine(/method=HEAD path="\/head" host=framing\.example .*status=200/);
});

test("bytes a dyno sends after its answer never become the answer to the next request", async () => {
  // A hostile dyno answers, then sends a second answer nobody asked for on the same connection.
  const evil = await startHeadServer((s) => (head) => {
    if (head.startsWith("GET /first")) s.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled");
    else s.write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond");
  });
  servers.push(evil);
  const host = await route("extra", evil.address);
  const one = await raw(r.port, `GET /first HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  expect(answers(one.data).map((x) => x.body)).toEqual(["first"]);
  const two = await raw(r.port, `GET /second HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  expect(answers(two.data).map((x) => x.body)).toEqual(["second"]);
  expect(two.data).not.toContain("smuggled");
});

test("an answer the strict parser refuses is never relayed: a bad gateway for the client (H13), and the connection is not reused", async () => {
  const bad = await startHeadServer((s) => (head) => {
    if (head.startsWith("GET /bad")) s.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
    else s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  servers.push(bad);
  const host = await route("badanswer", bad.address);
  const one = await raw(r.port, `POST /bad HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  expect(one.data).not.toContain("hello");
  const viaRelay = await raw(r.port, `GET /bad HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  expect(viaRelay.data).toMatch(/^HTTP\/1\.1 503 /);
  expect(viaRelay.data).not.toContain("hello");
  await r.logLine(/code=H13 .*path="\/bad" host=badanswer\.example/);
  const after = await raw(r.port, `GET /ok HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  expect(answers(after.data).map((x) => x.body)).toEqual(["ok"]);
});

test("a Content-Length body is relayed whole, also when it arrives in pieces; a refused connect still goes to another dyno with it", async () => {
  const b = await startBackend((req, res, body) => res.end(`${req.method} ${req.headers["content-length"]} ${body}`));
  servers.push(b);
  const host = await route("bodies", b.address);
  // A second dyno that refuses connections: requests that pick it first go on to the first one.
  expect((await r.api("PUT", "/v1/apps/bodies/dynos/web.2", { address: "127.0.0.1:1", concurrency: 4 })).status).toBeLessThan(300);
  const form = "a=1&b=" + "x".repeat(20_000);
  const one = await raw(r.port, `POST /form HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${form.length}\r\n\r\n${form}` + `GET /after HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  expect(answers(one.data).map((x) => x.body)).toEqual([`POST ${form.length} ${form}`, "GET undefined "]);
  // The same request in three pieces, 50 ms apart.
  const pieces = await new Promise<string>((resolve) => {
    const s = connect({ port: r.port, host: "127.0.0.1" });
    let out = "";
    s.on("data", (c) => (out += c.toString("latin1")));
    s.on("close", () => resolve(out));
    const whole = `PUT /piecewise HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world`;
    s.write(whole.slice(0, 20));
    setTimeout(() => s.write(whole.slice(20, whole.length - 6)), 50);
    setTimeout(() => s.write(whole.slice(whole.length - 6)), 100);
  });
  expect(answers(pieces).map((x) => x.body)).toEqual(["PUT 11 hello world"]);
  for (const path of ["/form", "/piecewise"]) expect(b.requests.filter((q) => q.url === path)).toHaveLength(1);
});

test("a slow client that does not read for longer than idleTimeoutMs still gets the whole answer: H15 is an idle dyno, not a slow client (as undici's body timeout)", async () => {
  const slow = await startRouter({ idleTimeoutMs: 1000 });
  const big = Buffer.alloc(32 * 1024 * 1024, 0x61);
  const b = await startBackend((_req, res) => { res.setHeader("Content-Length", String(big.length)); res.end(big); });
  servers.push(b);
  try {
    const host = "slowclient.example";
    expect([200, 201]).toContain((await slow.api("PUT", "/v1/apps/slowclient", { domains: [host] })).status);
    expect([200, 201]).toContain((await slow.api("PUT", "/v1/apps/slowclient/dynos/web.1", { address: b.address, concurrency: 4 })).status);
    const got = await new Promise<number>((resolve) => {
      const s = connect({ port: slow.port, host: "127.0.0.1" });
      let n = 0;
      s.on("data", (c) => (n += c.length));
      s.on("error", () => undefined);
      s.on("close", () => resolve(n));
      s.write(`GET /big HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      s.pause();
      setTimeout(() => s.resume(), 2500); // a phone on a bad network, for 2.5 s
      setTimeout(() => s.destroy(), 20_000);
    });
    await sleep(200);
    expect(slow.logs.filter((l) => / code=H1[25] /.test(l))).toEqual([]);
    expect(got).toBeGreaterThan(big.length); // head + whole body
  } finally {
    await slow.stop();
  }
});

test("ClientConnection.onDrain: the current answer's waiter is called on drain, also when the previous (finished) answer's was pending", () => {
  // How the pipelined stall happens: exchange 1's last body write returns false, so its waiter
  // (() => x1.conn?.resume(), x1.conn already undefined) is pending when exchange 2 (the next
  // pipelined request, started synchronously from responseDone) gets its first false write.
  // onDrain drops exchange 2's waiter; the one 'drain' event runs exchange 1's; exchange 2's dyno
  // connection stays paused (its idle timer not refreshed) until H15 cuts the answer.
  const socket = Object.assign(new EventEmitter(), { setNoDelay: () => undefined, destroyed: false, write: () => false });
  const proxy = { trusts: () => false } as unknown as ConstructorParameters<typeof ClientConnection>[1];
  const c = new ClientConnection(socket as unknown as Socket, proxy, () => undefined);
  const resumed: string[] = [];
  c.onDrain(() => resumed.push("exchange 1 (finished)"));
  c.onDrain(() => resumed.push("exchange 2 (in flight)"));
  socket.emit("drain");
  expect(resumed).toContain("exchange 2 (in flight)");
});


test("a flood of pipelined requests answered at once (H14: an app without dynos, holdWhenEmpty false) is answered in full, without nesting calls (a stack overflow killed the worker)", async () => {
  // responseDone -> next -> proxy.relay -> begin -> pool.take -> noSlot -> fail -> finish ->
  // responseDone -> next ... : one nesting per pipelined request held in the buffer (a read is up
  // to 64 KiB: ~1,800 such requests). H11 (queue full), H19/H21 (every dyno quarantined) and an
  // expired queue deadline fail synchronously the same way.
  const host = "nodynos.example";
  expect([200, 201]).toContain((await r.api("PUT", "/v1/apps/nodynos", { domains: [host], holdWhenEmpty: false })).status);
  const one = `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
  const small = await raw(r.port, one.repeat(3), 1000);
  expect(small.data.split("HTTP/1.1 503 ").length - 1).toBe(3);
  const got = await raw(r.port, one.repeat(20_000), 5000);
  const answered = got.data.split("HTTP/1.1 503 ").length - 1;
  expect(r.stderr.join("")).not.toMatch(/Maximum call stack|RangeError/);
  expect(answered).toBe(20_000);
});

test("a dyno's Keep-Alive timeout bounds how long its idle connection is reused (less a margin, as undici's)", () => {
  expect(keepAliveHintMs(["Content-Length", "2", "Keep-Alive", "timeout=5"])).toBe(4500);
  expect(keepAliveHintMs(["keep-alive", "max=100, timeout=2"])).toBe(1500);
  expect(keepAliveHintMs(["Keep-Alive", "timeout=0"])).toBe(0);
  expect(keepAliveHintMs(["Keep-Alive", "max=5"])).toBe(Infinity);
  expect(keepAliveHintMs(["Connection", "keep-alive"])).toBe(Infinity);
});

// The real nginx and Varnish, configured from templates/nginx/edge.conf and
// templates/varnish/default.vcl (on loopback ports, in temporary directories, killed by pid), in
// front of (1) a stand-in for Varnish + a router that tunnels whatever a dyno answers, and (2) the
// real router. An app that answers an Upgrade with 200 must never get a pooled connection that then
// carries other users' requests. Skipped without nginx (and varnishd for the Varnish part).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vclVars } from "../../../components/edge/edge";
import { render } from "../../../components/templates/render";
import { freePort, get, raw, startBackend, startHeadServer, startRouter, stopProcess, waitFor, type HeadServer, type Router } from "./harness";

jest.setTimeout(60_000);

const NGINX = "/usr/sbin/nginx";
const VARNISHD = "/usr/sbin/varnishd";
const haveNginx = existsSync(NGINX);
const haveVarnish = haveNginx && existsSync(VARNISHD);

/** What each test started, stopped after it in reverse order, so a proxy stops before what it proxies to. */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Nginx {
  port: number;
  stop(): Promise<void>;
}

/** nginx with the edge server block rendered for `upstream`; `pooledUpgrades` swaps the map so
 * that Upgrade requests use the keep-alive pool too (the configuration before the fix). */
async function startNginx(upstream: string, pooledUpgrades = false): Promise<Nginx> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "dynoform-edge-nginx-"));
  const rendered = render("nginx/edge.conf", { varnishAddress: upstream, domain: "dynoform.test", apiAddress: "127.0.0.1:9" });
  // The api.<domain> server block (to the control host's API) plays no part in this chain: it goes,
  // and with it its listens on 80/443.
  const apiBlock = rendered.indexOf("\n# The platform API at api.");
  if (apiBlock < 0) throw new Error("edge.conf has no api.<domain> block to leave out: update this test");
  let edge = rendered
    .slice(0, apiBlock + 1)
    .replace(/listen 80 default_server;\n\s+listen 443 ssl http2 default_server;/, `listen 127.0.0.1:${port} default_server;`)
    .replace(/^\s*ssl_.*\n/gm, "");
  if (pooledUpgrades) edge = edge.replace("default dynoform_varnish_upgrade;", "default dynoform_varnish;");
  for (const sub of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, "edge.conf"), edge);
  writeFileSync(join(dir, "nginx.conf"), [
    "user root;", // only when run as root (workers would be nobody otherwise); ignored otherwise
    "worker_processes 1;",
    "daemon off;",
    `pid ${join(dir, "nginx.pid")};`,
    "events { worker_connections 256; }",
    "http {",
    "  access_log off;",
    `  client_body_temp_path ${join(dir, "body")}; proxy_temp_path ${join(dir, "proxy")};`,
    `  fastcgi_temp_path ${join(dir, "fastcgi")}; uwsgi_temp_path ${join(dir, "uwsgi")}; scgi_temp_path ${join(dir, "scgi")};`,
    `  include ${join(dir, "edge.conf")};`,
    "}",
    "",
  ].join("\n"));
  const proc: ChildProcess = spawn(NGINX, ["-p", dir, "-e", join(dir, "error.log"), "-c", join(dir, "nginx.conf")], { stdio: "ignore" });
  const stop = () => stopProcess(proc, dir);
  try {
    await waitFor("nginx listening", () => new Promise<boolean>((res) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => { s.destroy(); res(true); });
      s.once("error", () => res(false));
    }), 10_000);
  } catch (e) {
    const log = existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8") : "";
    await stop();
    throw new Error(`${(e as Error).message}: ${log}`);
  }
  return { port, stop };
}

/** varnishd with the shipped VCL, its one backend `router` (host:port); ready once the router
 * answers Varnish's health probe. */
async function startVarnish(router: { address: string; port: number }): Promise<Nginx> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "dynoform-edge-varnish-"));
  // Bans from a control host that is not here (cache purges are test/unit/varnish_purge.test.ts's).
  const vcl = render("varnish/default.vcl", vclVars([router], { controlAddress: "192.0.2.1", token: "0".repeat(64) }));
  writeFileSync(join(dir, "default.vcl"), vcl);
  const err: string[] = [];
  const proc: ChildProcess = spawn(VARNISHD, [
    "-F", "-j", "none", "-n", join(dir, "work"), "-a", `127.0.0.1:${port}`, "-T", "none",
    "-f", join(dir, "default.vcl"), "-s", "malloc,16m", "-p", "vcc_allow_inline_c=off",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  proc.stderr!.on("data", (c: Buffer) => err.push(c.toString()));
  const stop = () => stopProcess(proc, dir);
  try {
    await waitFor("varnish serving the router's health", async () => {
      try {
        return (await get(port, "dynoform-router-health", "/health", { timeoutMs: 1000 })).status === 200;
      } catch {
        return false;
      }
    }, 20_000);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}: ${err.join("")}`);
  }
  return { port, stop };
}

type StandIn = HeadServer & { reusedAfterUpgrade: () => number };

/** Answers every request on a connection: 200 with an empty body to an Upgrade request, after
 * which that connection answers everything with "hostile" (as a pipe to a hostile dyno would);
 * "victim" otherwise. */
async function tunnelStandIn(): Promise<StandIn> {
  let reused = 0;
  const standIn = await startHeadServer((s) => {
    let piped = false;
    return (head) => {
      if (piped) {
        reused++;
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhostile");
      } else if (/^upgrade:/im.test(head)) {
        piped = true;
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
      } else {
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nvictim");
        if (/^connection:.*\bclose\b/im.test(head)) s.end(); // Varnish's health probe waits for the close
      }
    };
  });
  return { ...standIn, reusedAfterUpgrade: () => reused };
}

/** A router with the apps "evil" (at `evil`, a tunnel stand-in) and "victim" (a dyno that answers
 * everything with "victim", and a WebSocket handshake with 101 and an echo), at evil.example and
 * victim.example; all three are stopped after the test. */
async function evilAndVictim(): Promise<{ router: Router; evil: StandIn }> {
  const router = await startRouter();
  cleanups.push(() => router.stop());
  const evil = await tunnelStandIn();
  cleanups.push(() => evil.close());
  const victimSockets = new Set<Socket>();
  const victim = createServer((s) => {
    victimSockets.add(s);
    s.on("error", () => undefined);
    s.on("data", (c) => {
      const req = c.toString("latin1");
      if (/^upgrade: websocket/im.test(req)) {
        s.removeAllListeners("data");
        s.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        s.pipe(s);
        return;
      }
      s.write("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nvictim");
    });
  });
  await new Promise<void>((r) => victim.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => {
    for (const s of victimSockets) s.destroy();
    victim.close(() => r());
  }));
  for (const [name, address] of [["evil", evil.address], ["victim", `127.0.0.1:${(victim.address() as { port: number }).port}`]]) {
    expect((await router.api("PUT", `/v1/apps/${name}`, { domains: [`${name}.example`] })).status).toBe(201);
    expect((await router.api("PUT", `/v1/apps/${name}/dynos/web.1`, { address })).status).toBe(201);
  }
  return { router, evil };
}

/** `n` requests one after the other on one client keep-alive connection; the bodies in order. */
function keepAliveBodies(port: number, host: string, n: number): Promise<string[]> {
  return new Promise((res, rej) => {
    const s = connect(port, "127.0.0.1");
    const bodies: string[] = [];
    let buf = "";
    const t = setTimeout(() => { s.destroy(); rej(new Error(`keep-alive client: ${bodies.length} of ${n} answers`)); }, 10_000);
    const send = () => s.write(`GET /k HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    s.on("error", rej);
    s.on("data", (c) => {
      buf += c.toString("latin1");
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        const len = /\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, end));
        if (end < 0 || !len || buf.length < end + 4 + Number(len[1])) return;
        bodies.push(buf.slice(end + 4, end + 4 + Number(len[1])));
        buf = buf.slice(end + 4 + Number(len[1]));
        if (bodies.length === n) { clearTimeout(t); s.destroy(); return res(bodies); }
        send();
      }
    });
    send();
  });
}

const UPGRADE = { headers: { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13" }, timeoutMs: 5000 };

async function attack(nginx: Nginx, evilHost: string, victimHost: string): Promise<string[]> {
  for (let i = 0; i < 20; i++) expect((await get(nginx.port, evilHost, "/ws", UPGRADE)).status).toBe(200);
  const bodies = await keepAliveBodies(nginx.port, victimHost, 30);
  for (let i = 0; i < 30; i++) bodies.push((await get(nginx.port, victimHost, "/n")).body);
  return bodies;
}

(haveNginx ? describe : describe.skip)("nginx edge (templates/nginx/edge.conf) in front of an Upgrade answered with 200", () => {
  test("the shipped config never reuses the Upgrade's connection; the pooled config (before the fix) does", async () => {
    const standIn = await tunnelStandIn();
    cleanups.push(() => standIn.close());
    const nginx = await startNginx(standIn.address);
    cleanups.push(() => nginx.stop());
    const bodies = await attack(nginx, "evil.example", "victim.example");
    expect(bodies.filter((b) => b !== "victim")).toEqual([]);
    expect(standIn.reusedAfterUpgrade()).toBe(0);

    // The same traffic with Upgrade requests on the keep-alive pool: the attack the fix stops.
    const old = await startNginx(standIn.address, true);
    cleanups.push(() => old.stop());
    const oldBodies = await attack(old, "evil.example", "victim.example");
    expect(oldBodies.filter((b) => b === "hostile").length).toBeGreaterThan(0);
  });

  test("Host: nginx refuses several Host headers and passes an absolute-form target's authority as Host (as the router routes)", async () => {
    const standIn = await tunnelStandIn();
    cleanups.push(() => standIn.close());
    const nginx = await startNginx(standIn.address);
    cleanups.push(() => nginx.stop());
    const two = await raw(nginx.port, "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n");
    expect(two.data).toMatch(/^HTTP\/1\.1 400 /);
    expect(standIn.heads).toEqual([]);
    const abs = await raw(nginx.port, "GET http://b.example/x HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n");
    expect(abs.data).toMatch(/^HTTP\/1\.1 200 /);
    expect(standIn.heads).toHaveLength(1);
    expect(standIn.heads[0]).toMatch(/^GET \/x HTTP\/1\.1\r\n/);
    expect(standIn.heads[0]).toMatch(/\r\nHost: b\.example\r\n/);
  });

  test("nginx → router: 20 Upgrades answered 200 by a hostile dyno, then 60 requests for another app all reach that app (with the Upgrade on nginx's pool too)", async () => {
    // The hostile dyno: a plain 200 to the Upgrade, "hostile" to anything after it on the connection.
    const { router, evil } = await evilAndVictim();
    // The shipped config, and the pooled one: the router alone must close after a non-101.
    for (const pooledUpgrades of [false, true]) {
      const nginx = await startNginx(`127.0.0.1:${router.port}`, pooledUpgrades);
      cleanups.push(() => nginx.stop());
      const bodies = await attack(nginx, "evil.example", "victim.example");
      expect(bodies.filter((b) => b !== "victim")).toEqual([]);
      expect(evil.reusedAfterUpgrade()).toBe(0);
    }
  });
});

(haveVarnish ? describe : describe.skip)("nginx → Varnish (templates/varnish/default.vcl) → router", () => {
  test("Varnish pipes a WebSocket handshake with Connection: Upgrade, close", async () => {
    const standIn = await tunnelStandIn();
    cleanups.push(() => standIn.close());
    const varnish = await startVarnish({ address: "127.0.0.1", port: Number(standIn.address.split(":")[1]) });
    cleanups.push(() => varnish.stop());
    expect((await get(varnish.port, "evil.example", "/ws", UPGRADE)).status).toBe(200);
    const piped = standIn.heads.filter((h) => h.startsWith("GET /ws "));
    expect(piped).toHaveLength(1);
    expect(piped[0]).toMatch(/\r\nConnection: Upgrade, close(\r\n|$)/i);
    expect(piped[0]).toMatch(/\r\nUpgrade: websocket(\r\n|$)/i);
  });

  test("a WebSocket still switches end to end, and 20 Upgrades answered 200 leave 60 requests for another app untouched", async () => {
    const { router, evil } = await evilAndVictim();
    const varnish = await startVarnish({ address: "127.0.0.1", port: router.port });
    cleanups.push(() => varnish.stop());
    const nginx = await startNginx(`127.0.0.1:${varnish.port}`);
    cleanups.push(() => nginx.stop());

    const echoed = await new Promise<string>((res, rej) => {
      const s = connect(nginx.port, "127.0.0.1");
      let got = "";
      const t = setTimeout(() => { s.destroy(); rej(new Error(`no echo: ${JSON.stringify(got)}`)); }, 10_000);
      s.on("error", rej);
      s.on("data", (c) => {
        got += c.toString("latin1");
        if (got.includes("\r\n\r\n") && !got.includes("ping")) s.write("ping");
        if (got.endsWith("ping")) { clearTimeout(t); s.destroy(); res(got); }
      });
      s.write("GET /chat HTTP/1.1\r\nHost: victim.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    });
    expect(echoed).toMatch(/^HTTP\/1\.1 101 /);

    const bodies = await attack(nginx, "evil.example", "victim.example");
    expect(bodies.filter((b) => b !== "victim")).toEqual([]);
    expect(evil.reusedAfterUpgrade()).toBe(0);
  });

  test("forwarded headers: the dyno gets the address nginx's client connected from, never what a client claims", async () => {
    // Only Varnish's address (loopback here, the edge hosts' private addresses when deployed) is trusted.
    const router: Router = await startRouter({ trustedProxies: "127.0.0.1" });
    cleanups.push(() => router.stop());
    const dyno = await startBackend();
    cleanups.push(() => dyno.close());
    expect((await router.api("PUT", "/v1/apps/fwd", { domains: ["fwd.example"] })).status).toBe(201);
    expect((await router.api("PUT", "/v1/apps/fwd/dynos/web.1", { address: dyno.address })).status).toBe(201);
    const varnish = await startVarnish({ address: "127.0.0.1", port: router.port });
    cleanups.push(() => varnish.stop());
    const nginx = await startNginx(`127.0.0.1:${varnish.port}`);
    cleanups.push(() => nginx.stop());
    const forged = { "X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443", "X-Request-Start": "1000000000000" };

    // Through the edge: nginx sets them from its peer (the client connects from 127.0.0.2).
    const before = Date.now();
    expect((await get(nginx.port, "fwd.example", "/a", { method: "POST", headers: forged, localAddress: "127.0.0.2" })).status).toBe(200);
    const viaEdge = dyno.requests.find((q) => q.url === "/a")!.headers;
    expect(viaEdge["x-forwarded-for"]).toBe("127.0.0.2");
    expect(viaEdge["x-forwarded-proto"]).toBe("http");
    expect(viaEdge["x-forwarded-port"]).toBe(String(nginx.port));
    expect(Number(viaEdge["x-request-start"])).toBeGreaterThanOrEqual(before - 1000); // nginx's clock, ms resolution

    // Around nginx, straight to Varnish (which listens on the private subnet): Varnish keeps
    // nothing a client other than its own host's nginx says.
    expect((await get(varnish.port, "fwd.example", "/b", { method: "POST", headers: forged, localAddress: "127.0.0.2" })).status).toBe(200);
    const viaVarnish = dyno.requests.find((q) => q.url === "/b")!.headers;
    expect(viaVarnish["x-forwarded-for"]).toBe("127.0.0.2");
    expect(viaVarnish["x-forwarded-proto"]).toBe("http");
    expect(Number(viaVarnish["x-request-start"])).toBeGreaterThanOrEqual(before);

    // Around the edge, straight to the router (a dyno could): the router sets them from the socket.
    expect((await get(router.port, "fwd.example", "/c", { method: "POST", headers: forged, localAddress: "127.0.0.2" })).status).toBe(200);
    const direct = dyno.requests.find((q) => q.url === "/c")!.headers;
    expect(direct).toMatchObject({ "x-forwarded-for": "127.0.0.2", "x-forwarded-proto": "http", "x-forwarded-port": String(router.port) });
    expect(Number(direct["x-request-start"])).toBeGreaterThanOrEqual(before);

    // A cacheable GET, through the edge from 127.0.0.1: exactly one address.
    expect((await get(nginx.port, "fwd.example", "/d", { headers: { "X-Forwarded-For": "6.6.6.6" } })).status).toBe(200);
    expect(dyno.requests.find((q) => q.url === "/d")!.headers["x-forwarded-for"]).toBe("127.0.0.1");
  });
});

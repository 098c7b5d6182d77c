// Test harness: builds (incrementally) and starts the real dynoform-router single executable,
// real backend HTTP servers on 127.0.0.1, and raw clients.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(__dirname, "../../..");
export const BINARY = join(ROOT, "packages/router/dist/dynoform-router");

let built = false;
export function ensureBinary(): string {
  if (!built) {
    execFileSync(process.execPath, [join(ROOT, "scripts/build-binaries.mjs"), "--only", "dynoform-router"], { stdio: "pipe", timeout: 120_000 });
    built = true;
  }
  if (!existsSync(BINARY)) throw new Error(`no binary at ${BINARY}`);
  return BINARY;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Stops a process the tests started (SIGTERM, SIGKILL after 5 s if it lingers) and removes its
 * temporary directory: how the router, nginx and Varnish are all stopped. */
export async function stopProcess(proc: ChildProcess, dir: string): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Stops routers and closes backends in the order given (those never started are undefined):
 * what a test file's afterAll does with what its tests started. */
export async function stopAll(...all: Array<Router | Backend | undefined>): Promise<void> {
  for (const x of all) {
    if (!x) continue;
    if ("stop" in x) await x.stop();
    else await x.close();
  }
}

export interface Router {
  port: number;
  controlPort: number;
  token: string;
  proc: ChildProcess;
  logs: string[];
  stderr: string[];
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  /** Wait until a log line matching re appears (returns it). */
  logLine(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startRouter(overrides: Record<string, unknown> = {}): Promise<Router> {
  const bin = ensureBinary();
  const port = await freePort();
  const controlPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "dynoform-router-test-"));
  const token = "test-token-" + Math.random().toString(36).slice(2);
  writeFileSync(join(dir, "token"), token + "\n");
  const cfg = {
    listen: `127.0.0.1:${port}`,
    controlListen: `127.0.0.1:${controlPort}`,
    tokenFile: join(dir, "token"),
    workers: 1,
    platformDomain: "dynoform.test",
    ...overrides,
  };
  writeFileSync(join(dir, "router.json"), JSON.stringify(cfg));
  const proc = spawn(bin, ["--config", join(dir, "router.json")], { stdio: ["ignore", "pipe", "pipe"] });
  const logs: string[] = [];
  const stderr: string[] = [];
  let outBuf = "";
  proc.stdout!.on("data", (c: Buffer) => {
    outBuf += c.toString();
    const lines = outBuf.split("\n");
    outBuf = lines.pop()!;
    logs.push(...lines);
  });
  proc.stderr!.on("data", (c: Buffer) => stderr.push(c.toString()));
  const api = (method: string, path: string, body?: unknown, tok = token) =>
    new Promise<{ status: number; body: any }>((res, rej) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const r = httpRequest(
        { host: "127.0.0.1", port: controlPort, method, path, agent: false, headers: { Authorization: `Bearer ${tok}`, ...(data ? { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(data)) } : {}) } },
        (resp) => {
          let s = "";
          resp.on("data", (c) => (s += c));
          resp.on("end", () => {
            let parsed: unknown = s;
            try { parsed = JSON.parse(s); } catch { /* text */ }
            res({ status: resp.statusCode ?? 0, body: parsed });
          });
        },
      );
      r.on("error", rej);
      r.end(data);
    });
  const router: Router = {
    port, controlPort, token, proc, logs, stderr, api,
    async logLine(re, timeoutMs = 5000) {
      let found: string | undefined;
      await waitFor(`log line ${re}`, () => !!(found = logs.find((l) => re.test(l))), timeoutMs);
      return found!;
    },
    stop: () => stopProcess(proc, dir),
  };
  try {
    await waitFor("router ready", async () => {
      if (proc.exitCode !== null) throw new Error(`router exited with ${proc.exitCode}`);
      try {
        const h = await api("GET", "/health");
        return h.status === 200 && h.body.workersReady === cfg.workers;
      } catch {
        return false;
      }
    }, 15_000);
  } catch (e) {
    await router.stop();
    await sleep(100); // the rest of its stderr
    throw new Error(`${(e as Error).message}: ${stderr.join("")}`);
  }
  return router;
}

export interface Backend {
  port: number;
  address: string;
  hits: number;
  requests: Array<{ method: string; url: string; headers: IncomingMessage["headers"]; rawHeaders: string[]; body: string }>;
  server: Server;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const echo: Handler = (req, res, body) => {
  res.setHeader("Content-Type", "application/json");
  res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
};

export async function startBackend(handler: Handler = echo): Promise<Backend> {
  const b = { hits: 0, requests: [] } as unknown as Backend;
  const sockets = new Set<Socket>();
  b.server = createHttpServer((req, res) => {
    b.hits++;
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      b.requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, body });
      handler(req, res, body);
    });
  });
  b.server.keepAliveTimeout = 10_000;
  b.server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => b.server.listen(0, "127.0.0.1", r));
  b.port = (b.server.address() as { port: number }).port;
  b.address = `127.0.0.1:${b.port}`;
  b.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      b.server.close(() => r());
    });
  return b;
}

export interface Resp {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

/** One request on a fresh connection; `localAddress` binds the client's end (e.g. 127.0.0.2, to be
 * a peer the router does not trust). */
export function get(port: number, host: string, path = "/", opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number; localAddress?: string } = {}): Promise<Resp> {
  return new Promise((res, rej) => {
    const r = httpRequest(
      { host: "127.0.0.1", port, path, method: opts.method ?? "GET", agent: false, localAddress: opts.localAddress, headers: { Host: host, ...(opts.headers ?? {}) } },
      (resp) => {
        let s = "";
        resp.setEncoding("utf8");
        resp.on("data", (c) => (s += c));
        resp.on("end", () => res({ status: resp.statusCode ?? 0, headers: resp.headers, body: s }));
        resp.on("error", rej);
      },
    );
    r.setTimeout(opts.timeoutMs ?? 10_000, () => r.destroy(new Error("client timeout")));
    r.on("error", rej);
    r.end(opts.body);
  });
}

/** Send raw bytes; resolve with everything received until the server closes or timeoutMs passes. */
export function raw(port: number, data: string | Buffer, timeoutMs = 3000, localAddress?: string): Promise<{ data: string; closed: boolean }> {
  return new Promise((res) => {
    const s = connect({ port, host: "127.0.0.1", localAddress });
    let out = "";
    let closed = false;
    const t = setTimeout(() => {
      s.destroy();
      res({ data: out, closed });
    }, timeoutMs);
    s.on("data", (c) => (out += c.toString("latin1")));
    s.on("error", () => undefined);
    s.on("close", () => {
      closed = true;
      clearTimeout(t);
      res({ data: out, closed });
    });
    s.write(data);
  });
}

export interface HeadServer {
  address: string;
  /** The head of every request received, in order. */
  heads: string[];
  server: NetServer;
  /** Closes the server and every connection it has open. */
  close(): Promise<void>;
}

/** A raw TCP server that reads requests head by head (they carry no bodies) and lets `onConnection`
 * answer them, each connection with state of its own: for dynos that answer what Node's HTTP server
 * never would (a 200 to an Upgrade, answers after one). */
export async function startHeadServer(onConnection: (s: Socket) => (head: string) => void): Promise<HeadServer> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    const onHead = onConnection(s);
    let buf = "";
    s.on("data", (c) => {
      buf += c.toString("latin1");
      for (let i = buf.indexOf("\r\n\r\n"); i >= 0; i = buf.indexOf("\r\n\r\n")) {
        const head = buf.slice(0, i);
        buf = buf.slice(i + 4);
        heads.push(head);
        onHead(head);
      }
    });
  });
  server.on("close", () => { for (const s of sockets) s.destroy(); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    heads,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

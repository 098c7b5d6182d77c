// The request path inside one worker: Host -> app -> dyno (load_balancer.ts), the per-app queue
// (request_queue.ts), forwarding over keep-alive pools (undici), retries, Heroku error codes,
// WebSocket tunnels, one log line per request.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { connect as netConnect, type BlockList, type Socket } from "node:net";
import { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { peerList, type RouterConfig } from "./config";
import type { AppRoute, Snapshot } from "./dyno_table";
import { APP_ERROR_TEXT, errorPage, H_CODES } from "./error_pages";
import { checkRequest, forwardedFor, forwardRequestHeaders, forwardResponseHeaders, hasBody, requestIdFor, requestTarget } from "./http_strictness";
import { LoadBalancer } from "./load_balancer";
import { Metrics, type MetricsSnapshot } from "./metrics";
import { RequestQueue, type Waiter } from "./request_queue";
import { RouterLog } from "./router_log";
import { Target } from "./target";
import { isTrusted, plainAddress, trustedProxyList } from "./trusted_proxies";

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
const CONNECT_FAILURES = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"]);
const MAX_ATTEMPTS = 10;

class AppState {
  readonly targets = new Map<string, Target>(); // by dyno name
  readonly lb: LoadBalancer;
  readonly queue = new RequestQueue();
  quarantineTimer: NodeJS.Timeout | undefined;
  constructor(public route: AppRoute, balancer: RouterConfig["balancer"]) {
    this.lb = new LoadBalancer(balancer);
  }
}

/** Request body handed to undici: reads the client's body only once undici starts sending it, so a
 * request whose connect failed can still be sent elsewhere with its body untouched. */
class BodyRelay extends Readable {
  started = false;
  constructor(private readonly src: IncomingMessage) {
    super();
  }
  override _read(): void {
    if (this.started) {
      this.src.resume();
      return;
    }
    this.started = true;
    this.src.on("data", (c: Buffer) => {
      if (!this.push(c)) this.src.pause();
    });
    this.src.once("end", () => this.push(null));
    this.src.once("error", (e) => this.destroy(e));
    this.src.once("aborted", () => this.destroy(new Error("client aborted")));
  }
}

/** undici dispatch handler of one attempt (a class: no closures allocated per request). */
class Forward implements Dispatcher.DispatchHandler {
  constructor(private readonly proxy: Proxy, private readonly ctx: Ctx, private readonly t: Target) {}
  onConnect(abort: (err?: Error) => void): void {
    this.ctx.abort = abort;
  }
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    return this.proxy.onUpstreamHeaders(this.ctx, this.t, statusCode, rawHeaders, resume, statusText);
  }
  onData(chunk: Buffer): boolean {
    const ctx = this.ctx;
    if (ctx.done) return false;
    ctx.bytes += chunk.length;
    const ok = ctx.res.write(chunk);
    if (!ok) ctx.res.once("drain", () => ctx.resume && ctx.resume());
    return ok;
  }
  onComplete(): void {
    this.proxy.onUpstreamComplete(this.ctx, this.t);
  }
  onError(err: Error): void {
    this.proxy.onUpstreamError(this.ctx, this.t, err);
  }
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  app: AppState;
  host: string;
  /** an absolute-form request's authority: the dyno's Host */
  authority: string | undefined;
  requestId: string;
  /** whether the peer is a trusted proxy, and the client address the dyno and the log get (once per request) */
  client: { trusted: boolean; fwd: string };
  start: number;
  dispatchedAt: number;
  target: Target | undefined;
  released: boolean;
  attempts: number;
  retried: boolean;
  bodyRelay: BodyRelay | undefined;
  headers: string[] | undefined;
  waiter: Waiter | undefined;
  abort: ((err?: Error) => void) | undefined;
  resume: (() => void) | undefined;
  gotHeaders: boolean;
  status: number;
  bytes: number;
  done: boolean;
}

export class Proxy {
  private apps = new Map<string, AppState>();
  private hosts = new Map<string, AppState>();
  private wildcards = new Map<string, AppState>();
  private byKey = new Map<string, Target>();
  private readonly balancers: number;
  readonly metrics = new Metrics();
  readonly log: RouterLog;
  /** Plain HTTP requests not finished yet (for the drain on shutdown). */
  inflightRequests = 0;
  private draining = false;
  private readonly tunnels = new Set<Socket>();
  /** Peers whose X-Forwarded-* and X-Request-Start are kept (none when trustForwarded is off). */
  private readonly trustedProxies: BlockList | undefined;

  constructor(private readonly cfg: RouterConfig) {
    this.log = new RouterLog(cfg.accessLog);
    this.trustedProxies = cfg.trustForwarded ? trustedProxyList(peerList(cfg.trustedProxies)) : undefined;
    this.balancers = cfg.workers * (1 + (cfg.loadListen ? peerList(cfg.peers).length : 0));
  }

  /** Shared load: this worker's in-flight counts that changed since the last report. */
  loadChanges(): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (const t of this.byKey.values()) {
      if (t.inflight !== t.reported) {
        t.reported = t.inflight;
        out.push([t.key, t.inflight]);
      }
    }
    return out;
  }

  /** Shared load: the other workers' in-flight counts. */
  applyRemote(loads: Array<[string, number]>): void {
    const wake = new Set<string>();
    for (const [key, n] of loads) {
      const t = this.byKey.get(key);
      if (!t) continue;
      if (n < t.remote) wake.add(t.app);
      t.remote = n;
    }
    for (const app of wake) {
      const st = this.apps.get(app);
      if (st) this.dispatchQueue(st);
    }
  }

  /** Shutdown: every response from now on says "Connection: close" (clients reconnect to the next process). */
  startDraining(): void {
    this.draining = true;
  }

  /** Shutdown: cut WebSocket/upgrade tunnels (their clients reconnect). */
  closeTunnels(): void {
    for (const s of this.tunnels) s.destroy();
    this.tunnels.clear();
  }

  // ---- routing table -------------------------------------------------------------------------

  applySnapshot(s: Snapshot): void {
    const routes = new Map<string, AppRoute>();
    for (const r of s.apps) routes.set(r.name, r);
    for (const d of s.dynos) if (!routes.has(d.app)) routes.set(d.app, { name: d.app, domains: [], holdWhenEmpty: true });

    for (const [name, st] of this.apps) {
      if (routes.has(name)) continue;
      for (const t of st.targets.values()) t.drain();
      st.targets.clear();
      st.lb.targets = [];
      this.apps.delete(name);
      st.queue.failAll();
    }
    for (const route of routes.values()) {
      let st = this.apps.get(route.name);
      if (!st) {
        st = new AppState(route, this.cfg.balancer);
        this.apps.set(route.name, st);
      }
      st.route = route;
      const want = new Map(s.dynos.filter((d) => d.app === route.name).map((d) => [d.dyno, d]));
      for (const [name, t] of st.targets) {
        const d = want.get(name);
        if (!d || d.address !== t.address) {
          t.drain();
          st.targets.delete(name);
        }
      }
      for (const d of want.values()) {
        const fullCap = d.concurrency ?? route.concurrency ?? this.cfg.defaultConcurrency;
        const cap = this.perWorkerCap(fullCap);
        let t = st.targets.get(d.dyno);
        if (t) {
          t.cap = cap;
          t.release = d.release;
        } else {
          st.targets.set(d.dyno, (t = new Target(route.name, d.dyno, d.address, cap, d.release, {
            connectTimeoutMs: this.cfg.connectTimeoutMs,
            keepAliveMs: this.cfg.upstreamKeepAliveMs,
          })));
        }
        t.fullCap = fullCap;
      }
      st.lb.targets = [...st.targets.values()];
    }
    this.byKey.clear();
    for (const st of this.apps.values()) for (const t of st.targets.values()) this.byKey.set(t.key, t);
    this.hosts.clear();
    this.wildcards.clear();
    for (const st of this.apps.values()) {
      if (this.cfg.platformDomain) this.hosts.set(`${st.route.name}.${this.cfg.platformDomain}`, st);
    }
    for (const st of this.apps.values()) {
      for (const d of st.route.domains) {
        if (d.startsWith("*.")) this.wildcards.set(d.slice(2), st);
        else this.hosts.set(d, st);
      }
    }
    for (const st of this.apps.values()) this.dispatchQueue(st);
  }

  /** The cap is per dyno; every worker balances on its own, so each takes its share of it. */
  /** This worker's hard share of a dyno's cap: every balancer (worker of every instance) gets an
   * equal share, so together they never exceed the cap (caps below the number of balancers round up
   * to 1 each). With shared counts, balancers also steer away from dynos that others keep busy. */
  private perWorkerCap(cap: number): number {
    return Math.max(1, Math.ceil(cap / this.balancers));
  }

  private resolve(hostHeader: string | undefined): { st: AppState | undefined; host: string } {
    if (!hostHeader) return { st: undefined, host: "" };
    let host = hostHeader.toLowerCase();
    if (host.startsWith("[")) {
      const e = host.indexOf("]");
      host = host.slice(0, e + 1);
    } else {
      const c = host.indexOf(":");
      if (c >= 0) host = host.slice(0, c);
    }
    if (host.endsWith(".")) host = host.slice(0, -1);
    let st = this.hosts.get(host);
    if (!st && this.wildcards.size) {
      const dot = host.indexOf(".");
      if (dot > 0) st = this.wildcards.get(host.slice(dot + 1));
    }
    return { st, host };
  }

  metricsSnapshot(): MetricsSnapshot {
    const queueDepth: Record<string, number> = {};
    const inflight: Record<string, number> = {};
    const quarantined: Record<string, number> = {};
    const now = Date.now();
    for (const [name, st] of this.apps) {
      queueDepth[name] = st.queue.length;
      for (const t of st.targets.values()) {
        inflight[`${name}\t${t.dyno}`] = t.inflight;
        quarantined[`${name}\t${t.dyno}`] = t.quarantinedUntil > now ? 1 : 0;
      }
    }
    return this.metrics.snapshot({ queueDepth, inflight, quarantined });
  }

  /** Whether the request's peer is a trusted proxy, and the client address the dyno and the log get. */
  private client(req: IncomingMessage): { trusted: boolean; fwd: string } {
    const peer = plainAddress(req.socket?.remoteAddress ?? "");
    const trusted = this.trustedProxies !== undefined && isTrusted(this.trustedProxies, peer);
    return { trusted, fwd: forwardedFor(req, trusted, peer) };
  }

  // ---- slots ---------------------------------------------------------------------------------

  private release(ctx: Ctx): void {
    const t = ctx.target;
    if (!t || ctx.released) return;
    ctx.released = true;
    t.inflight--;
    t.served++;
    const st = ctx.app;
    if (st.queue.length > 0) this.dispatchQueue(st);
  }

  private dispatchQueue(st: AppState): void {
    if (st.queue.length === 0) return;
    st.queue.drain(() => st.lb.pick(Date.now()));
    // Dynos in quarantine come back by themselves: look at the queue again when they do.
    if (st.queue.length > 0 && !st.quarantineTimer) {
      const now = Date.now();
      let next = Infinity;
      for (const t of st.targets.values()) if (t.quarantinedUntil > now) next = Math.min(next, t.quarantinedUntil);
      if (next !== Infinity) {
        st.quarantineTimer = setTimeout(() => {
          st.quarantineTimer = undefined;
          this.dispatchQueue(st);
        }, next - now + 1);
      }
    }
  }

  /** Find a dyno now, or queue until `queueMs` after the request's arrival (`arrivedAt`,
   * performance.now()); `go` gets a target whose slot is taken, or an error code. */
  private acquire(st: AppState, exclude: Target | undefined, arrivedAt: number, go: (t: Target | undefined, code: string) => void): Waiter | undefined {
    const now = Date.now();
    const t = st.lb.pick(now, exclude);
    if (t) {
      t.inflight++;
      go(t, "");
      return undefined;
    }
    const ts = st.lb.targets;
    if (ts.length === 0 && !st.route.holdWhenEmpty) {
      go(undefined, "H14");
      return undefined;
    }
    if (ts.length > 0) {
      let usable = 0;
      let reason = "H21";
      for (const x of ts) {
        if (x !== exclude && x.usable(now)) usable++;
        else if (x.quarantinedUntil > now) reason = x.quarantineReason;
      }
      if (usable === 0) {
        go(undefined, reason);
        return undefined;
      }
    }
    // At the deadline: H14 while the app still has no dyno; with dynos, all busy, the app is not
    // keeping up: Heroku's H11 "Backlog too deep" (H20 "App boot timeout" is about booting).
    const expired = () => (st.lb.targets.length === 0 ? "H14" : "H11");
    const left = (st.route.queueDeadlineMs ?? this.cfg.queueDeadlineMs) - (performance.now() - arrivedAt);
    if (left <= 0) {
      go(undefined, expired());
      return undefined;
    }
    const w = st.queue.push(st.route.queueSize ?? this.cfg.queueSize, left, (tt) => go(tt, tt ? "" : expired()));
    if (!w) go(undefined, "H11");
    return w;
  }

  // ---- plain HTTP ----------------------------------------------------------------------------

  handle(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    if (this.draining) res.shouldKeepAlive = false;
    const rej = checkRequest(req, this.cfg.maxHeaderLineBytes, this.cfg.maxHeaders);
    if (rej) return this.reject(req, res, rej.status, rej.reason, start);
    const target = requestTarget(req.url ?? "");
    if (!target) return this.reject(req, res, 400, "invalid request target", start);
    // From here on the path is origin-form: what the dyno gets and the log shows.
    req.url = target.path;
    const { st, host } = this.resolve(target.authority ?? req.headers.host);
    const requestId = requestIdFor(req.headers["x-request-id"] as string | undefined);
    if (!st) {
      if (host === this.cfg.healthHost && req.url === "/health") {
        res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
        res.end('{"status":"ok"}\n');
        return;
      }
      const body = errorPage("No such app", "There is no app configured at that hostname.", requestId);
      res.writeHead(404, { "Content-Type": "text/html; charset=utf-8", "Content-Length": Buffer.byteLength(body), "X-Request-Id": requestId });
      res.end(body);
      this.writeLog(req, this.client(req).fwd, host, requestId, "none", 0, performance.now() - start, 404, body.length, "", "No such app");
      this.metrics.observe("", "", 404, performance.now() - start);
      return;
    }
    const ctx: Ctx = {
      req, res, app: st, host, authority: target.authority, requestId, client: this.client(req), start, dispatchedAt: start, target: undefined, released: false, attempts: 0,
      retried: false, bodyRelay: undefined, headers: undefined, waiter: undefined, abort: undefined, resume: undefined,
      gotHeaders: false, status: 0, bytes: 0, done: false,
    };
    this.inflightRequests++;
    res.once("close", () => {
      if (ctx.done) return;
      // The client went away before the response was complete.
      if (ctx.waiter) st.queue.cancel(ctx.waiter);
      this.release(ctx);
      this.finish(ctx, "H27", 499);
      if (ctx.abort) ctx.abort(new Error("client gone"));
    });
    ctx.waiter = this.acquire(st, undefined, start, (t, code) => this.onAcquired(ctx, t, code));
  }

  private onAcquired(ctx: Ctx, t: Target | undefined, code: string): void {
    ctx.waiter = undefined;
    if (ctx.done) {
      if (t) { ctx.target = t; ctx.released = false; this.release(ctx); }
      return;
    }
    if (!t) return this.fail(ctx, code);
    this.send(ctx, t);
  }

  private send(ctx: Ctx, t: Target): void {
    const route = ctx.app.route;
    // H12 counts from arrival, not from here: time in the queue (and on earlier attempts) is part
    // of it, so a request never takes queueMs + firstByteMs (the edge's timeouts sit above one).
    const now = performance.now();
    const firstByteLeft = Math.ceil((route.firstByteTimeoutMs ?? this.cfg.firstByteTimeoutMs) - (now - ctx.start));
    if (firstByteLeft <= 0) {
      t.inflight--;
      if (ctx.app.queue.length > 0) this.dispatchQueue(ctx.app);
      return this.fail(ctx, "H12");
    }
    ctx.target = t;
    ctx.released = false;
    ctx.attempts++;
    ctx.dispatchedAt = now;
    const req = ctx.req;
    if (!ctx.headers) {
      ctx.headers = forwardRequestHeaders(req, {
        requestId: ctx.requestId,
        forwardedFor: ctx.client.fwd,
        localPort: req.socket.localPort ?? 0,
        trusted: ctx.client.trusted,
        upgrade: false,
        host: ctx.authority,
      });
    }
    let body: BodyRelay | null = null;
    if (hasBody(req)) body = ctx.bodyRelay = new BodyRelay(req);
    const handler = new Forward(this, ctx, t);
    t.pool.dispatch(
      {
        path: req.url ?? "/",
        method: req.method as Dispatcher.HttpMethod,
        headers: ctx.headers,
        body,
        headersTimeout: firstByteLeft,
        bodyTimeout: route.idleTimeoutMs ?? this.cfg.idleTimeoutMs,
        reset: false,
      },
      handler,
    );
  }

  /** undici's response head (see Forward). */
  onUpstreamHeaders(ctx: Ctx, t: Target, statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (ctx.done || ctx.target !== t) return false;
    ctx.gotHeaders = true;
    ctx.status = statusCode;
    ctx.resume = resume;
    const headers = forwardResponseHeaders(rawHeaders, ctx.requestId);
    if (this.draining) ctx.res.shouldKeepAlive = false;
    ctx.res.writeHead(statusCode, statusText || undefined, headers);
    return true;
  }

  onUpstreamComplete(ctx: Ctx, t: Target): void {
    if (ctx.done || ctx.target !== t) return;
    this.release(ctx);
    ctx.res.end();
    this.finish(ctx, "", ctx.status);
  }

  onUpstreamError(ctx: Ctx, t: Target, err: Error): void {
    if (ctx.target !== t) return;
    this.release(ctx);
    if (ctx.done) return;
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (ctx.gotHeaders) {
      // The response had begun: nothing can be sent any more but a cut.
      ctx.res.destroy();
      return this.finish(ctx, code === "UND_ERR_BODY_TIMEOUT" ? "H15" : "H13", ctx.status);
    }
    const now = Date.now();
    const bodyTouched = ctx.bodyRelay?.started ?? false;
    if (CONNECT_FAILURES.has(code)) {
      const reason = code === "UND_ERR_CONNECT_TIMEOUT" ? "H19" : "H21";
      t.quarantine(now, this.cfg.quarantineMs, reason);
      if (!bodyTouched && ctx.attempts < MAX_ATTEMPTS) {
        ctx.waiter = this.acquire(ctx.app, t, ctx.start, (nt, c) => this.onAcquired(ctx, nt, c || reason));
        return;
      }
      return this.fail(ctx, reason);
    }
    if (code === "UND_ERR_HEADERS_TIMEOUT") return this.fail(ctx, "H12");
    // Sent, no answer. Only an idempotent request without a body may go once more, elsewhere.
    if (!ctx.retried && !bodyTouched && !ctx.bodyRelay && IDEMPOTENT.has(ctx.req.method ?? "")) {
      const other = ctx.app.lb.pick(now, t);
      if (other) {
        ctx.retried = true;
        other.inflight++;
        return this.send(ctx, other);
      }
    }
    this.fail(ctx, "H13");
  }

  private fail(ctx: Ctx, code: string): void {
    const h = H_CODES[code] ?? H_CODES.H99;
    const res = ctx.res;
    if (!res.headersSent) {
      const body = errorPage("Application error", APP_ERROR_TEXT, ctx.requestId);
      const headers: Record<string, string | number> = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Length": Buffer.byteLength(body),
        "Cache-Control": "no-cache, no-store",
        "X-Request-Id": ctx.requestId,
      };
      // A request body we did not read cannot be left on the connection.
      if ((hasBody(ctx.req) && !ctx.req.readableEnded) || this.draining) headers.Connection = "close";
      res.writeHead(h.status, headers);
      res.end(body);
      ctx.bytes = body.length;
    }
    this.finish(ctx, code, h.status);
  }

  private finish(ctx: Ctx, code: string, status: number): void {
    if (ctx.done) return;
    ctx.done = true;
    this.inflightRequests--;
    const end = performance.now();
    const desc = code ? (H_CODES[code]?.desc ?? "") : "";
    this.metrics.observe(ctx.app.route.name, code, status, end - ctx.start);
    this.writeLog(ctx.req, ctx.client.fwd, ctx.host, ctx.requestId, ctx.target?.dyno ?? "none", ctx.dispatchedAt - ctx.start, end - ctx.dispatchedAt, status, ctx.bytes, code, desc);
  }

  private writeLog(req: IncomingMessage, fwd: string, host: string, requestId: string, dyno: string, connectMs: number, serviceMs: number, status: number, bytes: number, code: string, desc: string, protocol = "http"): void {
    this.log.write({
      code: code || undefined,
      desc: code ? desc : undefined,
      method: req.method ?? "",
      path: req.url ?? "",
      host,
      requestId,
      fwd,
      dyno,
      connectMs,
      serviceMs,
      status,
      bytes,
      protocol,
    });
  }

  private reject(req: IncomingMessage, res: ServerResponse, status: number, reason: string, start: number): void {
    const body = `${status} ${reason}\n`;
    res.shouldKeepAlive = false;
    res.writeHead(status, { "Content-Type": "text/plain", "Content-Length": body.length, Connection: "close" });
    res.end(body);
    this.metrics.observe("", "BAD_REQUEST", status, performance.now() - start);
    this.writeLog(req, this.client(req).fwd, String(req.headers.host ?? ""), "", "none", 0, 0, status, body.length, "BAD_REQUEST", reason);
  }

  /** A request the HTTP parser refused (bad framing, bad bytes, oversize, slow headers). */
  clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const code = err.code ?? "";
    const status = code === "HPE_HEADER_OVERFLOW" ? 431 : code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    if (code !== "ECONNRESET" && socket.writable && !(socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      const text = status === 431 ? "Request Header Fields Too Large" : status === 408 ? "Request Timeout" : "Bad Request";
      socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\nConnection: close\r\n\r\n${text}\n`);
    }
    socket.destroySoon?.();
    setTimeout(() => socket.destroy(), 1000).unref();
    this.metrics.observe("", "BAD_REQUEST", status, 0);
    if (code !== "ECONNRESET") {
      this.log.write({
        code: "BAD_REQUEST", desc: `${code} ${err.message}`.slice(0, 200), method: "", path: "", host: "", requestId: "",
        fwd: plainAddress(socket.remoteAddress ?? ""), dyno: "none", connectMs: 0, serviceMs: 0, status, bytes: 0, protocol: "http",
      });
    }
  }

  // ---- WebSocket and other upgrades: relayed as raw bytes ------------------------------------

  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const start = performance.now();
    const rawReply = (status: number, text: string, body: string) => {
      if (socket.writable) {
        socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      }
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    const rej = checkRequest(req, this.cfg.maxHeaderLineBytes, this.cfg.maxHeaders)
      // A chunked body has no framing left once Transfer-Encoding (hop-by-hop) is dropped.
      ?? (req.headers["transfer-encoding"] !== undefined ? { status: 400, reason: "Upgrade with a chunked body" } : undefined);
    const target = requestTarget(req.url ?? "");
    if (rej || !target) {
      const r = rej ?? { status: 400, reason: "invalid request target" };
      rawReply(r.status, "Bad Request", `${r.status} ${r.reason}\n`);
      this.writeLog(req, this.client(req).fwd, String(req.headers.host ?? ""), "", "none", 0, 0, r.status, 0, "BAD_REQUEST", r.reason);
      return;
    }
    req.url = target.path;
    const { st, host } = this.resolve(target.authority ?? req.headers.host);
    const requestId = requestIdFor(req.headers["x-request-id"] as string | undefined);
    if (!st) {
      rawReply(404, "Not Found", errorPage("No such app", "There is no app configured at that hostname.", requestId));
      this.writeLog(req, this.client(req).fwd, host, requestId, "none", 0, 0, 404, 0, "", "", "websocket");
      return;
    }
    const idle = st.route.idleTimeoutMs ?? this.cfg.idleTimeoutMs;
    const client = this.client(req);
    const fail = (code: string, target?: Target) => {
      const h = H_CODES[code] ?? H_CODES.H99;
      rawReply(h.status, "Service Unavailable", errorPage("Application error", APP_ERROR_TEXT, requestId));
      this.metrics.observe(st.route.name, code, h.status, performance.now() - start);
      this.writeLog(req, client.fwd, host, requestId, target?.dyno ?? "none", performance.now() - start, 0, h.status, 0, code, h.desc, "websocket");
    };
    let waiter: Waiter | undefined;
    let gone = false;
    socket.once("close", () => {
      gone = true;
      if (waiter) st.queue.cancel(waiter);
    });
    socket.on("error", () => undefined);
    const attempt = (t: Target | undefined, code: string, tries: number) => {
      waiter = undefined;
      if (!t) return fail(code);
      let released = false;
      const releaseSlot = () => {
        if (released) return;
        released = true;
        t.inflight--;
        if (st.queue.length > 0) this.dispatchQueue(st);
      };
      if (gone) return releaseSlot();
      const dispatchedAt = performance.now();
      const [dh, dp] = splitAddress(t.address);
      // One connection per upgrade request, never pooled: it becomes the tunnel on 101 and is
      // closed after any other answer.
      const up = netConnect({ host: dh, port: dp });
      up.setNoDelay(true);
      const connectTimer = setTimeout(() => up.destroy(Object.assign(new Error("connect timeout"), { code: "UND_ERR_CONNECT_TIMEOUT" })), this.cfg.connectTimeoutMs);
      let connected = false;
      let answered = false;
      let upgraded = false;
      up.once("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        releaseSlot();
        if (connected) { socket.destroy(); return; }
        const reason = err.code === "UND_ERR_CONNECT_TIMEOUT" ? "H19" : "H21";
        t.quarantine(Date.now(), this.cfg.quarantineMs, reason);
        if (gone) return;
        if (tries < MAX_ATTEMPTS) waiter = this.acquire(st, t, start, (nt, c) => attempt(nt, c || reason, tries + 1));
        else fail(reason, t);
      });
      up.once("connect", () => {
        connected = true;
        clearTimeout(connectTimer);
        const onIdle = () => { up.destroy(); socket.destroy(); };
        up.setTimeout(idle, onIdle);
        socket.setTimeout(idle, onIdle);
        up.once("close", () => {
          releaseSlot();
          if (!answered) { if (!gone) fail("H13", t); }
          else if (upgraded) socket.destroy();
        });
        socket.once("close", () => {
          this.tunnels.delete(socket);
          up.destroy();
        });
      });
      const logAnswer = (status: number, bytes: number) => {
        this.metrics.observe(st.route.name, "", status, performance.now() - start);
        this.writeLog(req, client.fwd, host, requestId, t.dyno, dispatchedAt - start, performance.now() - dispatchedAt, status, bytes, "", "", "websocket");
      };
      // node:http's strict parser reads the dyno's answer: the tunnel opens only on a 101.
      const creq = httpRequest({
        createConnection: () => up,
        method: req.method,
        path: req.url,
        setHost: false,
        headers: forwardRequestHeaders(req, {
          requestId, forwardedFor: client.fwd, localPort: req.socket.localPort ?? 0,
          trusted: client.trusted, upgrade: true, host: target.authority,
        }),
      });
      creq.on("error", () => up.destroy());
      creq.once("finish", () => {
        // What the client sends before the answer goes to this dyno only, on this connection only.
        if (head.length) up.write(head);
        socket.pipe(up);
      });
      creq.end();
      creq.once("upgrade", (res: IncomingMessage, _s: Socket, upHead: Buffer) => {
        upgraded = answered = true;
        releaseSlot();
        let out = `HTTP/1.1 101 ${res.statusMessage ?? "Switching Protocols"}\r\n`;
        const rh = res.rawHeaders;
        for (let i = 0; i < rh.length; i += 2) out += `${rh[i]}: ${rh[i + 1]}\r\n`;
        socket.write(out + "\r\n");
        if (upHead.length) socket.write(upHead);
        logAnswer(101, upHead.length);
        up.pipe(socket);
        this.tunnels.add(socket);
        if (this.draining) socket.destroy();
      });
      creq.once("response", (res: IncomingMessage) => {
        // Not switched: an ordinary response, relayed as such, and then both connections close.
        // Nothing may follow it on the client's connection (which may be Varnish's or nginx's
        // keep-alive connection for other users) nor be read from this dyno connection.
        socket.unpipe(up);
        // The head is out from here: an error is a cut, not an error page.
        answered = true;
        releaseSlot();
        const status = res.statusCode ?? 502;
        const headers = forwardResponseHeaders(res.rawHeaders, requestId);
        let out = `HTTP/1.1 ${status} ${res.statusMessage ?? ""}\r\n`;
        for (let i = 0; i < headers.length; i += 2) out += `${headers[i]}: ${headers[i + 1]}\r\n`;
        socket.write(out + "Connection: close\r\n\r\n");
        let bytes = 0;
        res.on("data", (c: Buffer) => { bytes += c.length; });
        res.pipe(socket);
        res.once("end", () => {
          up.destroy();
          setTimeout(() => socket.destroy(), 1000).unref();
        });
        res.once("close", () => {
          logAnswer(status, bytes);
          if (!res.complete) socket.destroy();
        });
      });
    };
    waiter = this.acquire(st, undefined, start, (t, code) => attempt(t, code, 1));
  }
}

function splitAddress(a: string): [string, number] {
  const i = a.lastIndexOf(":");
  let h = a.slice(0, i);
  if (h.startsWith("[")) h = h.slice(1, -1);
  return [h, Number(a.slice(i + 1))];
}

// The request path inside one worker, from the top: a request (or upgrade) in, checked
// (http_strictness.ts), routed by its host (routing_table.ts), then forwarded by an exchange
// (http_exchange.ts, upgrade_exchange.ts) with a slot from the app's pool (dyno_pool.ts). Requests
// that reach no app are answered here. Also the worker's shutdown: draining and cutting tunnels.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BlockList, Socket } from "node:net";
import type { AppRoute } from "@dynoform/contract";
import { splitList } from "./addresses";
import type { RouterConfig } from "./config";
import type { Snapshot } from "./dyno_table";
import { H_CODES, maintenancePage, noSuchAppPage, replyRaw } from "./error_pages";
import { HttpExchange } from "./http_exchange";
import type { ClientConnection } from "./client_connection";
import { checkRequest, forwardedFor, headVerdict, requestIdFor, requestTarget, type Rejection, type RequestFacts } from "./http_strictness";
import type { LoadList } from "./ipc";
import { Metrics, type MetricsSnapshot } from "./metrics";
import { logSender } from "./log_sending";
import { RouterLog, type LogRecord } from "./router_log";
import { RelayExchange } from "./relay_exchange";
import type { RequestHead } from "./request_head";
import { requestHost, RoutingTable } from "./routing_table";
import { isTrusted, plainAddress, trustedProxyList } from "./trusted_proxies";
import { UpgradeExchange } from "./upgrade_exchange";

export class Proxy {
  readonly metrics = new Metrics();
  readonly log: RouterLog;
  private readonly table: RoutingTable;
  private openRequests = 0;
  private isDraining = false;
  private readonly tunnels = new Set<Socket>();
  /** Client connections on the relay path (client_connection.ts), for keep-alive and shutdown. */
  private readonly clients = new Set<ClientConnection>();
  private clientSweep: NodeJS.Timeout | undefined = undefined;
  /** Peers whose X-Forwarded-* and X-Request-Start are kept (none when trustForwarded is off). */
  private readonly trustedProxies: BlockList | undefined;

  constructor(readonly cfg: RouterConfig) {
    this.log = new RouterLog(cfg.accessLog, process.stdout, logSender(cfg));
    this.table = new RoutingTable(cfg);
    this.trustedProxies = cfg.trustForwarded ? trustedProxyList(splitList(cfg.trustedProxies)) : undefined;
  }

  applySnapshot(s: Snapshot): void {
    this.table.apply(s);
  }

  /** Shared load: this worker's in-flight counts that changed since the last report. */
  loadChanges(): LoadList {
    return this.table.loadChanges();
  }

  /** Shared load: the other workers' in-flight counts. */
  applyRemote(loads: LoadList): void {
    this.table.applyRemote(loads);
  }

  metricsSnapshot(): MetricsSnapshot {
    return this.metrics.snapshot(this.table.gauges());
  }

  /** Plain HTTP requests not finished yet (for the drain on shutdown). */
  get inflightRequests(): number {
    return this.openRequests;
  }

  requestFinished(): void {
    this.openRequests--;
  }

  /** Every response from now on says "Connection: close" (clients reconnect to the next process). */
  get draining(): boolean {
    return this.isDraining;
  }

  startDraining(): void {
    this.isDraining = true;
  }

  tunnelOpened(s: Socket): void {
    this.tunnels.add(s);
  }

  tunnelClosed(s: Socket): void {
    this.tunnels.delete(s);
  }

  /** Shutdown: cut WebSocket/upgrade tunnels (their clients reconnect). */
  closeTunnels(): void {
    for (const s of this.tunnels) s.destroy();
    this.tunnels.clear();
  }

  /** The request's peer is a trusted proxy (the edge): its forwarded headers are kept. */
  trusts(req: RequestFacts): boolean {
    return this.trustedProxies !== undefined && isTrusted(this.trustedProxies, req.socket?.remoteAddress ?? "");
  }

  /** A client connection the relay path reads (node:http takes it over when it must). */
  clientArrived(c: ClientConnection): void {
    this.clients.add(c);
    // Idle keep-alive connections are closed after clientKeepAliveMs, as node:http's server does.
    this.clientSweep ??= setInterval(() => {
      const now = performance.now();
      const oldest = now - this.cfg.clientKeepAliveMs;
      for (const x of this.clients) {
        if (x.idleSince < oldest) x.closeIfIdle();
        // node:http's header timeout, for a connection that never sent a whole head.
        if (x.silentFor(this.cfg.clientHeaderTimeoutMs, now)) x.socket.destroy();
        x.timeOutWaiting(this.cfg.clientRequestTimeoutMs, now);
      }
    }, Math.min(1000, this.cfg.clientKeepAliveMs, this.cfg.clientHeaderTimeoutMs, this.cfg.clientRequestTimeoutMs)).unref();
  }

  clientLeft(c: ClientConnection): void {
    this.clients.delete(c);
  }

  /** Shutdown: close relay connections with nothing in flight. */
  closeIdleClients(): void {
    for (const c of this.clients) c.closeIfIdle();
  }

  /** A whole plain request (its Content-Length body, if any, in `body`) read by a ClientConnection:
   * routed to an app's dynos as a RelayExchange, or undefined when node:http's path must answer it
   * (a refusal, no app, the health check, maintenance, Expect, draining), which answers it exactly
   * as before. */
  relay(c: ClientConnection, h: RequestHead, body: Buffer | undefined): RelayExchange | undefined {
    if (this.isDraining) return undefined;
    const start = performance.now();
    const raw = h.rawHeaders;
    let hostHeader: string | undefined;
    let connection: string | undefined;
    let requestIdHeader: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      switch (name.length) {
        case 4: if (name.toLowerCase() === "host") hostHeader = raw[i + 1]; break;
        case 6: if (name.toLowerCase() === "expect") return undefined; break;
        case 10: if (name.toLowerCase() === "connection") connection = connection === undefined ? raw[i + 1] : `${connection}, ${raw[i + 1]}`; break;
        // Several are joined, as node:http's headers are (and then refused by requestIdFor).
        case 12: if (name.toLowerCase() === "x-request-id") requestIdHeader = requestIdHeader === undefined ? raw[i + 1] : `${requestIdHeader}, ${raw[i + 1]}`; break;
      }
    }
    if (headVerdict(h, this.cfg.maxHeaderLineBytes, this.cfg.maxHeaders)) return undefined;
    const target = requestTarget(h.url)!;
    const host = requestHost(target.authority ?? hostHeader);
    const pool = this.table.lookup(host);
    if (!pool || pool.route.maintenance) return undefined;
    const req: RequestFacts = {
      method: h.method, url: target.path, rawHeaders: raw, socket: c.socket, trusted: c.trusted,
      headers: { host: hostHeader, connection, "x-request-id": requestIdHeader },
    };
    this.openRequests++;
    return new RelayExchange(this, pool, req, body, c, host, target.authority, requestIdFor(requestIdHeader), start);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    if (this.draining) res.shouldKeepAlive = false;
    const rej = checkRequest(req, this.cfg.maxHeaderLineBytes, this.cfg.maxHeaders);
    if (rej) return this.reject(req, res, rej, start);
    const target = requestTarget(req.url ?? "");
    if (!target) return this.reject(req, res, { status: 400, reason: "invalid request target" }, start);
    // From here on the path is origin-form: what the dyno gets and the log shows.
    req.url = target.path;
    const host = requestHost(target.authority ?? req.headers.host);
    const pool = this.table.lookup(host);
    const requestId = requestIdFor(req.headers["x-request-id"] as string | undefined);
    if (!pool) {
      if (host === this.cfg.healthHost && req.url === "/health") {
        res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
        res.end('{"status":"ok"}\n');
        return;
      }
      const body = noSuchAppPage(requestId);
      res.writeHead(404, { "Content-Type": "text/html; charset=utf-8", "Content-Length": Buffer.byteLength(body), "X-Request-Id": requestId });
      res.end(body);
      this.log.write(this.unrouted(req, host, requestId, body.length, performance.now() - start, "http"));
      this.metrics.observe("", undefined, 404, performance.now() - start);
      return;
    }
    if (pool.route.maintenance) return this.maintenance(req, res, pool.route, host, requestId, start);
    this.openRequests++;
    new HttpExchange(this, pool, req, res, host, target.authority, requestId, start).begin();
  }

  /** WebSocket and other upgrades: relayed as raw bytes (upgrade_exchange.ts). */
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const start = performance.now();
    const rej = checkRequest(req, this.cfg.maxHeaderLineBytes, this.cfg.maxHeaders)
      // A chunked body has no framing left once Transfer-Encoding (hop-by-hop) is dropped.
      ?? (req.headers["transfer-encoding"] !== undefined ? { status: 400, reason: "Upgrade with a chunked body" } : undefined);
    const target = requestTarget(req.url ?? "");
    if (rej || !target) {
      const r = rej ?? { status: 400, reason: "invalid request target" };
      replyRaw(socket, r.status, "Bad Request", "text/html; charset=utf-8", `${r.status} ${r.reason}\n`);
      this.log.write(this.refused(req, r, 0));
      return;
    }
    req.url = target.path;
    const host = requestHost(target.authority ?? req.headers.host);
    const pool = this.table.lookup(host);
    const requestId = requestIdFor(req.headers["x-request-id"] as string | undefined);
    if (!pool) {
      replyRaw(socket, 404, "Not Found", "text/html; charset=utf-8", noSuchAppPage(requestId));
      this.log.write(this.unrouted(req, host, requestId, 0, 0, "websocket"));
      return;
    }
    if (pool.route.maintenance) {
      const body = maintenancePage(requestId, pool.route.maintenancePageUrl);
      replyRaw(socket, H_CODES.H80.status, "Service Unavailable", "text/html; charset=utf-8", body);
      this.log.write(this.inMaintenance(req, pool.route.name, host, requestId, Buffer.byteLength(body), performance.now() - start, "websocket"));
      this.metrics.observe(pool.route.name, "H80", H_CODES.H80.status, performance.now() - start);
      return;
    }
    new UpgradeExchange(this, pool, req, socket, head, host, target.authority, requestId, start).begin();
  }

  /** A request the HTTP parser refused (bad framing, bad bytes, oversize, slow headers). */
  clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const code = err.code ?? "";
    const status = code === "HPE_HEADER_OVERFLOW" ? 431 : code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    if (code !== "ECONNRESET" && !(socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      const text = status === 431 ? "Request Header Fields Too Large" : status === 408 ? "Request Timeout" : "Bad Request";
      replyRaw(socket, status, text, "text/plain", `${text}\n`);
    } else {
      setTimeout(() => socket.destroy(), 1000).unref();
    }
    socket.destroySoon?.();
    this.metrics.observe("", "BAD_REQUEST", status, 0);
    if (code !== "ECONNRESET") {
      this.log.write({
        code: "BAD_REQUEST", desc: `${code} ${err.message}`.slice(0, 200), method: "", path: "", host: "", requestId: "",
        fwd: plainAddress(socket.remoteAddress ?? ""), dyno: "none", connectMs: 0, serviceMs: 0, status, bytes: 0, protocol: "http",
      });
    }
  }

  /** An app in maintenance mode: 503 with its maintenance page (H80); no dyno sees the request. */
  private maintenance(req: IncomingMessage, res: ServerResponse, route: AppRoute, host: string, requestId: string, start: number): void {
    const body = maintenancePage(requestId, route.maintenancePageUrl);
    const bytes = Buffer.byteLength(body);
    // no-store: the edge's cache must not keep serving the page once maintenance is off.
    res.writeHead(H_CODES.H80.status, { "Content-Type": "text/html; charset=utf-8", "Content-Length": bytes, "Cache-Control": "no-store", "X-Request-Id": requestId });
    res.end(body);
    const ms = performance.now() - start;
    this.log.write(this.inMaintenance(req, route.name, host, requestId, bytes, ms, "http"));
    this.metrics.observe(route.name, "H80", H_CODES.H80.status, ms);
  }

  /** The log line of a request answered by maintenance mode. */
  private inMaintenance(req: IncomingMessage, app: string, host: string, requestId: string, bytes: number, serviceMs: number, protocol: LogRecord["protocol"]): LogRecord {
    return {
      app, code: "H80", desc: H_CODES.H80.desc, method: req.method ?? "", path: req.url ?? "", host, requestId, fwd: forwardedFor(req, this.trusts(req)),
      dyno: "none", connectMs: 0, serviceMs, status: H_CODES.H80.status, bytes, protocol,
    };
  }

  private reject(req: IncomingMessage, res: ServerResponse, rej: Rejection, start: number): void {
    const body = `${rej.status} ${rej.reason}\n`;
    res.shouldKeepAlive = false;
    res.writeHead(rej.status, { "Content-Type": "text/plain", "Content-Length": body.length, Connection: "close" });
    res.end(body);
    this.metrics.observe("", "BAD_REQUEST", rej.status, performance.now() - start);
    this.log.write(this.refused(req, rej, body.length));
  }

  /** The log line of a request refused before routing. */
  private refused(req: IncomingMessage, rej: Rejection, bytes: number): LogRecord {
    return {
      code: "BAD_REQUEST", desc: rej.reason, method: req.method ?? "", path: req.url ?? "", host: String(req.headers.host ?? ""), requestId: "",
      fwd: forwardedFor(req, this.trusts(req)), dyno: "none", connectMs: 0, serviceMs: 0, status: rej.status, bytes, protocol: "http",
    };
  }

  /** The log line of a request for a host no app has (a 404). */
  private unrouted(req: IncomingMessage, host: string, requestId: string, bytes: number, serviceMs: number, protocol: LogRecord["protocol"]): LogRecord {
    return {
      method: req.method ?? "", path: req.url ?? "", host, requestId, fwd: forwardedFor(req, this.trusts(req)),
      dyno: "none", connectMs: 0, serviceMs, status: 404, bytes, protocol,
    };
  }
}

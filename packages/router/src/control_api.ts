// The control API (primary process, private address): agents register/renew/deregister dynos,
// the control role sets app routes and placements. Every /v1 call needs `Authorization: Bearer`
// with the control role's token, or a dyno host's own credential for its own dynos only
// (control_auth.ts). Documented in packages/router/README.md.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { parseAppRoute, parseDyno, parseDynoAddress, parsePlacement, ValidationError } from "@dynoform/contract";
import { hostOf } from "./addresses";
import type { Caller, ControlAuth } from "./control_auth";
import type { DynoTable } from "./dyno_table";

export interface ControlApiOptions {
  table: DynoTable;
  auth: ControlAuth;
  defaultLeaseMs: number;
  /** Prometheus text of all workers merged. */
  metrics: () => Promise<string>;
  health: () => { workers: number; workersReady: number };
}

const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store" });
  res.end(text);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ValidationError("body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      const s = Buffer.concat(chunks).toString("utf8");
      if (!s.trim()) return resolve({});
      try {
        resolve(JSON.parse(s));
      } catch {
        reject(new ValidationError("body is not valid JSON"));
      }
    });
    req.on("error", reject);
  });
}

/** Why an agent may not make this registration (undefined: it may). The control role may make any. */
function refusal(caller: Caller, table: DynoTable, app: string, address: string, placed: boolean): string | undefined {
  if (caller.kind === "control") return undefined;
  if (hostOf(address) !== caller.host) return `address ${address} is not on this dyno host (${caller.host})`;
  if (placed && !(table.placement(app) ?? []).includes(caller.host)) return `app ${app} is not placed on dyno host ${caller.host}`;
  return undefined;
}

export function createControlApi(o: ControlApiOptions): Server {
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    handle(o, req, res).catch((e: unknown) => {
      if (e instanceof ValidationError) send(res, 400, { error: e.message });
      else {
        process.stderr.write(`dynoform-router control api: ${(e as Error).stack}\n`);
        if (!res.headersSent) send(res, 500, { error: "internal error" });
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

async function handle(o: ControlApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://control");
  const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const method = req.method ?? "GET";
  if (url.pathname === "/health" && (method === "GET" || method === "HEAD")) {
    const h = o.health();
    return send(res, h.workersReady > 0 ? 200 : 503, { status: h.workersReady > 0 ? "ok" : "starting", ...h });
  }
  if (url.pathname === "/metrics" && method === "GET") {
    const text = await o.metrics();
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4", "Content-Length": Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  if (parts[0] !== "v1") return send(res, 404, { error: "not found" });
  const caller = o.auth.caller(req);
  if (!caller) {
    res.setHeader("WWW-Authenticate", 'Bearer realm="dynoform-router"');
    return send(res, 401, { error: "unauthorized" });
  }
  const t = o.table;
  const dynoPath = parts.length === 5 && parts[1] === "apps" && parts[3] === "dynos" && (method === "PUT" || method === "DELETE");
  if (caller.kind === "agent" && !dynoPath) return send(res, 403, { error: "a dyno host's credential only registers and deregisters its own dynos" });
  // GET /v1/apps
  if (parts.length === 2 && parts[1] === "apps") {
    if (method !== "GET") return send(res, 405, { error: "method not allowed" });
    return send(res, 200, { apps: t.listApps() });
  }
  if (parts[1] !== "apps" || parts.length < 3) return send(res, 404, { error: "not found" });
  const app = parts[2];
  // /v1/apps/:app
  if (parts.length === 3) {
    if (method === "GET") {
      const found = t.listApps().find((a) => a.name === app);
      return found ? send(res, 200, found) : send(res, 404, { error: "no such app" });
    }
    if (method === "PUT") {
      const route = parseAppRoute(app, await readJson(req));
      const { created } = t.putApp(route);
      return send(res, created ? 201 : 200, route);
    }
    if (method === "DELETE") return t.deleteApp(app) ? send(res, 200, { deleted: app }) : send(res, 404, { error: "no such app" });
    return send(res, 405, { error: "method not allowed" });
  }
  // /v1/apps/:app/placement (control role): the dyno hosts that may register the app's dynos
  if (parts.length === 4 && parts[3] === "placement") {
    if (method === "GET") return send(res, 200, { app, hosts: t.placement(app) ?? [] });
    if (method === "PUT") {
      const hosts = parsePlacement(app, await readJson(req));
      t.putPlacement(app, hosts);
      return send(res, 200, { app, hosts });
    }
    return send(res, 405, { error: "method not allowed" });
  }
  // /v1/apps/:app/dynos/:dyno
  if (parts.length === 5 && parts[3] === "dynos") {
    const dyno = parts[4];
    if (method === "PUT") {
      const { info, leaseMs } = parseDyno(app, dyno, await readJson(req), o.defaultLeaseMs);
      const refused = refusal(caller, t, app, info.address, true);
      if (refused) return send(res, 403, { error: refused });
      const { created, expiresAt } = t.putDyno(info, leaseMs);
      return send(res, created ? 201 : 200, { ...info, leaseMs, expiresAt: new Date(expiresAt).toISOString() });
    }
    if (method === "DELETE") {
      const address = parseDynoAddress(await readJson(req));
      // A host may deregister its own address after the app moved off it (no placement check).
      const refused = refusal(caller, t, app, address, false);
      if (refused) return send(res, 403, { error: refused });
      const d = t.deleteDyno(app, dyno, address);
      if (d.deleted) return send(res, 200, { deleted: `${app}/${dyno}` });
      if (d.registeredAt) return send(res, 409, { error: `${app}/${dyno} is registered at ${d.registeredAt}, not ${address}`, address: d.registeredAt });
      return send(res, 404, { error: "no such dyno" });
    }
    return send(res, 405, { error: "method not allowed" });
  }
  return send(res, 404, { error: "not found" });
}

// The router's control API (packages/router/README.md): app routes and placements (from the
// control role), dyno registrations and deregistrations (from agents).
import { ValidationError } from "./errors";
import { checkAppName, checkDynoName, domainProblem } from "./names";
import { parseRelease } from "./release";
import { intIn, isObject } from "./shape";

/** `PUT /v1/apps/:app` body. */
export interface AppRouteBody {
  /** host names or `*.suffix` wildcards; `<app>.<platformDomain>` is always added by the router */
  domains?: string[];
  concurrency?: number;
  queueSize?: number;
  holdWhenEmpty?: boolean;
  timeouts?: { firstByteMs?: number; idleMs?: number; queueMs?: number };
  /** Maintenance mode (maintenance:on): every request is answered 503 with the maintenance page (H80). */
  maintenance?: boolean;
  /** The app's MAINTENANCE_PAGE_URL: the maintenance page frames it (the visitor's browser fetches it, never the router). */
  maintenancePageUrl?: string;
}

/** An app's route as the router keeps and lists it. */
export interface AppRoute {
  name: string;
  /** Custom domains (lower case, no port). `<app>.<platformDomain>` is always added by the router. */
  domains: string[];
  /** Per-dyno concurrency cap for this app (overrides the router default, overridden by the dyno's own). */
  concurrency?: number;
  firstByteTimeoutMs?: number;
  idleTimeoutMs?: number;
  queueSize?: number;
  queueDeadlineMs?: number;
  /** Hold requests while the app has no dyno (booting) instead of answering H14 at once. Default true. */
  holdWhenEmpty: boolean;
  /** Maintenance mode: answer every request 503 with the maintenance page (H80); dynos get none. */
  maintenance?: boolean;
  /** An http(s) URL the maintenance page shows in a frame (Heroku's MAINTENANCE_PAGE_URL). */
  maintenancePageUrl?: string;
}

/** `PUT /v1/apps/:app/dynos/:dyno` body: an agent registers (or renews) an up web dyno. */
export interface DynoRegistration {
  /** "host:port" the dyno listens on */
  address: string;
  concurrency?: number;
  release?: number;
  leaseMs?: number;
}

/** `DELETE /v1/apps/:app/dynos/:dyno` body: the name goes only while it is registered at this address. */
export interface DynoDeregistration {
  address: string;
}

/** `PUT /v1/apps/:app/placement` body: the private addresses of the dyno hosts the app is placed on. */
export interface PlacementBody {
  hosts: string[];
}

/** A registered dyno as routing sees it. */
export interface DynoInfo {
  app: string;
  /** e.g. "web.1" */
  dyno: string;
  /** "host:port" the dyno listens on */
  address: string;
  concurrency?: number;
  release?: number;
}

/** A dyno's "host:port" (an IPv6 host in brackets). */
export const DYNO_ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

function optPositiveInt(body: Record<string, unknown>, key: string, max = 86_400_000): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!intIn(v, 1, max)) {
    throw new ValidationError(`${key} must be an integer between 1 and ${max}`);
  }
  return v;
}

export function parseAppRoute(name: string, body: unknown): AppRoute {
  checkAppName(name);
  if (!isObject(body)) throw new ValidationError("body must be a JSON object");
  const domainsRaw = body.domains ?? [];
  if (!Array.isArray(domainsRaw)) throw new ValidationError("domains must be an array of host names");
  const domains = domainsRaw.map((d) => {
    if (typeof d !== "string") throw new ValidationError("domains must be strings");
    const host = d.toLowerCase().replace(/\.$/, "");
    const problem = domainProblem(host);
    if (problem) throw new ValidationError(problem);
    return host;
  });
  const timeouts = body.timeouts ?? {};
  if (!isObject(timeouts)) throw new ValidationError("timeouts must be an object");
  const hold = body.holdWhenEmpty;
  if (hold !== undefined && typeof hold !== "boolean") throw new ValidationError("holdWhenEmpty must be a boolean");
  const maintenance = body.maintenance;
  if (maintenance !== undefined && typeof maintenance !== "boolean") throw new ValidationError("maintenance must be a boolean");
  const pageUrl = body.maintenancePageUrl;
  if (pageUrl !== undefined && (typeof pageUrl !== "string" || pageUrlProblem(pageUrl))) {
    throw new ValidationError(pageUrlProblem(String(pageUrl)) ?? "maintenancePageUrl must be a string");
  }
  return {
    name,
    domains: [...new Set(domains)],
    concurrency: optPositiveInt(body, "concurrency", 100_000),
    firstByteTimeoutMs: optPositiveInt(timeouts, "firstByteMs"),
    idleTimeoutMs: optPositiveInt(timeouts, "idleMs"),
    queueSize: optPositiveInt(body, "queueSize", 1_000_000),
    queueDeadlineMs: optPositiveInt(timeouts, "queueMs"),
    holdWhenEmpty: hold ?? true,
    ...(maintenance ? { maintenance: true } : {}),
    ...(pageUrl !== undefined ? { maintenancePageUrl: pageUrl as string } : {}),
  };
}

/** The longest MAINTENANCE_PAGE_URL a route takes. */
export const MAX_PAGE_URL = 2048;

/** Why `url` cannot be a maintenance page URL (undefined: it can). */
export function pageUrlProblem(url: string): string | undefined {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "https:" && parsed.protocol !== "http:") || url.length > MAX_PAGE_URL || /[\s"'<>\\]/.test(url)) {
    return `MAINTENANCE_PAGE_URL must be an http(s) URL of at most ${MAX_PAGE_URL} characters without spaces, quotes or angle brackets, e.g. https://example.com/maintenance.html`;
  }
  return undefined;
}

/** The address a DELETE deregisters. */
export function parseDynoAddress(body: unknown): string {
  const address = isObject(body) ? body.address : undefined;
  if (typeof address !== "string" || !DYNO_ADDRESS.test(address)) {
    throw new ValidationError('address required: a dyno is deregistered only at the address it was registered with (body {"address": "host:port"})');
  }
  return address;
}

/** The placement's hosts, without brackets, lower case, sorted, each once. */
export function parsePlacement(app: string, body: unknown): string[] {
  checkAppName(app);
  const hosts = isObject(body) ? body.hosts : undefined;
  if (!Array.isArray(hosts) || hosts.length > 1000 || hosts.some((h) => typeof h !== "string" || !/^[A-Za-z0-9.:[\]-]{1,255}$/.test(h))) {
    throw new ValidationError('hosts required: the private addresses of the dyno hosts the app is placed on (body {"hosts": ["10.0.0.21"]})');
  }
  return [...new Set((hosts as string[]).map((h) => h.replace(/^\[|\]$/g, "").toLowerCase()))].sort();
}

/** A registration; its lease is the router's default when it names none. */
export function parseDyno(app: string, dyno: string, body: unknown, defaultLeaseMs: number): { info: DynoInfo; leaseMs: number } {
  checkAppName(app);
  checkDynoName(dyno);
  if (!isObject(body)) throw new ValidationError("body must be a JSON object");
  const address = body.address;
  if (typeof address !== "string" || !DYNO_ADDRESS.test(address)) throw new ValidationError('address must be "host:port"');
  const port = Number(DYNO_ADDRESS.exec(address)![2]);
  if (port < 1 || port > 65535) throw new ValidationError("address port out of range");
  const release = body.release === undefined ? undefined : parseRelease(body.release);
  const concurrency = optPositiveInt(body, "concurrency", 100_000);
  return {
    info: { app, dyno, address, concurrency, ...(release !== undefined ? { release } : {}) },
    leaseMs: optPositiveInt(body, "leaseMs", 3_600_000) ?? defaultLeaseMs,
  };
}

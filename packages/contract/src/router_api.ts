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
  return {
    name,
    domains: [...new Set(domains)],
    concurrency: optPositiveInt(body, "concurrency", 100_000),
    firstByteTimeoutMs: optPositiveInt(timeouts, "firstByteMs"),
    idleTimeoutMs: optPositiveInt(timeouts, "idleMs"),
    queueSize: optPositiveInt(body, "queueSize", 1_000_000),
    queueDeadlineMs: optPositiveInt(timeouts, "queueMs"),
    holdWhenEmpty: hold ?? true,
  };
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

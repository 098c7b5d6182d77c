// The desired state of one app on this host, as PUT by the control role, and its validation.
import { SlugRef, slugLayers } from "./slug_store";
import { DEFAULT_SIZES, type AgentConfig } from "./config";
import type { SizeLimits } from "./supervisor";

export interface DesiredState {
  release: string;
  slug?: SlugRef;
  env: Record<string, string>;
  processTypes: Record<string, string>;
  /** dyno names to run here, e.g. ["web.1","web.2","worker.1"] */
  dynos: string[];
  /** size for every type, or per type; default from config */
  size?: string | Record<string, string>;
  /** memory quota override in MB (wins over size) */
  memoryMb?: number;
  /** per-dyno concurrency announced to routers */
  concurrency?: number;
  /** per-app overrides of the agent's bootTimeoutMs / stopTimeoutMs */
  bootTimeoutMs?: number;
  stopTimeoutMs?: number;
}

export class ValidationError extends Error {}

export const APP_NAME = /^[a-z][a-z0-9-]{0,29}$/;
export const DYNO_NAME = /^([a-z][a-z0-9_-]{0,30})\.([0-9]{1,6})$/;
const TYPE_NAME = /^[a-z][a-z0-9_-]{0,30}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function validateAppName(app: string): void {
  if (!APP_NAME.test(app)) throw new ValidationError(`invalid app name ${JSON.stringify(app)} (lower case letters, digits and dashes, starting with a letter, at most 30)`);
}

/** A slug as the control role sends it (desired state, one-offs): `{url, sha256, token?, layers?}`. */
export function parseSlugRef(v: unknown): SlugRef {
  const s = v as Record<string, unknown>;
  if (typeof s !== "object" || s === null || typeof s.url !== "string" || typeof s.sha256 !== "string") throw new ValidationError("slug must be {url, sha256}");
  if (!/^[0-9a-fA-F]{64}$/.test(s.sha256)) throw new ValidationError("slug.sha256 must be 64 hex characters");
  // it becomes a header value: no spaces, no line breaks
  if (s.token !== undefined && (typeof s.token !== "string" || !/^[A-Za-z0-9._~+/=-]{1,256}$/.test(s.token))) throw new ValidationError("slug.token must be 1 to 256 URL-safe characters");
  const layers = slugLayers(s.layers);
  return { url: s.url, sha256: s.sha256.toLowerCase(), ...(typeof s.token === "string" ? { token: s.token } : {}), ...(layers ? { layers } : {}) };
}

export function parseDesiredState(body: unknown, config: AgentConfig): DesiredState {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new ValidationError("body must be a JSON object");
  const b = body as Record<string, unknown>;
  if (typeof b.release !== "string" || !b.release || b.release.length > 64) throw new ValidationError("release must be a non-empty string of at most 64 characters");
  const env: Record<string, string> = {};
  if (b.env !== undefined) {
    if (b.env === null || typeof b.env !== "object" || Array.isArray(b.env)) throw new ValidationError("env must be an object of strings");
    for (const [k, v] of Object.entries(b.env as Record<string, unknown>)) {
      if (!ENV_NAME.test(k)) throw new ValidationError(`env: invalid variable name ${JSON.stringify(k)}`);
      if (typeof v !== "string") throw new ValidationError(`env.${k} must be a string`);
      if (v.includes("\0")) throw new ValidationError(`env.${k} contains a NUL byte`);
      env[k] = v;
    }
  }
  const processTypes: Record<string, string> = {};
  const pt = b.processTypes ?? {};
  if (pt === null || typeof pt !== "object" || Array.isArray(pt)) throw new ValidationError("processTypes must be an object {type: command}");
  for (const [k, v] of Object.entries(pt as Record<string, unknown>)) {
    if (!TYPE_NAME.test(k)) throw new ValidationError(`processTypes: invalid process type ${JSON.stringify(k)}`);
    if (typeof v !== "string" || !v.trim()) throw new ValidationError(`processTypes.${k} must be a non-empty command`);
    processTypes[k] = v;
  }
  let dynos: string[] = [];
  if (b.dynos !== undefined) {
    if (!Array.isArray(b.dynos)) throw new ValidationError("dynos must be an array of names like \"web.1\"");
    dynos = b.dynos.map((d) => {
      if (typeof d !== "string" || !DYNO_NAME.test(d)) throw new ValidationError(`invalid dyno name ${JSON.stringify(d)} (want e.g. web.1)`);
      return d;
    });
  }
  if (b.formation !== undefined) {
    if (b.formation === null || typeof b.formation !== "object" || Array.isArray(b.formation)) throw new ValidationError("formation must be an object {type: count}");
    for (const [t, n] of Object.entries(b.formation as Record<string, unknown>)) {
      if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 1000) throw new ValidationError(`formation.${t} must be an integer 0..1000`);
      for (let i = 1; i <= n; i++) dynos.push(`${t}.${i}`);
    }
  }
  dynos = [...new Set(dynos)];
  for (const d of dynos) {
    const type = DYNO_NAME.exec(d)![1];
    if (type === "run") throw new ValidationError(`${d}: "run" is reserved for one-off dynos`);
    if (!processTypes[type]) throw new ValidationError(`dyno ${d} has no command: processTypes.${type} is missing`);
  }
  const slug = b.slug !== undefined && b.slug !== null ? parseSlugRef(b.slug) : undefined;
  if (!slug && dynos.length > 0) throw new ValidationError("slug is required when dynos are desired");
  const size = b.size as DesiredState["size"];
  const sizes = size === undefined ? [] : typeof size === "string" ? [size] : typeof size === "object" && size !== null && !Array.isArray(size) ? Object.values(size) : null;
  if (sizes === null) throw new ValidationError("size must be a size name or {type: size name}");
  for (const s of sizes) if (typeof s !== "string" || !config.sizes[s]) throw new ValidationError(`unknown dyno size ${JSON.stringify(s)} (known: ${Object.keys(config.sizes).join(", ")})`);
  const memoryMb = b.memoryMb;
  if (memoryMb !== undefined && (typeof memoryMb !== "number" || !Number.isInteger(memoryMb) || memoryMb < 16 || memoryMb > 1 << 20)) throw new ValidationError("memoryMb must be an integer >= 16");
  const concurrency = b.concurrency;
  if (concurrency !== undefined && (typeof concurrency !== "number" || !Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100_000)) throw new ValidationError("concurrency must be an integer 1..100000");
  const ms = (key: "bootTimeoutMs" | "stopTimeoutMs", max: number): number | undefined => {
    const v = b[key];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1000 || v > max) throw new ValidationError(`${key} must be an integer ${1000}..${max}`);
    return v;
  };
  const bootTimeoutMs = ms("bootTimeoutMs", 10 * 60_000);
  const stopTimeoutMs = ms("stopTimeoutMs", 5 * 60_000);
  return {
    release: b.release, slug, env, processTypes, dynos, size, memoryMb: memoryMb as number | undefined, concurrency: concurrency as number | undefined,
    ...(bootTimeoutMs !== undefined ? { bootTimeoutMs } : {}),
    ...(stopTimeoutMs !== undefined ? { stopTimeoutMs } : {}),
  };
}

export function sizeFor(d: DesiredState, type: string, config: AgentConfig): { size: string; memoryMb: number } {
  const size = typeof d.size === "string" ? d.size : d.size?.[type] ?? config.defaultSize;
  return { size, memoryMb: d.memoryMb ?? config.sizes[size]?.memoryMb ?? 512 };
}

/**
 * A size's task and CPU limits. A field the configured size leaves out comes from Heroku's size of
 * that name, else from standard-1x (an operator who only changes a size's memory keeps its limits).
 * A memoryMb override in the desired state changes only the memory quota.
 */
export function limitsFor(size: string, config: AgentConfig): SizeLimits {
  const own = config.sizes[size] ?? {};
  const heroku = DEFAULT_SIZES[size] ?? {};
  const base = DEFAULT_SIZES["standard-1x"];
  return {
    tasksMax: own.tasksMax ?? heroku.tasksMax ?? base.tasksMax!,
    cpuWeight: own.cpuWeight ?? heroku.cpuWeight ?? base.cpuWeight!,
    cpuQuotaPercent: own.cpuQuotaPercent ?? heroku.cpuQuotaPercent ?? base.cpuQuotaPercent!,
  };
}

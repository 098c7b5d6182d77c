// The agent's control API (packages/agent/README.md): what the control role sends an agent (an
// app's desired state, one-off and restart requests) and what the agent answers (status, one-off
// events). Parsers are pure: what depends on an agent's configuration (its dyno sizes) comes in
// as an argument.
import { ValidationError } from "./errors";
import { CONFIG_VAR_NAME, checkDynoName, ONE_OFF_TYPE, PROCESS_TYPE, processTypeOf } from "./names";
import { parseRelease } from "./release";
import { intIn, isObject } from "./shape";
import { parseSlugRef, type SlugRef } from "./slug";

/** `PUT /v1/apps/:app`: what runs of an app on one dyno host. */
export interface DesiredState {
  release: number;
  /** required when `dynos` is non-empty */
  slug?: SlugRef;
  env: Record<string, string>;
  processTypes: Record<string, string>;
  /** dyno names to run on this host, e.g. ["web.1", "web.2", "worker.1"] */
  dynos: string[];
  /** a size for every type, or one per type; else the agent's default */
  size?: string | Record<string, string>;
  /** memory quota in MB (wins over the size's) */
  memoryMb?: number;
  /** per-dyno concurrency announced to routers */
  concurrency?: number;
  /** per-app overrides of the agent's boot timeout (R10) and stop grace */
  bootTimeoutMs?: number;
  stopTimeoutMs?: number;
}

export interface ParseOptions {
  /** the dyno sizes this agent knows; any name passes when left out */
  knownSizes?: readonly string[];
}

/** Config vars: `{NAME: "value"}`. */
function parseEnv(v: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  if (v === undefined) return env;
  if (!isObject(v)) throw new ValidationError("env must be an object of strings");
  for (const [k, val] of Object.entries(v)) {
    if (!CONFIG_VAR_NAME.test(k)) throw new ValidationError(`env: invalid variable name ${JSON.stringify(k)}`);
    if (typeof val !== "string") throw new ValidationError(`env.${k} must be a string`);
    if (val.includes("\0")) throw new ValidationError(`env.${k} contains a NUL byte`);
    env[k] = val;
  }
  return env;
}

function checkSize(size: unknown, opts: ParseOptions): void {
  if (typeof size !== "string" || (opts.knownSizes && !opts.knownSizes.includes(size))) {
    throw new ValidationError(`unknown dyno size ${JSON.stringify(size)}${opts.knownSizes ? ` (known: ${opts.knownSizes.join(", ")})` : ""}`);
  }
}

/**
 * A desired state from its JSON body. `formation: {"web": 2}` is read too: it adds web.1 and web.2
 * to `dynos`.
 */
export function parseDesiredState(body: unknown, opts: ParseOptions = {}): DesiredState {
  if (!isObject(body)) throw new ValidationError("body must be a JSON object");
  const b = body;
  const release = parseRelease(b.release);
  const env = parseEnv(b.env);
  const processTypes: Record<string, string> = {};
  const pt = b.processTypes ?? {};
  if (!isObject(pt)) throw new ValidationError("processTypes must be an object {type: command}");
  for (const [k, v] of Object.entries(pt)) {
    if (!PROCESS_TYPE.test(k)) throw new ValidationError(`processTypes: invalid process type ${JSON.stringify(k)}`);
    if (typeof v !== "string" || !v.trim()) throw new ValidationError(`processTypes.${k} must be a non-empty command`);
    processTypes[k] = v;
  }
  let dynos: string[] = [];
  if (b.dynos !== undefined) {
    if (!Array.isArray(b.dynos)) throw new ValidationError('dynos must be an array of names like "web.1"');
    dynos = b.dynos.map(checkDynoName);
  }
  if (b.formation !== undefined) {
    if (!isObject(b.formation)) throw new ValidationError("formation must be an object {type: count}");
    for (const [t, n] of Object.entries(b.formation)) {
      if (!intIn(n, 0, 1000)) throw new ValidationError(`formation.${t} must be an integer 0..1000`);
      for (let i = 1; i <= n; i++) dynos.push(checkDynoName(`${t}.${i}`));
    }
  }
  dynos = [...new Set(dynos)];
  for (const d of dynos) {
    const type = processTypeOf(d);
    if (type === ONE_OFF_TYPE) throw new ValidationError(`${d}: "${ONE_OFF_TYPE}" is reserved for one-off dynos`);
    if (!processTypes[type]) throw new ValidationError(`dyno ${d} has no command: processTypes.${type} is missing`);
  }
  const slug = b.slug !== undefined && b.slug !== null ? parseSlugRef(b.slug) : undefined;
  if (!slug && dynos.length > 0) throw new ValidationError("slug is required when dynos are desired");
  const size = b.size;
  if (size !== undefined && typeof size !== "string" && !isObject(size)) throw new ValidationError("size must be a size name or {type: size name}");
  for (const s of size === undefined ? [] : typeof size === "string" ? [size] : Object.values(size)) checkSize(s, opts);
  const memoryMb = b.memoryMb;
  if (memoryMb !== undefined && !intIn(memoryMb, 16, 1 << 20)) throw new ValidationError("memoryMb must be an integer >= 16");
  const concurrency = b.concurrency;
  if (concurrency !== undefined && !intIn(concurrency, 1, 100_000)) throw new ValidationError("concurrency must be an integer 1..100000");
  const ms = (key: "bootTimeoutMs" | "stopTimeoutMs", max: number): number | undefined => {
    const v = b[key];
    if (v === undefined) return undefined;
    if (!intIn(v, 1000, max)) throw new ValidationError(`${key} must be an integer 1000..${max}`);
    return v;
  };
  const bootTimeoutMs = ms("bootTimeoutMs", 10 * 60_000);
  const stopTimeoutMs = ms("stopTimeoutMs", 5 * 60_000);
  return {
    release, slug, env, processTypes, dynos, size: size as DesiredState["size"], memoryMb, concurrency,
    ...(bootTimeoutMs !== undefined ? { bootTimeoutMs } : {}),
    ...(stopTimeoutMs !== undefined ? { stopTimeoutMs } : {}),
  };
}

/** `POST /v1/apps/:app/run`: a one-off dyno (`dynoform run`, the release phase). */
export interface OneOffRequest {
  command: string;
  /** added to the app's config vars */
  env?: Record<string, string>;
  size?: string;
  /** killed after this long */
  timeoutMs?: number;
  /** run in this slug instead of the current release's (the release phase runs the new release before rollout) */
  slug?: SlugRef;
  /** keep the dyno's stdin open for `POST /v1/apps/:app/run/:dyno/stdin`; else it gets EOF at once */
  stdin?: boolean;
}

export function parseOneOffRequest(body: unknown, opts: ParseOptions = {}): OneOffRequest {
  if (!isObject(body)) throw new ValidationError("body must be a JSON object");
  const { command, size, timeoutMs, stdin } = body;
  if (typeof command !== "string" || !command.trim()) throw new ValidationError("command must be a non-empty string");
  const env = parseEnv(body.env);
  if (size !== undefined) checkSize(size, opts);
  if (timeoutMs !== undefined && !intIn(timeoutMs, 1, 24 * 3_600_000)) throw new ValidationError("timeoutMs must be an integer 1..86400000");
  if (stdin !== undefined && typeof stdin !== "boolean") throw new ValidationError("stdin must be true or false");
  return {
    command,
    ...(body.env !== undefined ? { env } : {}),
    ...(size !== undefined ? { size: size as string } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(body.slug !== undefined ? { slug: parseSlugRef(body.slug) } : {}),
    ...(stdin !== undefined ? { stdin } : {}),
  };
}

/** The one-off's response: `application/x-ndjson`, one event a line, its exit last. */
export type OneOffEvent = { dyno: string; state: "up" } | { stream: "stdout" | "stderr"; data: string } | { dyno: string; exit: number };

/** `POST /v1/apps/:app/restart`: every dyno, or one (`web.1`) or one process type (`web`). */
export interface RestartRequest {
  dyno?: string;
}

export function parseRestartRequest(body: unknown): RestartRequest {
  const dyno = isObject(body) ? body.dyno : undefined;
  if (dyno !== undefined && typeof dyno !== "string") throw new ValidationError("dyno must be a dyno name (web.1) or a process type (web)");
  return dyno === undefined ? {} : { dyno };
}

export type InstanceState = "starting" | "up" | "crashed" | "stopping" | "down";

/** crash | stop | R10 (boot timeout) | R15 (memory) | lost (exited while the agent was away) | launch-failed */
export type ExitReason = "crash" | "stop" | "R10" | "R15" | "lost" | "launch-failed";

export interface LastExit {
  /** exit status, or 128+signal; null when unknown */
  status: number | null;
  at: string;
  reason: ExitReason;
}

/** One instance of a dyno (a rollout replaces `web.1` by a new instance of it). */
export interface InstanceStatus {
  name: string;
  type: string;
  instance: string;
  unit: string;
  state: InstanceState;
  release: number;
  command: string;
  size: string;
  memoryMb: number;
  pid: number | null;
  port: number | null;
  address: string | null;
  /** a web dyno's registration with the routers */
  registered: boolean;
  /** crash restarts of this instance */
  restarts: number;
  /** consecutive crashes (they drive the restart backoff) */
  crashes: number;
  lastExit: LastExit | null;
  startedAt: string | null;
  upAt: string | null;
  uptimeSeconds: number;
  nextRestartAt: string | null;
}

export interface OneOffStatus {
  name: string;
  command: string;
  pid?: number;
  startedAt: string;
}

/** `GET /v1/apps/:app`, and the answer to `PUT`. */
export interface AppStatus {
  app: string;
  release: number;
  slug: Omit<SlugRef, "token"> | null;
  processTypes: Record<string, string>;
  desiredDynos: string[];
  dynos: InstanceStatus[];
  /** old instances still serving or stopping during a rollout */
  retiring: InstanceStatus[];
  lastError: string | null;
  oneOffs: OneOffStatus[];
}

/** The agent's link to one router (its registrations there). */
export interface RouterStatus {
  url: string;
  ok: boolean;
  lastError?: string;
  lastOkAt?: string;
}

/** `GET /v1/status` */
export interface AgentStatus {
  supervisor: "process" | "systemd";
  address: string;
  startedAt: string;
  routers: RouterStatus[];
  apps: AppStatus[];
}

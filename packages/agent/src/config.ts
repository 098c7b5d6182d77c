// Agent configuration: JSON file (--config), then environment (DYNOFORM_AGENT_*), then flags.
import * as fs from "node:fs";

export interface RouterTarget {
  /** base URL of a router's control API, e.g. http://10.0.0.2:8081 */
  url: string;
  /** bearer token for that router (falls back to registrationToken) */
  token?: string;
}

export interface DynoSize {
  memoryMb: number;
  /** processes + threads of one dyno (TasksMax); default: the same size's default, else standard-1x's */
  tasksMax?: number;
  /** CPU share under contention (CPUWeight, 1..10000) */
  cpuWeight?: number;
  /** CPU ceiling, percent of one core (CPUQuota) */
  cpuQuotaPercent?: number;
}

export interface AgentConfig {
  /** control API listen address, host:port */
  listen: string;
  /** bearer token for the control API (required) */
  token: string;
  /** config file only: read the control token from this file */
  tokenFile?: string;
  /** state, slugs, dyno logs */
  stateDir: string;
  /** private address dynos are reached on (registered with routers, readiness probes) */
  address: string;
  /** dyno port range, inclusive */
  portRange: [number, number];
  routers: RouterTarget[];
  /** this dyno host's own registration credential with the routers (each host has its own) */
  registrationToken?: string;
  /** registration lease handed to routers */
  leaseMs: number;
  /** renewal interval (default leaseMs / 3) */
  renewMs: number;
  supervisor: "auto" | "systemd" | "process";
  /** run dynos as a per-app Unix user (created on demand); default: true when root */
  appUsers: boolean;
  /** run every dyno as this existing user instead of per-app users (e.g. "nobody") */
  dynoUser?: string;
  /** prefix of per-app user names */
  appUserPrefix: string;
  bootTimeoutMs: number;
  stopTimeoutMs: number;
  /** crash restart backoff: 1st crash restarts at once, then base*2^(n-2) capped at max */
  restartBaseMs: number;
  restartMaxMs: number;
  /** a dyno up this long has its crash count reset */
  restartResetMs: number;
  memoryPollMs: number;
  /** minimum interval between two R14 lines for one dyno */
  r14IntervalMs: number;
  readinessPollMs: number;
  logLinesPerApp: number;
  /** slugs kept on disk beyond those in use */
  slugsToKeep: number;
  sizes: Record<string, DynoSize>;
  defaultSize: string;
  /** default per-dyno concurrency announced to routers */
  concurrency: number;
  /** the log router (`http://host:port`) dyno output and dyno events go to ("" = kept here only) */
  logRouterUrl: string;
  /** this host's own token for the log router (or read from logTokenFile); required with logRouterUrl */
  logToken?: string;
  logTokenFile?: string;
  /** how often the dyno output files are read */
  logPollMs: number;
  /**
   * systemd supervisor: config vars in root-only EnvironmentFiles, the state dir hidden from dynos
   * (their own slug bound back read-only) and hiddenPaths made inaccessible to them
   */
  sandbox: boolean;
  /** host paths dynos must not see (host tokens and config) */
  hiddenPaths: string[];
}

// Heroku's dyno sizes. tasksMax is Heroku's process/thread limit per size. Standard dynos share
// their hosts' CPUs: cpuWeight is Heroku's "CPU share" (1x, 2x) and, for performance dynos, their
// "compute" (12x, 50x), so under contention a 2X gets twice a 1X's time. cpuQuotaPercent is a
// ceiling, so no dyno takes a shared host's every core: one core for 1X, two for 2X, and the
// vCPUs Heroku gives a performance dyno (2 for M, 8 for L).
export const DEFAULT_SIZES: Record<string, DynoSize> = {
  eco: { memoryMb: 512, tasksMax: 256, cpuWeight: 100, cpuQuotaPercent: 100 },
  basic: { memoryMb: 512, tasksMax: 256, cpuWeight: 100, cpuQuotaPercent: 100 },
  "standard-1x": { memoryMb: 512, tasksMax: 256, cpuWeight: 100, cpuQuotaPercent: 100 },
  "standard-2x": { memoryMb: 1024, tasksMax: 512, cpuWeight: 200, cpuQuotaPercent: 200 },
  "performance-m": { memoryMb: 2560, tasksMax: 16384, cpuWeight: 1200, cpuQuotaPercent: 200 },
  "performance-l": { memoryMb: 14336, tasksMax: 32768, cpuWeight: 5000, cpuQuotaPercent: 800 },
};

export function defaultConfig(): AgentConfig {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  return {
    listen: "127.0.0.1:5100",
    token: "",
    stateDir: "/var/lib/dynoform-agent",
    address: "127.0.0.1",
    portRange: [20000, 29999],
    routers: [],
    leaseMs: 15000,
    renewMs: 5000,
    supervisor: "auto",
    appUsers: root,
    appUserPrefix: "dyno-",
    bootTimeoutMs: 60000,
    stopTimeoutMs: 30000,
    restartBaseMs: 20000,
    restartMaxMs: 20 * 60000,
    restartResetMs: 10 * 60000,
    memoryPollMs: 2000,
    r14IntervalMs: 20000,
    readinessPollMs: 25,
    logLinesPerApp: 1500,
    slugsToKeep: 3,
    sizes: { ...DEFAULT_SIZES },
    defaultSize: "standard-1x",
    concurrency: 50,
    logRouterUrl: "",
    logPollMs: 100,
    sandbox: true,
    hiddenPaths: ["/etc/dynoform", "/etc/dynoform-agent"],
  };
}

export function resolveConfig(partial: Partial<AgentConfig>): AgentConfig {
  const c: AgentConfig = { ...defaultConfig(), ...stripUndefined(partial) };
  c.sizes = { ...DEFAULT_SIZES, ...(partial.sizes ?? {}) };
  if (partial.renewMs === undefined && partial.leaseMs !== undefined) c.renewMs = Math.max(50, Math.floor(c.leaseMs / 3));
  if (!c.token) throw new Error("config: token is required (--token, --token-file, DYNOFORM_AGENT_TOKEN or \"token\" in the config file)");
  // Routers accept a registration only with this dyno host's own credential: without one every
  // registration would fail quietly, dyno by dyno.
  if (c.routers.some((r) => !(r.token ?? c.registrationToken))) throw new Error("config: registrationToken is required with routers (this dyno host's registration credential: --registration-token-file, DYNOFORM_AGENT_REGISTRATION_TOKEN or \"registrationToken\" in the config file)");
  if (c.portRange[0] > c.portRange[1]) throw new Error("config: portRange is empty");
  if (!c.sizes[c.defaultSize]) throw new Error(`config: defaultSize ${c.defaultSize} is not in sizes`);
  for (const [name, s] of Object.entries(c.sizes)) {
    // systemd refuses a unit with a limit out of range: say so once, at start, not on every launch
    const bad = (v: number | undefined, min: number, max: number) => v !== undefined && !(Number.isInteger(v) && v >= min && v <= max);
    if (bad(s.tasksMax, 1, 4194304) || bad(s.cpuWeight, 1, 10000) || bad(s.cpuQuotaPercent, 1, 100000)) {
      throw new Error(`config: sizes.${name}: tasksMax (1..4194304), cpuWeight (1..10000) and cpuQuotaPercent (1..100000) must be integers`);
    }
  }
  return c;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const r: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (r as Record<string, unknown>)[k] = v;
  return r;
}

export const USAGE = `usage: dynoform-agent [--config FILE] [--listen HOST:PORT] [--token TOKEN | --token-file FILE]
                      [--state-dir DIR] [--address IP] [--ports MIN-MAX] [--router URL]... [--registration-token TOKEN]
                      [--supervisor auto|systemd|process] [--lease-ms N] [--dyno-user USER] [--no-app-users]`;

/** Parse argv + env into a config. Throws with a usage message on bad input. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let file: Partial<AgentConfig> = {};
  const flags: Partial<AgentConfig> = {};
  const routers: RouterTarget[] = [];
  const need = (i: number): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value\n${USAGE}`);
    return v;
  };
  const cfgIdx = argv.indexOf("--config");
  const cfgPath = cfgIdx >= 0 ? need(cfgIdx) : env.DYNOFORM_AGENT_CONFIG;
  if (cfgPath) file = JSON.parse(fs.readFileSync(cfgPath, "utf8")) as Partial<AgentConfig>;

  const fromEnv: Partial<AgentConfig> = {};
  if (env.DYNOFORM_AGENT_TOKEN) fromEnv.token = env.DYNOFORM_AGENT_TOKEN;
  if (env.DYNOFORM_AGENT_LISTEN) fromEnv.listen = env.DYNOFORM_AGENT_LISTEN;
  if (env.DYNOFORM_AGENT_STATE_DIR) fromEnv.stateDir = env.DYNOFORM_AGENT_STATE_DIR;
  if (env.DYNOFORM_AGENT_ADDRESS) fromEnv.address = env.DYNOFORM_AGENT_ADDRESS;
  if (env.DYNOFORM_AGENT_ROUTERS) fromEnv.routers = env.DYNOFORM_AGENT_ROUTERS.split(",").filter(Boolean).map((url) => ({ url }));
  if (env.DYNOFORM_AGENT_REGISTRATION_TOKEN) fromEnv.registrationToken = env.DYNOFORM_AGENT_REGISTRATION_TOKEN;

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case "--config": i++; break;
      case "--listen": flags.listen = need(i); i++; break;
      case "--token": flags.token = need(i); i++; break;
      case "--token-file": flags.token = fs.readFileSync(need(i), "utf8").trim(); i++; break;
      case "--state-dir": flags.stateDir = need(i); i++; break;
      case "--address": flags.address = need(i); i++; break;
      case "--ports": {
        const m = /^(\d+)-(\d+)$/.exec(need(i));
        if (!m) throw new Error(`--ports wants MIN-MAX\n${USAGE}`);
        flags.portRange = [Number(m[1]), Number(m[2])];
        i++;
        break;
      }
      case "--router": routers.push({ url: need(i) }); i++; break;
      case "--registration-token": flags.registrationToken = need(i); i++; break;
      case "--registration-token-file": flags.registrationToken = fs.readFileSync(need(i), "utf8").trim(); i++; break;
      case "--supervisor": {
        const v = need(i);
        if (v !== "auto" && v !== "systemd" && v !== "process") throw new Error(`--supervisor: auto|systemd|process\n${USAGE}`);
        flags.supervisor = v;
        i++;
        break;
      }
      case "--lease-ms": flags.leaseMs = Number(need(i)); i++; break;
      case "--dyno-user": flags.dynoUser = need(i); i++; break;
      case "--no-app-users": flags.appUsers = false; break;
      case "-h": case "--help": throw new Error(USAGE);
      default: throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  if (routers.length) flags.routers = routers;
  const merged: Partial<AgentConfig> = { ...file, ...stripUndefined(fromEnv), ...flags };
  if (typeof file.tokenFile === "string" && !fromEnv.token && !flags.token) merged.token = fs.readFileSync(file.tokenFile, "utf8").trim();
  if (env.DYNOFORM_AGENT_LOG_TOKEN) merged.logToken = env.DYNOFORM_AGENT_LOG_TOKEN;
  if (!merged.logToken && typeof merged.logTokenFile === "string") merged.logToken = fs.readFileSync(merged.logTokenFile, "utf8").trim();
  if (merged.logRouterUrl && !merged.logToken) throw new Error("config logRouterUrl needs logToken or logTokenFile (this host's own token for the log router)");
  return resolveConfig(merged);
}

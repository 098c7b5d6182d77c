// Log router configuration: defaults, then a JSON file given with `--config PATH`, then environment
// variables (DYNOFORM_LOGPLEX_<KEY_IN_UPPER_SNAKE_CASE>), then `--key value` flags. Keys are
// documented in packages/logplex/README.md.
import { readFileSync } from "node:fs";
import { parseSenders, type SenderCredential } from "./auth";

export interface LogplexConfig {
  /** "host:port" of the API: a private address (senders, the control role). */
  listen: string;
  /** The control role's bearer token (or read from tokenFile): every endpoint. */
  token: string;
  tokenFile: string;
  /** Senders (agents, routers): their name and token's SHA-256 (a JSON array in the file, a JSON string elsewhere). */
  senders: SenderCredential[];
  /** Where each app's recent lines and the drains are kept. */
  dataDir: string;
  /** Recent lines kept per app (Heroku keeps 1,500). */
  linesPerApp: number;
  /** Bytes of an app's current disk segment before it becomes the previous one (with linesPerApp lines in it too). */
  storeSegmentBytes: number;
  /** Lines each drain holds while it is slow or down; past it the oldest are dropped (L10). */
  drainBufferLines: number;
  /** Unsent bytes a tail reader may hold before its lines are dropped (L10). */
  tailBacklogBytes: number;
  /** Largest `POST /v1/lines` body. */
  maxBatchBytes: number;
  /** How often drops are told in L10 lines. */
  overflowNoticeMs: number;
  /** How long `drains:add` waits for the drain to answer. */
  drainCheckTimeoutMs: number;
}

export const DEFAULTS: LogplexConfig = {
  listen: "127.0.0.1:8093",
  token: "",
  tokenFile: "",
  senders: [],
  dataDir: "/var/lib/dynoform-logplex",
  linesPerApp: 1500,
  storeSegmentBytes: 4 * 1024 * 1024,
  drainBufferLines: 10_000,
  tailBacklogBytes: 1024 * 1024,
  maxBatchBytes: 4 * 1024 * 1024,
  overflowNoticeMs: 1000,
  drainCheckTimeoutMs: 3000,
};

const toSnake = (k: string) => k.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();
const toKebab = (k: string) => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

function coerce(key: keyof LogplexConfig, raw: unknown): unknown {
  if (key === "senders") return parseSenders(raw);
  if (typeof DEFAULTS[key] === "number") {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`config ${key}: not a positive integer: ${String(raw)}`);
    return n;
  }
  return String(raw);
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): LogplexConfig {
  const cfg: LogplexConfig = { ...DEFAULTS };
  const keys = Object.keys(DEFAULTS) as (keyof LogplexConfig)[];
  const set = (k: keyof LogplexConfig, v: unknown) => {
    (cfg as unknown as Record<string, unknown>)[k] = coerce(k, v);
  };
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf("=");
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else {
      if (i + 1 >= argv.length) throw new Error(`flag ${a} needs a value`);
      flags.set(a.slice(2), argv[++i]);
    }
  }
  const configPath = flags.get("config") ?? env.DYNOFORM_LOGPLEX_CONFIG;
  if (configPath) {
    const json = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
    for (const [k, v] of Object.entries(json)) {
      if (!(k in DEFAULTS)) throw new Error(`config file ${configPath}: unknown key ${k}`);
      set(k as keyof LogplexConfig, v);
    }
  }
  for (const k of keys) {
    const v = env["DYNOFORM_LOGPLEX_" + toSnake(k)];
    if (v !== undefined && v !== "") set(k, v);
  }
  for (const [f, v] of flags) {
    if (f === "config") continue;
    const k = keys.find((key) => toKebab(key) === f || key === f);
    if (!k) throw new Error(`unknown flag --${f}`);
    if (k === "token") throw new Error("--token would show the token in ps: use tokenFile or DYNOFORM_LOGPLEX_TOKEN");
    set(k, v);
  }
  if (!cfg.token && cfg.tokenFile) cfg.token = readFileSync(cfg.tokenFile, "utf8").trim();
  if (!cfg.token) throw new Error("config token: set tokenFile (the control role's bearer token) or DYNOFORM_LOGPLEX_TOKEN");
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/.test(cfg.listen)) throw new Error(`config listen: want "host:port" (a private address), got ${cfg.listen}`);
  return cfg;
}

// Log router configuration: defaults, then a JSON file given with `--config PATH`, then environment
// variables (DYNOFORM_LOGPLEX_<KEY_IN_UPPER_SNAKE_CASE>), then `--key value` flags. Keys are
// documented in packages/logplex/README.md.
import { readFileSync } from "node:fs";
import { readSettings } from "@dynoform/contract";
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
  /** Networks drains may not send to, beside loopback and link-local (drain_destinations.ts): the stack's private subnet. */
  drainRefusedNetworks: string[];
  /** Addresses in them a drain may still use: those that stand for the outside (the lab's gateway). */
  drainAllowedAddresses: string[];
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
  drainRefusedNetworks: [],
  drainAllowedAddresses: [],
};


function coerce(key: keyof LogplexConfig, raw: unknown): unknown {
  if (key === "senders") return parseSenders(raw);
  if (Array.isArray(DEFAULTS[key])) {
    // A JSON array in the file, a comma-separated list in the environment or a flag.
    const list = Array.isArray(raw) ? raw : String(raw).split(",");
    return list.map((x) => String(x).trim()).filter((x) => x !== "");
  }
  if (typeof DEFAULTS[key] === "number") {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`config ${key}: not a positive integer: ${String(raw)}`);
    return n;
  }
  return String(raw);
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): LogplexConfig {
  const cfg = readSettings<LogplexConfig>(
    { defaults: DEFAULTS, envPrefix: "DYNOFORM_LOGPLEX_", coerce, notFlags: { token: "--token would show the token in ps: use tokenFile or DYNOFORM_LOGPLEX_TOKEN" } },
    argv,
    env,
  );
  if (!cfg.token && cfg.tokenFile) cfg.token = readFileSync(cfg.tokenFile, "utf8").trim();
  if (!cfg.token) throw new Error("config token: set tokenFile (the control role's bearer token) or DYNOFORM_LOGPLEX_TOKEN");
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/.test(cfg.listen)) throw new Error(`config listen: want "host:port" (a private address), got ${cfg.listen}`);
  return cfg;
}

// Router configuration: defaults, then a JSON file given with `--config PATH`, then environment
// variables (DYNOFORM_ROUTER_<KEY_IN_UPPER_SNAKE_CASE>), then `--key value` flags. Keys are
// documented in packages/router/README.md.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { readSettings } from "@dynoform/contract";
import { splitList } from "./addresses";
import { parseAgentCredentials, type AgentCredential } from "./control_auth";
import { defaultTrustedProxies, trustedProxyList } from "./trusted_proxies";

export type BalancerKind = "p2c" | "random" | "roundrobin";

export interface RouterConfig {
  /** Traffic listener "host:port". */
  listen: string;
  /** Control API listener "host:port". */
  controlListen: string;
  /** The control role's bearer token: every /v1/* call (or read from tokenFile). */
  token: string;
  tokenFile: string;
  /** Per dyno host: its private address and the SHA-256 of its agent's registration credential
   * (a JSON array in the file, a JSON string in the environment or a flag). */
  agents: AgentCredential[];
  /** Key of the HMAC on load gossip with peers (or read from gossipKeyFile); required with loadListen. */
  gossipKey: string;
  gossipKeyFile: string;
  /** Number of worker processes; 0 = one per CPU. One by default: a single worker is one queue and
   * one exact view of in-flight counts per app (as HAProxy's maxconn queue), while several workers
   * balance apart on counts that lag each other (README "Processes"); more workers add throughput
   * for CPU-bound edges at that cost. */
  workers: number;
  /** Apps are reachable at `<app>.<platformDomain>` when set. */
  platformDomain: string;
  /** Host header that answers `GET /health` on the traffic port (for Varnish probes). */
  healthHost: string;
  /** Default dyno lease when a registration gives none. */
  leaseMs: number;
  /** Per-dyno concurrency cap when neither the dyno nor the app sets one. */
  defaultConcurrency: number;
  /** Per-app queue bound (per worker) and how long a request may wait in it. */
  queueSize: number;
  queueDeadlineMs: number;
  connectTimeoutMs: number;
  quarantineMs: number;
  /** H12: time to first response byte from the dyno. */
  firstByteTimeoutMs: number;
  /** H15: rolling idle timeout on the dyno's response (and on WebSocket tunnels). */
  idleTimeoutMs: number;
  /** Client side: whole header block must arrive within this; the whole request within clientRequestTimeoutMs. */
  clientHeaderTimeoutMs: number;
  clientRequestTimeoutMs: number;
  clientKeepAliveMs: number;
  /** Idle pooled dyno connections are closed after this (keep it below the dyno's own keep-alive). */
  upstreamKeepAliveMs: number;
  /** Limit of one header line (name + ": " + value) and of the request line. */
  maxHeaderLineBytes: number;
  /** Most header fields in a request (431 beyond). */
  maxHeaders: number;
  /** Keep inbound X-Forwarded-For/-Proto/-Port and X-Request-Start from trusted proxies (false: from nobody). */
  trustForwarded: boolean;
  /** Addresses/CIDRs whose forwarded headers are kept, comma separated (or a JSON array in the
   * file); "" = loopback, the listen address and the peers' hosts (the edge hosts). */
  trustedProxies: string;
  /** Where app routes are persisted so a restarted router serves them at once ("" = not persisted). */
  stateFile: string;
  /** Balancing policy; anything but p2c is for benchmarks (random/roundrobin ignore concurrency caps). */
  balancer: BalancerKind;
  /** Log request lines to stdout. */
  accessLog: boolean;
  /** Workers tell each other (through the primary) their in-flight counts this often, so caps and
   * P2C see the whole instance's load; 0 = every worker balances on its own share of the cap. */
  shareLoadMs: number;
  /** UDP "host:port" where this instance hears its peers' in-flight counts ("" = no peers). */
  loadListen: string;
  /** Other router instances' `loadListen` addresses, comma separated (or a JSON array in the file). */
  peers: string;
  /** The log router (`http://host:port`) each worker sends its request lines to, per app ("" = none). */
  logRouterUrl: string;
  /** This router's own token for the log router (or read from logTokenFile); required with logRouterUrl. */
  logToken: string;
  logTokenFile: string;
}

export const DEFAULTS: RouterConfig = {
  listen: "0.0.0.0:8080",
  controlListen: "127.0.0.1:8081",
  token: "",
  tokenFile: "",
  agents: [],
  gossipKey: "",
  gossipKeyFile: "",
  workers: 1,
  platformDomain: "",
  healthHost: "dynoform-router-health",
  leaseMs: 30_000,
  defaultConcurrency: 50,
  queueSize: 200,
  queueDeadlineMs: 30_000,
  connectTimeoutMs: 5_000,
  quarantineMs: 5_000,
  firstByteTimeoutMs: 30_000,
  idleTimeoutMs: 55_000,
  clientHeaderTimeoutMs: 10_000,
  clientRequestTimeoutMs: 60_000,
  clientKeepAliveMs: 60_000,
  upstreamKeepAliveMs: 4_000,
  maxHeaderLineBytes: 8192,
  maxHeaders: 100,
  trustForwarded: true,
  trustedProxies: "",
  stateFile: "",
  balancer: "p2c",
  accessLog: true,
  shareLoadMs: 0,
  loadListen: "",
  peers: "",
  logRouterUrl: "",
  logToken: "",
  logTokenFile: "",
};


function coerce(key: keyof RouterConfig, raw: unknown): unknown {
  const def = DEFAULTS[key];
  if (key === "agents") return parseAgentCredentials(raw);
  if (typeof def === "number") {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`config ${key}: not a non-negative number: ${String(raw)}`);
    return n;
  }
  if (typeof def === "boolean") {
    if (typeof raw === "boolean") return raw;
    const s = String(raw).toLowerCase();
    if (["1", "true", "yes", "on"].includes(s)) return true;
    if (["0", "false", "no", "off"].includes(s)) return false;
    throw new Error(`config ${key}: not a boolean: ${String(raw)}`);
  }
  return String(raw);
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): RouterConfig {
  const cfg = readSettings<RouterConfig>({ defaults: DEFAULTS, envPrefix: "DYNOFORM_ROUTER_", coerce }, argv, env);
  if (!cfg.token && cfg.tokenFile) cfg.token = readFileSync(cfg.tokenFile, "utf8").trim();
  if (!cfg.logToken && cfg.logTokenFile) cfg.logToken = readFileSync(cfg.logTokenFile, "utf8").trim();
  if (cfg.logRouterUrl && !cfg.logToken) throw new Error("config logRouterUrl needs logToken or logTokenFile (this router's own token for the log router)");
  if (cfg.logRouterUrl && !/^https?:\/\/[^/]+\/?$/.test(cfg.logRouterUrl)) throw new Error(`config logRouterUrl: ${cfg.logRouterUrl} is not http(s)://host:port`);
  if (!cfg.gossipKey && cfg.gossipKeyFile) cfg.gossipKey = readFileSync(cfg.gossipKeyFile, "utf8").trim();
  if (!["p2c", "random", "roundrobin"].includes(cfg.balancer)) throw new Error(`config balancer: ${cfg.balancer}`);
  if (cfg.workers === 0) cfg.workers = availableParallelism();
  cfg.platformDomain = cfg.platformDomain.toLowerCase().replace(/^\.+|\.+$/g, "");
  cfg.healthHost = cfg.healthHost.toLowerCase();
  cfg.peers = splitList(cfg.peers).join(",");
  cfg.trustedProxies = splitList(cfg.trustedProxies).join(",");
  if (cfg.peers && !cfg.loadListen) throw new Error("config peers needs loadListen (where the peers send to)");
  // Peers' datagrams steer balancing: they are authenticated with a key of their own, not the
  // control token (which would let whoever holds it forge load).
  if (cfg.loadListen && !cfg.gossipKey) throw new Error("config loadListen needs gossipKey or gossipKeyFile (the key all peer routers authenticate their load gossip with)");
  // Sharing with peers needs every worker's counts in the primary.
  if (cfg.loadListen && cfg.shareLoadMs === 0) cfg.shareLoadMs = 2;
  // Resolved here, so the workers get the list itself and a bad entry stops the start.
  if (!cfg.trustedProxies) cfg.trustedProxies = defaultTrustedProxies(cfg).join(",");
  trustedProxyList(splitList(cfg.trustedProxies));
  return cfg;
}

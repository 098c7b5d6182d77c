// dynoform-router entry point. The primary process holds the dyno table (leases, control API,
// metrics merge) and forks one worker per core; every worker listens on the same traffic port
// (SO_REUSEPORT), receives the table as snapshots over IPC and balances on its own.
import cluster, { type Worker } from "node:cluster";
import { createServer } from "node:http";
import { Socket, type ListenOptions } from "node:net";
import { loadConfig, parseHostPort, peerList, type RouterConfig } from "./config";
import { createControlApi } from "./control_api";
import { ControlAuth } from "./control_auth";
import { DynoTable, type Snapshot } from "./dyno_table";
import { emptySnapshot, mergeSnapshots, renderPrometheus, type MetricsSnapshot } from "./metrics";
import { LoadGossip } from "./load_gossip";
import { inheritedListeners, type InheritedListeners } from "./listen_fds";
import { Proxy } from "./proxy";
import { defaultTrustedProxies, trustedProxyList } from "./trusted_proxies";

type ToWorker = { t: "snapshot"; s: Snapshot } | { t: "remote"; l: Array<[string, number]> } | { t: "metrics"; id: number } | { t: "shutdown"; graceMs: number };
type ToPrimary = { t: "listening" } | { t: "load"; l: Array<[string, number]> } | { t: "metrics"; id: number; m: MetricsSnapshot } | { t: "fatal"; error: string };

const CONFIG_ENV = "DYNOFORM_ROUTER_WORKER_CONFIG";
/** In a worker: the fd of the traffic socket inherited from systemd (through the primary), if any. */
const LISTEN_FD_ENV = "DYNOFORM_ROUTER_LISTEN_FD";
/** A worker's fds: 0-2 stdio, 3 the cluster IPC channel, 4 the inherited traffic socket. */
const WORKER_LISTEN_FD = 4;
const SHUTDOWN_GRACE_MS = 30_000;
const DRAIN_LINGER_MS = 300;

function log(msg: string): void {
  process.stderr.write(`dynoform-router[${cluster.isPrimary ? "primary" : `worker ${cluster.worker?.id}`}] ${msg}\n`);
}

function primary(cfg: RouterConfig, inherited: InheritedListeners): void {
  if (inherited.traffic !== undefined) {
    // Every worker gets its own copy of the systemd socket and accepts on it itself (the primary
    // keeps its copy, so a replaced worker gets one again).
    cluster.setupPrimary({ stdio: ["inherit", "inherit", "inherit", "ipc", inherited.traffic] });
  }
  if (!cfg.token) log("warning: no token configured; only dyno hosts' credentials (agents) are accepted on /v1");
  if (cfg.agents.length === 0) log("no agents configured: only the control token registers dynos");
  const ready = new Set<Worker>();
  const table = new DynoTable((s) => broadcast({ t: "snapshot", s }), cfg.stateFile);
  table.startSweeping(Math.min(250, Math.max(10, Math.floor(cfg.leaseMs / 10))));
  let stopping = false;
  let metricsSeq = 0;
  const pending = new Map<number, { left: number; got: MetricsSnapshot[]; done: () => void }>();

  function send(w: Worker, m: ToWorker): void {
    if (w.isConnected()) w.send(m);
  }
  function broadcast(m: ToWorker): void {
    for (const w of Object.values(cluster.workers ?? {})) if (w) send(w, m);
  }
  // Shared load: per worker, its in-flight count per dyno; each worker is told the sum of the
  // others' plus what the peer instances report (load_gossip.ts).
  const loads = new Map<Worker, Map<string, number>>();
  const gossip = cfg.loadListen
    ? new LoadGossip(cfg.loadListen, peerList(cfg.peers), cfg.gossipKey, (keys) => pushRemote(keys, undefined), log)
    : undefined;
  function pushRemote(keys: string[], except: Worker | undefined): void {
    for (const w of Object.values(cluster.workers ?? {})) {
      if (!w || w === except) continue;
      const out: Array<[string, number]> = [];
      for (const k of keys) {
        let sum = gossip ? gossip.peerLoad(k) : 0;
        for (const [ow, m] of loads) if (ow !== w) sum += m.get(k) ?? 0;
        out.push([k, sum]);
      }
      send(w, { t: "remote", l: out });
    }
  }
  function shareLoad(from: Worker, changes: Array<[string, number]>): void {
    let mine = loads.get(from);
    if (!mine) loads.set(from, (mine = new Map()));
    for (const [k, n] of changes) mine.set(k, n);
    const keys = changes.map(([k]) => k);
    if (gossip) {
      gossip.publish(keys.map((k) => {
        let total = 0;
        for (const m of loads.values()) total += m.get(k) ?? 0;
        return [k, total] as [string, number];
      }));
    }
    pushRemote(keys, from);
  }
  cluster.on("exit", (w) => {
    const gone = loads.get(w);
    loads.delete(w);
    if (gone && gone.size) {
      const zero: Array<[string, number]> = [...gone.keys()].map((k) => [k, 0]);
      for (const [k] of zero) gone.set(k, 0);
      loads.set(w, gone);
      shareLoad(w, zero);
      loads.delete(w);
    }
  });
  const restarts: number[] = [];
  function fork(): void {
    const w = cluster.fork({
      [CONFIG_ENV]: JSON.stringify(cfg),
      ...(inherited.traffic !== undefined ? { [LISTEN_FD_ENV]: String(WORKER_LISTEN_FD) } : {}),
    });
    w.on("message", (m: ToPrimary) => {
      if (m.t === "listening") {
        ready.add(w);
        if (ready.size === cfg.workers) {
          const how = (fd: number | undefined, addr: string) => (fd === undefined ? addr : `inherited fd ${fd} (systemd socket)`);
          log(`ready: traffic on ${how(inherited.traffic, cfg.listen)}, control on ${how(inherited.control, cfg.controlListen)}, ${cfg.workers} workers`);
        }
      } else if (m.t === "load") {
        shareLoad(w, m.l);
      } else if (m.t === "metrics") {
        const p = pending.get(m.id);
        if (p) {
          p.got.push(m.m);
          if (--p.left === 0) p.done();
        }
      } else if (m.t === "fatal") {
        log(`worker failed: ${m.error}`);
        process.exitCode = 1;
        shutdown();
      }
    });
    w.on("online", () => send(w, { t: "snapshot", s: table.snapshot() }));
  }
  cluster.on("exit", (w, code, signal) => {
    ready.delete(w);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit();
      return;
    }
    log(`worker ${w.id} exited (${signal ?? code}); starting another`);
    const now = Date.now();
    restarts.push(now);
    while (restarts.length && restarts[0] < now - 60_000) restarts.shift();
    setTimeout(fork, restarts.length > 5 ? 1000 : 0);
  });
  for (let i = 0; i < cfg.workers; i++) fork();

  const metrics = (): Promise<string> =>
    new Promise((resolve) => {
      const ws = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
      const id = ++metricsSeq;
      const entry = { left: ws.length, got: [] as MetricsSnapshot[], done: () => undefined as void };
      const finish = () => {
        pending.delete(id);
        clearTimeout(timer);
        const snap = table.snapshot();
        resolve(renderPrometheus(entry.got.length ? mergeSnapshots(entry.got) : emptySnapshot(), {
          apps: new Set([...snap.apps.map((a) => a.name), ...snap.dynos.map((d) => d.app)]).size,
          dynos: snap.dynos.length,
          workers: ready.size,
          ...(gossip ? { gossipRejected: gossip.rejected() } : {}),
        }));
      };
      entry.done = finish;
      const timer = setTimeout(finish, 1000);
      pending.set(id, entry);
      if (ws.length === 0) return finish();
      for (const w of ws) send(w, { t: "metrics", id });
    });

  const api = createControlApi({
    table,
    auth: new ControlAuth(cfg.token, cfg.agents),
    defaultLeaseMs: cfg.leaseMs,
    metrics,
    health: () => ({ workers: cfg.workers, workersReady: ready.size }),
  });
  const { host, port } = parseHostPort(cfg.controlListen);
  api.on("error", (e) => {
    log(`control api: ${e.message}`);
    process.exit(1);
  });
  if (inherited.control !== undefined) api.listen({ fd: inherited.control });
  else api.listen(port, host);

  function shutdown(): void {
    if (stopping) return;
    stopping = true;
    log("shutting down: draining workers");
    table.stop();
    gossip?.close();
    // The next process (an upgrade) starts with every live dyno instead of waiting for renewals.
    table.persist();
    api.close();
    broadcast({ t: "shutdown", graceMs: SHUTDOWN_GRACE_MS });
    setTimeout(() => process.exit(), SHUTDOWN_GRACE_MS + 2000).unref();
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit();
  }
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

function worker(cfg: RouterConfig): void {
  const proxy = new Proxy(cfg);
  const server = createServer(
    {
      maxHeaderSize: 64 * 1024,
      headersTimeout: cfg.clientHeaderTimeoutMs,
      requestTimeout: Math.max(cfg.clientRequestTimeoutMs, cfg.clientHeaderTimeoutMs),
      keepAliveTimeout: cfg.clientKeepAliveMs,
      connectionsCheckingInterval: Math.min(1000, cfg.clientHeaderTimeoutMs),
      requireHostHeader: true,
      insecureHTTPParser: false,
      noDelay: true,
    },
    (req, res) => proxy.handle(req, res),
  );
  server.maxHeadersCount = cfg.maxHeaders + 1;
  server.on("checkContinue", (req, res) => {
    res.writeContinue();
    proxy.handle(req, res);
  });
  server.on("upgrade", (req, socket, head) => proxy.upgrade(req, socket as import("node:net").Socket, head));
  server.on("clientError", (err, socket) => proxy.clientError(err as NodeJS.ErrnoException, socket as import("node:net").Socket));
  const toPrimary = (m: ToPrimary) => process.send?.(m);
  process.on("message", (m: ToWorker) => {
    if (m.t === "snapshot") {
      proxy.applySnapshot(m.s);
      // Listen only once the table is known: a request must never see an empty table after a restart.
      if (!listening) startListening();
    }
    else if (m.t === "remote") proxy.applyRemote(m.l);
    else if (m.t === "metrics") toPrimary({ t: "metrics", id: m.id, m: proxy.metricsSnapshot() });
    else if (m.t === "shutdown") {
      // Stop accepting (with a systemd socket, new connections wait in its accept queue for the
      // next process), answer what is in flight with "Connection: close", close idle keep-alive
      // connections, then cut WebSocket tunnels once no plain request is left.
      // For DRAIN_LINGER_MS first keep accepting, so busy keep-alive connections learn of the close
      // from a response rather than race a close of ours (only long-idle ones are closed blindly).
      proxy.startDraining();
      setTimeout(() => {
        server.close(() => {
          proxy.log.flush();
          process.exit(0);
        });
        server.closeIdleConnections();
        const t = setInterval(() => {
          server.closeIdleConnections();
          if (proxy.inflightRequests === 0) proxy.closeTunnels();
        }, 50);
        t.unref();
      }, DRAIN_LINGER_MS);
      setTimeout(() => {
        proxy.log.flush();
        process.exit(0);
      }, m.graceMs).unref();
    }
  });
  if (cfg.shareLoadMs > 0 && (cfg.workers > 1 || cfg.loadListen)) {
    setInterval(() => {
      const l = proxy.loadChanges();
      if (l.length) toPrimary({ t: "load", l });
    }, cfg.shareLoadMs);
  }
  // The primary dying takes the workers with it.
  process.on("disconnect", () => process.exit(0));
  server.on("error", (e) => {
    toPrimary({ t: "fatal", error: `listen ${cfg.listen}: ${e.message}` });
    setTimeout(() => process.exit(1), 100);
  });
  let listening = false;
  function startListening(): void {
    listening = true;
    const inheritedFd = process.env[LISTEN_FD_ENV];
    if (inheritedFd) {
      // Wrap the inherited listening socket in a handle and listen on it here (exclusive: the
      // cluster primary is not involved; the kernel spreads connections over the workers).
      const s = new Socket({ fd: Number(inheritedFd), readable: false, writable: false });
      const handle = (s as unknown as { _handle: unknown })._handle;
      (s as unknown as { _handle: unknown })._handle = null;
      server.listen({ _handle: handle } as unknown as ListenOptions, () => toPrimary({ t: "listening" }));
      return;
    }
    const { host, port } = parseHostPort(cfg.listen);
    server.listen({ host, port, reusePort: true, exclusive: true } as ListenOptions, () => toPrimary({ t: "listening" }));
  }
}

function main(): void {
  if (cluster.isPrimary) {
    let cfg: RouterConfig;
    try {
      // A single executable sees its own path as argv[1] too.
      const args = process.argv.slice(2).filter((a, i) => !(i === 0 && a === process.execPath));
      if (args.includes("--help") || args.includes("-h")) {
        process.stdout.write("usage: dynoform-router [--config FILE] [--listen HOST:PORT] [--control-listen HOST:PORT] [--token-file FILE] [--workers N] [--platform-domain DOMAIN] ...\nSee packages/router/README.md for every key.\n");
        return;
      }
      cfg = loadConfig(args, process.env);
      // Resolved here, so the workers get the list itself and a bad entry stops the start.
      if (!cfg.trustedProxies) cfg.trustedProxies = defaultTrustedProxies(cfg).join(",");
      trustedProxyList(peerList(cfg.trustedProxies));
    } catch (e) {
      process.stderr.write(`dynoform-router: ${(e as Error).message}\n`);
      process.exit(2);
    }
    primary(cfg, inheritedListeners(process.env, process.pid));
  } else {
    worker(JSON.parse(process.env[CONFIG_ENV] ?? "{}") as RouterConfig);
  }
}

main();

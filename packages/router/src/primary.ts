// The primary process: holds the dyno table (leases, control API, state file), forks and replaces
// the workers, sends them the table's snapshots, merges their metrics, and carries the shared load
// between them and the peer instances.
import cluster, { type Worker } from "node:cluster";
import { isSea } from "node:sea";
import { parseHostPort } from "./addresses";
import type { RouterConfig } from "./config";
import { createControlApi } from "./control_api";
import { ControlAuth } from "./control_auth";
import { DynoTable } from "./dyno_table";
import { WORKER_CONFIG_ENV, WORKER_LISTEN_FD, WORKER_LISTEN_FD_ENV, type ToPrimary, type ToWorker } from "./ipc";
import type { InheritedListeners } from "./listen_fds";
import { emptySnapshot, mergeSnapshots, renderPrometheus, type MetricsSnapshot } from "./metrics";
import { SharedLoad } from "./shared_load";

const SHUTDOWN_GRACE_MS = 30_000;

function log(msg: string): void {
  process.stderr.write(`dynoform-router[primary] ${msg}\n`);
}

export function primary(cfg: RouterConfig, inherited: InheritedListeners): void {
  // The single executable starts every process with its own Node options (package.json's
  // execArgv): a worker is not given them again as arguments.
  if (isSea()) cluster.setupPrimary({ execArgv: [] });
  if (inherited.traffic !== undefined) {
    // Every worker gets its own copy of the systemd socket and accepts on it itself (the primary
    // keeps its copy, so a replaced worker gets one again).
    cluster.setupPrimary({ stdio: ["inherit", "inherit", "inherit", "ipc", inherited.traffic] });
  }
  if (!cfg.token) log("warning: no token configured; only dyno hosts' credentials (agents) are accepted on /v1");
  if (cfg.agents.length === 0) log("no agents configured: only the control token registers dynos");
  const ready = new Set<Worker>();
  const workers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
  const table = new DynoTable((snapshot) => broadcast({ kind: "snapshot", snapshot }), cfg.stateFile);
  table.startSweeping(Math.min(250, Math.max(10, Math.floor(cfg.leaseMs / 10))));
  let stopping = false;
  let metricsSeq = 0;
  const pending = new Map<number, { left: number; got: MetricsSnapshot[]; done: () => void }>();

  function send(w: Worker, m: ToWorker): void {
    if (w.isConnected()) w.send(m);
  }
  function broadcast(m: ToWorker): void {
    for (const w of workers()) send(w, m);
  }
  const load = new SharedLoad(cfg, workers, (w, loads) => send(w, { kind: "remoteLoad", loads }), log);
  cluster.on("exit", (w) => load.forget(w));
  const restarts: number[] = [];
  function fork(): void {
    const w = cluster.fork({
      [WORKER_CONFIG_ENV]: JSON.stringify(cfg),
      ...(inherited.traffic !== undefined ? { [WORKER_LISTEN_FD_ENV]: String(WORKER_LISTEN_FD) } : {}),
    });
    w.on("message", (m: ToPrimary) => {
      if (m.kind === "listening") {
        ready.add(w);
        if (ready.size === cfg.workers) {
          const how = (fd: number | undefined, addr: string) => (fd === undefined ? addr : `inherited fd ${fd} (systemd socket)`);
          log(`ready: traffic on ${how(inherited.traffic, cfg.listen)}, control on ${how(inherited.control, cfg.controlListen)}, ${cfg.workers} workers`);
        }
      } else if (m.kind === "load") {
        load.update(w, m.loads);
      } else if (m.kind === "metrics") {
        const p = pending.get(m.id);
        if (p) {
          p.got.push(m.metrics);
          if (--p.left === 0) p.done();
        }
      } else if (m.kind === "fatal") {
        log(`worker failed: ${m.error}`);
        process.exitCode = 1;
        shutdown();
      }
    });
    w.on("online", () => send(w, { kind: "snapshot", snapshot: table.snapshot() }));
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
      const ws = workers().filter((w) => w.isConnected());
      const id = ++metricsSeq;
      const entry = { left: ws.length, got: [] as MetricsSnapshot[], done: () => undefined as void };
      const finish = () => {
        pending.delete(id);
        clearTimeout(timer);
        const snap = table.snapshot();
        const gossipRejected = load.gossipRejected();
        resolve(renderPrometheus(entry.got.length ? mergeSnapshots(entry.got) : emptySnapshot(), {
          apps: new Set([...snap.apps.map((a) => a.name), ...snap.dynos.map((d) => d.app)]).size,
          dynos: snap.dynos.length,
          workers: ready.size,
          ...(gossipRejected ? { gossipRejected } : {}),
        }));
      };
      entry.done = finish;
      const timer = setTimeout(finish, 1000);
      pending.set(id, entry);
      if (ws.length === 0) return finish();
      for (const w of ws) send(w, { kind: "metrics", id });
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
    load.close();
    // The next process (an upgrade) starts with every live dyno instead of waiting for renewals.
    table.persist();
    api.close();
    broadcast({ kind: "shutdown", graceMs: SHUTDOWN_GRACE_MS });
    setTimeout(() => process.exit(), SHUTDOWN_GRACE_MS + 2000).unref();
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit();
  }
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

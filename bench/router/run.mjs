#!/usr/bin/env node
// npm run bench:router — dynoform-router against nginx (proxy_pass, keepalive upstream) and HAProxy
// (leastconn), all on 127.0.0.1, each started here with its own temporary config. Prints figures
// as name=value lines at the end. See packages/router/README.md ("Benchmarks") for what each means.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { request as httpRequest } from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, procs, start, stop, stopAll } from "../lib/processes.mjs";
import { wrk } from "../lib/wrk.mjs";
import { serviceMs } from "./dyno.mjs";
import { probe, startRecordingBackend } from "./hostile.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const require = createRequire(join(root, "packages/router/package.json"));
const { Pool } = require("undici");

const QUICK = process.env.BENCH_QUICK === "1";
const THROUGHPUT_S = QUICK ? 4 : 8;
const LATENCY_S = QUICK ? 3 : 6;
const BALANCE_S = QUICK ? 6 : 12;
const DYNOS = 10;
// Two instances share this machine's cores: one worker each keeps the total at one per core, as two
// edge hosts with a core each would have (more workers than cores measures CPU scheduling, not balancing).
const TWO_INSTANCE_WORKERS = Number(process.env.BENCH_TWO_INSTANCE_WORKERS ?? 1);
// BENCH_ROUTER_BIN: another build of the router (e.g. the previous commit's) for an A/B comparison.
const BIN = process.env.BENCH_ROUTER_BIN ?? join(root, "packages/router/dist/dynoform-router");
const tmp = mkdtempSync(join(tmpdir(), "dynoform-bench-router-"));
const figures = [];
const t0 = Date.now();
const say = (m) => process.stdout.write(`[bench:router +${((Date.now() - t0) / 1000).toFixed(0)}s] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const figure = (name, value) => figures.push(`${name}=${value}`);

function need(cmd) {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
  } catch {
    throw new Error(`${cmd} is not installed (see packages/router/DEBIAN_PACKAGES)`);
  }
}

async function waitHttp(port, host = "x", timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise((res) => {
      const r = httpRequest({ host: "127.0.0.1", port, path: "/", headers: { Host: host }, agent: false }, (resp) => {
        resp.resume();
        resp.on("end", () => res(resp.statusCode));
      });
      r.on("error", () => res(0));
      r.setTimeout(1000, () => r.destroy());
      r.end();
    });
    if (ok) return ok;
    await sleep(50);
  }
  throw new Error(`nothing answers on 127.0.0.1:${port}`);
}

/** All pids of a process tree. */
function tree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const task of safeReaddir(`/proc/${out[i]}/task`)) {
      const kids = safeRead(`/proc/${out[i]}/task/${task}/children`).trim();
      if (kids) out.push(...kids.split(/\s+/).map(Number));
    }
  }
  return out;
}
const safeReaddir = (p) => { try { return readdirSync(p); } catch { return []; } };
const safeRead = (p) => { try { return readFileSync(p, "utf8"); } catch { return ""; } };
/** utime + stime of a process tree, in seconds (clock ticks are 100 Hz on Linux). */
function cpuSeconds(pid) {
  let ticks = 0;
  for (const p of tree(pid)) {
    const s = safeRead(`/proc/${p}/stat`);
    if (!s) continue;
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / 100;
}

function wrkThroughput(port, seconds, host) {
  const { total, rps, errors } = wrk({ url: `http://127.0.0.1:${port}/`, connections: 64, seconds, headers: [`Host: ${host}`] });
  if (errors) throw new Error(`wrk saw ${errors} error responses`);
  return { total, rps };
}

/** wrk paced to about `rate` req/s (32 connections, each waiting a random 0..2d ms between requests). */
function pacedWrk(port, rate, seconds) {
  const conns = 32;
  const d = (conns / rate) * 1000;
  const lua = join(tmp, "paced.lua");
  writeFileSync(lua, `function delay() return math.random(0, ${Math.max(0, Math.round(2 * d))}) end\n`);
  const { p50, p99, errors, rps } = wrk({ url: `http://127.0.0.1:${port}/`, connections: conns, seconds, script: lua, headers: ["Host: bench.example"] });
  return { p50, p99, errors, achieved: rps };
}

/** A seeded uniform [0, 1) generator (mulberry32): the same sequence in every policy's run. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const BALANCE_SEED = Number(process.env.BENCH_SEED ?? 11);

/** Open-loop load: `rate` requests/s (Poisson when poisson, else evenly spaced) for `seconds`; with
 * `serviceTimes`, request i asks the dyno for `/?ms=<its service time>` and arrivals come from the
 * seeded generator too, so every policy gets the same load. */
async function openLoop({ port, host, rate, seconds, poisson = false, connections = 128, ports, serviceTimes }) {
  const pools = (ports ?? [port]).map((p) => new Pool(`http://127.0.0.1:${p}`, { connections, pipelining: 1, keepAliveTimeout: 30_000 }));
  const lat = [];
  /** Latency minus the dyno's own service time (X-Service-Ms), where the dyno says it. */
  const waits = [];
  let errors = 0;
  let sent = 0;
  let outstanding = 0;
  const total = Math.round(rate * seconds);
  const arrivals = new Float64Array(total);
  let t = 0;
  const rnd = serviceTimes ? seeded(BALANCE_SEED) : Math.random;
  for (let i = 0; i < total; i++) {
    t += poisson ? -Math.log(1 - rnd()) / rate : 1 / rate;
    arrivals[i] = t * 1000;
  }
  const begin = performance.now();
  await new Promise((resolveAll) => {
    const fire = () => {
      const pool = pools[sent % pools.length];
      sent++;
      outstanding++;
      const s = performance.now();
      const measured = sent > total * 0.2;
      const path = serviceTimes ? `/?ms=${serviceTimes[sent - 1]}` : "/";
      pool.request({ path, method: "GET", headers: { host } }).then(
        async (r) => {
          await r.body.dump();
          if (r.statusCode !== 200) errors++;
          if (!measured) return;
          const l = performance.now() - s;
          lat.push(l);
          const service = Number(r.headers["x-service-ms"]);
          if (service >= 0) waits.push(l - service);
        },
        () => errors++,
      ).finally(() => {
        outstanding--;
        if (sent === total && outstanding === 0) resolveAll();
      });
    };
    const tick = () => {
      const now = performance.now() - begin;
      while (sent < total && arrivals[sent] <= now) fire();
      if (sent < total) setTimeout(tick, Math.max(0, Math.min(1, arrivals[sent] - now)));
    };
    tick();
  });
  await Promise.all(pools.map((p) => p.close()));
  lat.sort((a, b) => a - b);
  waits.sort((a, b) => a - b);
  const q = (xs, x) => xs[Math.min(xs.length - 1, Math.floor(x * xs.length))];
  return {
    p50: q(lat, 0.5), p99: q(lat, 0.99), waitP99: waits.length ? q(waits, 0.99) : NaN,
    n: lat.length, errors, achieved: lat.length / ((performance.now() - begin) / 1000),
  };
}

// ---- the proxies -----------------------------------------------------------------------------

async function startRouter(name, dynoPorts, extra = {}) {
  const port = await freePort();
  const controlPort = await freePort();
  const token = "bench-token";
  const { dynoConcurrency, ...rest } = extra;
  const cfg = { listen: `127.0.0.1:${port}`, controlListen: `127.0.0.1:${controlPort}`, token, platformDomain: "bench.test", ...rest };
  const cfgPath = join(tmp, `${name}.json`);
  writeFileSync(cfgPath, JSON.stringify(cfg));
  const p = start(BIN, ["--config", cfgPath]);
  const api = (method, path, body) =>
    new Promise((res, rej) => {
      const r = httpRequest({ host: "127.0.0.1", port: controlPort, method, path, agent: false, headers: { Authorization: `Bearer ${token}` } }, (resp) => {
        resp.resume();
        resp.on("end", () => res(resp.statusCode));
      });
      r.on("error", rej);
      r.end(body ? JSON.stringify(body) : undefined);
    });
  const end = Date.now() + 15000;
  while (Date.now() < end) {
    if ((await api("GET", "/health").catch(() => 0)) === 200) break;
    await sleep(50);
  }
  await api("PUT", "/v1/apps/bench", { domains: ["bench.example"], queueSize: 10000 });
  for (let i = 0; i < dynoPorts.length; i++) {
    await api("PUT", `/v1/apps/bench/dynos/web.${i + 1}`, { address: `127.0.0.1:${dynoPorts[i]}`, concurrency: dynoConcurrency ?? 1000, leaseMs: 600_000 });
  }
  await waitHttp(port, "bench.example");
  return { p, port };
}

async function startNginxBackend(ports) {
  const dir = join(tmp, "nginx-backend");
  execFileSync("mkdir", ["-p", dir]);
  const conf = `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 60s;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  server { ${ports.map((p) => `listen 127.0.0.1:${p};`).join(" ")} location / { default_type text/plain; return 200 "hello world\\n"; } } }`;
  writeFileSync(join(dir, "nginx.conf"), conf);
  const p = start("nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")]);
  await waitHttp(ports[0]);
  return p;
}

/** `extra`: more directives for the http block (the hostile probe's client timeouts). */
async function startNginxProxy(dynoPorts, extra = "") {
  const port = await freePort();
  const dir = join(tmp, "nginx-proxy");
  execFileSync("mkdir", ["-p", dir]);
  const conf = `worker_processes auto; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http { access_log /dev/null; keepalive_requests 1000000; keepalive_timeout 60s;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; ${extra}
  upstream dynos { ${dynoPorts.map((p) => `server 127.0.0.1:${p};`).join(" ")} keepalive 64; }
  server { listen 127.0.0.1:${port};
    location / { proxy_pass http://dynos; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Request-Start $msec; } } }`;
  writeFileSync(join(dir, "nginx.conf"), conf);
  const p = start("nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")]);
  await waitHttp(port, "bench.example");
  return { p, port };
}

/** `extra`: more lines for the defaults section (the hostile probe's client timeouts); `maxconn`:
 * per-server limit (1: one central queue in HAProxy, what the router's cap 1 + queue does). */
async function startHaproxy(dynoPorts, extra = "", maxconn = 0) {
  const port = await freePort();
  const conf = `global
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout queue 30s
  option http-keep-alive
${extra}
frontend f
  bind 127.0.0.1:${port}
  default_backend dynos
backend dynos
  balance leastconn
  http-reuse always
${dynoPorts.map((p, i) => `  server d${i + 1} 127.0.0.1:${p}${maxconn ? ` maxconn ${maxconn}` : ""}`).join("\n")}
`;
  const cfgPath = join(tmp, `haproxy-${port}.cfg`);
  writeFileSync(cfgPath, conf);
  const p = start("haproxy", ["-db", "-f", cfgPath]);
  await waitHttp(port, "bench.example");
  return { p, port };
}

async function throughput(label, proxy) {
  wrkThroughput(proxy.port, 1, "bench.example"); // warm up
  const c0 = cpuSeconds(proxy.p.pid);
  const { total, rps } = wrkThroughput(proxy.port, THROUGHPUT_S, "bench.example");
  const cpu = cpuSeconds(proxy.p.pid) - c0;
  const perCpu = total / cpu;
  say(`${label}: ${rps.toFixed(0)} req/s, ${cpu.toFixed(2)} CPU-s for ${total} requests = ${perCpu.toFixed(0)} req per CPU-second`);
  return { rps, perCpu };
}

async function main() {
  for (const c of ["nginx", "haproxy", "wrk"]) need(c);
  if (!existsSync(BIN)) {
    say("building the router binary");
    execFileSync(process.execPath, [join(root, "scripts/build-binaries.mjs"), "--only", "dynoform-router"], { stdio: "inherit" });
  }

  const only = process.env.BENCH_ONLY;
  if (only === "hostile") return hostile();
  if (only !== "balance") await efficiencyAndLatency();
  if (only !== "efficiency") await balancing();
  if (!only) await hostile();
}

// Client timeouts of every target in the hostile probe: short, so slow clients are judged in
// seconds (each server's own defaults are 10-60 s); the same 2 s for headers everywhere, and each
// server's own way to bound a body (the router: the whole request in 4 s).
const HOSTILE_ROUTER = { clientHeaderTimeoutMs: 2000, clientRequestTimeoutMs: 4000 };
const HOSTILE_NGINX = "client_header_timeout 2s; client_body_timeout 2s;";
const HOSTILE_HAPROXY = "  timeout http-request 2s";

async function hostile() {
  // 4. Hostile HTTP: raw-socket cases against the router, nginx and HAProxy, each in front of its
  // own recording backend (hostile.mjs, hostile_cases.mjs).
  const backends = [];
  const backend = async () => {
    const b = await startRecordingBackend();
    backends.push(b);
    return b;
  };
  const targets = [];
  const rb = await backend();
  targets.push({ name: "router", backend: rb, ...(await startRouter("router-hostile", [rb.port], { accessLog: false, ...HOSTILE_ROUTER })) });
  const nb = await backend();
  targets.push({ name: "nginx", backend: nb, ...(await startNginxProxy([nb.port], HOSTILE_NGINX)) });
  const hb = await backend();
  targets.push({ name: "haproxy", backend: hb, ...(await startHaproxy([hb.port], HOSTILE_HAPROXY)) });
  say("hostile HTTP probe: router, nginx and HAProxy in parallel");
  const results = await probe(targets);
  for (const t of targets) await stop(t.p);
  for (const b of backends) await b.close();
  for (const t of targets) {
    const r = results[t.name];
    figure(`hostile_http_passed_${t.name}`, `${r.passed}/${r.total}`);
    for (const f of r.failed) process.stderr.write(`hostile_http failed ${t.name} ${f.name}: ${f.why.join("; ")}\n`);
  }
  figure("hostile_http_passed", `${results.router.passed}/${results.router.total}`);
}

async function efficiencyAndLatency() {
  // 1. Efficiency: requests per CPU-second of the proxy, against fast nginx-served dynos.
  const fastPorts = [];
  for (let i = 0; i < 4; i++) fastPorts.push(await freePort());
  const backend = await startNginxBackend(fastPorts);
  say(`fast dynos (nginx, return 200) on ${fastPorts.join(", ")}`);
  // The router with its default number of workers, then with one (the same config otherwise).
  const one = await startRouter("router-fast-1worker", fastPorts, { accessLog: true, workers: 1 });
  const rt1 = await throughput("dynoform-router (1 worker)", one);
  await stop(one.p);
  const router = await startRouter("router-fast", fastPorts, { accessLog: true });
  const rt = await throughput("dynoform-router (default workers)", router);
  const ngx = await startNginxProxy(fastPorts);
  const nt = await throughput("nginx proxy_pass", ngx);
  await stop(ngx.p);
  figure("router_rps_per_cpu", rt.perCpu.toFixed(0));
  figure("nginx_rps_per_cpu", nt.perCpu.toFixed(0));
  figure("router_max_rps", rt.rps.toFixed(0));
  figure("router_max_rps_1worker", rt1.rps.toFixed(0));
  figure("router_rps_per_cpu_vs_nginx", (rt.perCpu / nt.perCpu).toFixed(2));
  figure("router_rps_per_cpu_vs_nginx_1worker", (rt1.perCpu / nt.perCpu).toFixed(2));

  // 2. Latency the router adds at half its max rate (open loop), vs going to the dyno directly.
  const rate = Math.max(100, Math.round(rt.rps / 2));
  say(`latency at ${rate} req/s (half the router's max), open loop, ${LATENCY_S}s each`);
  const direct = pacedWrk(fastPorts[0], rate, LATENCY_S);
  const via = pacedWrk(router.port, rate, LATENCY_S);
  say(`achieved ${direct.achieved.toFixed(0)} / ${via.achieved.toFixed(0)} req/s; direct p50=${direct.p50.toFixed(3)} p99=${direct.p99.toFixed(3)} ms; via router p50=${via.p50.toFixed(3)} p99=${via.p99.toFixed(3)} ms (errors ${direct.errors}/${via.errors})`);
  figure("router_added_p50_ms", Math.max(0, via.p50 - direct.p50).toFixed(3));
  figure("router_added_p99_ms", Math.max(0, via.p99 - direct.p99).toFixed(3));
  await stop(router.p);
  await stop(backend);
}

async function balancing() {
  // 3. Balancing quality: one-at-a-time dynos with heavy-tailed service times at 70% of capacity.
  const base = 31000 + Math.floor(Math.random() * 2000);
  const dynoPorts = Array.from({ length: DYNOS }, (_, i) => base + i);
  const dynos = start(process.execPath, [join(here, "dyno.mjs"), String(base), String(DYNOS)], { stdout: "pipe" });
  await new Promise((res, rej) => {
    dynos.stdout.on("data", (c) => String(c).includes("ready") && res());
    dynos.once("exit", () => rej(new Error(`dynos exited: ${dynos.errText()}`)));
  });
  const meanMs = 0.897 * 5 + 0.1 * 30 + 0.003 * 1000;
  const offered = Math.round(0.7 * DYNOS * (1000 / meanMs));
  const draw = seeded(BALANCE_SEED + 1);
  const serviceTimes = Array.from({ length: Math.round(offered * BALANCE_S) }, () => serviceMs(draw()));
  say(`${DYNOS} one-at-a-time dynos, mean service ${meanMs} ms, offered ${offered} req/s (70%), ${BALANCE_S}s per policy`);
  const policy = async (label, fig, mk, waitFig) => {
    const proxies = await mk();
    const r = await openLoop({ ports: proxies.map((x) => x.port), host: "bench.example", rate: offered, seconds: BALANCE_S, poisson: true, connections: 512, serviceTimes });
    for (const x of proxies) await stop(x.p);
    say(`${label}: p50=${r.p50.toFixed(1)} p99=${r.p99.toFixed(1)} ms, wait p99=${r.waitP99.toFixed(1)} ms (${r.n} requests, ${r.errors} errors)`);
    if (fig) figure(fig, r.p99.toFixed(1));
    if (waitFig) figure(waitFig, r.waitP99.toFixed(1));
    return r;
  };
  // Queue wait (latency minus the dyno's service time): one instance with the default workers, with
  // one worker, with one per CPU, and HAProxy as one central queue (leastconn + maxconn 1 + queue).
  const cpus = availableParallelism();
  const p2cRun = await policy("router (P2C + cap 1 + queue, default workers)", "p99_ms_router", async () => [await startRouter("router-p2c", dynoPorts, { dynoConcurrency: 1, accessLog: false })], "router_wait_p99_ms_1instance");
  const p2c = p2cRun.p99;
  const wait1 = await policy("router, 1 worker", undefined, async () => [await startRouter("router-p2c-1w", dynoPorts, { dynoConcurrency: 1, accessLog: false, workers: 1 })], "router_wait_p99_ms_1worker");
  const waitN = cpus > 1
    ? await policy(`router, ${cpus} workers (one per CPU)`, undefined, async () => [await startRouter("router-p2c-nw", dynoPorts, { dynoConcurrency: 1, accessLog: false, workers: cpus })], "router_wait_p99_ms_cpu_workers")
    : undefined;
  if (cpus > 1) {
    await policy(`router, ${cpus} workers sharing counts (shareLoadMs 2)`, undefined, async () => [await startRouter("router-p2c-nws", dynoPorts, { dynoConcurrency: 1, accessLog: false, workers: cpus, shareLoadMs: 2 })], "router_wait_p99_ms_cpu_workers_shared");
  }
  const hq = await policy("haproxy leastconn + maxconn 1 + queue", undefined, async () => [await startHaproxy(dynoPorts, "", 1)], "haproxy_queue_wait_p99_ms");
  // Two instances that tell each other their in-flight counts (peers/loadListen, UDP), as deployed.
  const twoRun = await policy("two router instances (sharing load)", "p99_ms_router_2instances", async () => {
    const [ua, ub] = [await freePort(), await freePort()];
    return [
      await startRouter("router-a", dynoPorts, { dynoConcurrency: 1, accessLog: false, workers: TWO_INSTANCE_WORKERS, loadListen: `127.0.0.1:${ua}`, peers: `127.0.0.1:${ub}`, gossipKey: "bench-gossip-key" }),
      await startRouter("router-b", dynoPorts, { dynoConcurrency: 1, accessLog: false, workers: TWO_INSTANCE_WORKERS, loadListen: `127.0.0.1:${ub}`, peers: `127.0.0.1:${ua}`, gossipKey: "bench-gossip-key" }),
    ];
  });
  // For reference: the same two instances each balancing on its own counts only.
  await policy("two router instances (independent)", "p99_ms_router_2instances_independent", async () => [
    await startRouter("router-c", dynoPorts, { dynoConcurrency: 1, accessLog: false, workers: TWO_INSTANCE_WORKERS }),
    await startRouter("router-d", dynoPorts, { dynoConcurrency: 1, accessLog: false, workers: TWO_INSTANCE_WORKERS }),
  ]);
  const rnd = (await policy("random", "p99_ms_random", async () => [await startRouter("router-random", dynoPorts, { balancer: "random", accessLog: false })])).p99;
  await policy("round robin", "p99_ms_roundrobin", async () => [await startRouter("router-rr", dynoPorts, { balancer: "roundrobin", accessLog: false })]);
  const lc = (await policy("haproxy leastconn", "p99_ms_haproxy_leastconn", async () => [await startHaproxy(dynoPorts)])).p99;
  await stop(dynos);
  figure("router_vs_random_p99_speedup", (rnd / p2c).toFixed(2));
  figure("router_vs_haproxy_p99_ratio", (p2c / lc).toFixed(2));
  figure("router_2instances_vs_haproxy_p99_ratio", (twoRun.p99 / lc).toFixed(2));
  figure("router_wait_1instance_vs_haproxy_queue", (p2cRun.waitP99 / hq.waitP99).toFixed(2));
  figure("router_wait_1worker_vs_haproxy_queue", (wait1.waitP99 / hq.waitP99).toFixed(2));
  if (waitN) figure("router_wait_cpu_workers_vs_haproxy_queue", (waitN.waitP99 / hq.waitP99).toFixed(2));
}

const cleanup = async () => {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
};
process.on("SIGINT", () => cleanup().then(() => process.exit(130)));
main()
  .then(cleanup)
  .then(() => {
    say("done");
    process.stdout.write(figures.join("\n") + "\n");
  })
  .catch(async (e) => {
    process.stderr.write(`bench:router failed: ${e.stack ?? e}\n`);
    for (const p of procs) if (p.errText()) process.stderr.write(p.errText().slice(-2000));
    await cleanup();
    process.stdout.write(figures.join("\n") + "\n");
    process.exit(1);
  });

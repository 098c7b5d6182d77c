#!/usr/bin/env node
// npm run bench:logs — the log router (packages/logplex) against rsyslog, all on 127.0.0.1, each
// started here with its own temporary config, data and pid files. Prints name=value lines at the
// end; see packages/logplex/README.md ("Benchmarks") for what each means.
//   log_lines_per_cpu_s      lines in from a sender (compact batches, log_batch.ts) -> out to one TCP syslog drain,
//                            per second of the log router's own CPU (utime+stime from /proc)
//   rsyslog_lines_per_cpu_s  rsyslog forwarding TCP syslog in (imtcp) -> TCP syslog out (omfwd,
//                            octet-counted), per second of rsyslogd's CPU
//   logs_vs_rsyslog          the ratio (goal >= 0.5)
//   log_tail_p99_ms          line handed to the sender -> seen by a tail reader (goal < 500)
//   log_lost_lines           a flood into a drain whose receiver stops reading: lines neither
//                            received nor counted in an L10 line (goal 0)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { freePort, start, stop, stopAll } from "../lib/processes.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const QUICK = process.env.BENCH_QUICK === "1";
const THROUGHPUT_LINES = QUICK ? 50_000 : 200_000;
const FLOOD_LINES = QUICK ? 30_000 : 100_000;
const TAIL_LINES = QUICK ? 100 : 300;
const TOKEN = "bench-control-token-0123456789abcdef0123456789";
const tmp = mkdtempSync(join(tmpdir(), "dynoform-bench-logs-"));
const figures = [];
const t0 = Date.now();
const say = (m) => process.stdout.write(`[bench:logs +${((Date.now() - t0) / 1000).toFixed(0)}s] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const figure = (name, value) => figures.push(`${name}=${value}`);
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** utime + stime of a process (all its threads), in seconds. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

async function until(cond, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Bundles the log router and its sender client the way scripts/build-binaries.mjs does (without the SEA step). */
async function bundle() {
  const req = createRequire(join(root, "package.json"));
  const esbuild = await import(req.resolve("esbuild"));
  const opts = { bundle: true, platform: "node", format: "cjs", target: "node20", logLevel: "warning", tsconfig: join(root, "tsconfig.json") };
  await esbuild.build({ ...opts, entryPoints: [join(root, "packages/logplex/src/main.ts")], outfile: join(tmp, "logplex.js") });
  await esbuild.build({ ...opts, entryPoints: [join(root, "packages/logplex/src/log_sender.ts")], outfile: join(tmp, "log_sender.cjs") });
  return createRequire(import.meta.url)(join(tmp, "log_sender.cjs"));
}

/** A TCP syslog receiver that counts octet-counted frames (and the L10 counts among them); `pause()` stops reading. */
async function sink() {
  const s = { frames: 0, appFrames: 0, l10: 0, sockets: new Set(), lastData: 0 };
  const L10 = /Error L10 \(output buffer overflow\): (\d+) messages dropped/;
  s.server = net.createServer((sock) => {
    s.sockets.add(sock);
    let rest = Buffer.alloc(0);
    sock.on("data", (c) => {
      s.lastData = Date.now();
      let buf = rest.length ? Buffer.concat([rest, c]) : c;
      let off = 0;
      for (;;) {
        const sp = buf.indexOf(0x20, off);
        if (sp < 0) break;
        const len = Number(buf.toString("latin1", off, sp));
        if (sp + 1 + len > buf.length) break;
        s.frames++;
        const msg = buf.toString("utf8", sp + 1, sp + 1 + len);
        if (msg.includes(" app ")) s.appFrames++;
        else {
          const m = L10.exec(msg);
          if (m) s.l10 += Number(m[1]);
        }
        off = sp + 1 + len;
      }
      rest = buf.subarray(off);
    });
    sock.on("error", () => undefined);
    sock.on("close", () => s.sockets.delete(sock));
    if (s.paused) sock.pause();
  });
  s.pause = () => {
    s.paused = true;
    for (const x of s.sockets) x.pause();
  };
  s.resume = () => {
    s.paused = false;
    for (const x of s.sockets) x.resume();
  };
  await new Promise((r) => s.server.listen(0, "127.0.0.1", r));
  s.port = s.server.address().port;
  return s;
}

function api(port, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => (res.statusCode < 300 ? resolve(text) : reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function startLogplex(name, drainBufferLines) {
  const port = await freePort();
  const dataDir = join(tmp, name);
  mkdirSync(dataDir);
  const nodeArgs = (process.env.BENCH_LOGPLEX_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const p = start(process.execPath, [...nodeArgs, join(tmp, "logplex.js"), "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir, "--drain-buffer-lines", String(drainBufferLines), "--drain-allowed-addresses", "127.0.0.1"], { env: { DYNOFORM_LOGPLEX_TOKEN: TOKEN } });
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      await api(port, "GET", "/health");
      break;
    } catch (e) {
      if (Date.now() > end || p.exitCode !== null) throw new Error(`log router did not start: ${p.errText() || e.message}`);
      await sleep(50);
    }
  }
  return { p, port };
}

const msg = (i) => `at=info method=GET path="/items/${i}" host=bench.example.com request_id=${i.toString(16).padStart(8, "0")} fwd="10.0.0.1" dyno=web.1 connect=0ms service=3ms status=200 bytes=512 protocol=http`;

async function benchLogplex(LogSender) {
  const out = await sink();
  const { p, port } = await startLogplex("throughput", THROUGHPUT_LINES + 1000);
  await api(port, "POST", "/v1/apps/benchapp/drains", JSON.stringify({ url: `syslog://127.0.0.1:${out.port}` }));
  // The control token may post too; a sender's token behaves the same.
  const sender = new LogSender({ url: `http://127.0.0.1:${port}`, token: TOKEN, maxLines: THROUGHPUT_LINES + 1000, batchLines: 2000 });
  await sleep(200);
  const cpu0 = cpuSeconds(p.pid);
  const w0 = Date.now();
  for (let i = 0; i < THROUGHPUT_LINES; i++) {
    sender.send("benchapp", "heroku", "router", msg(i));
    if (i % 5000 === 4999) await sleep(0);
  }
  await until(() => out.frames >= THROUGHPUT_LINES, 120_000, "the drain to receive every line");
  const cpu = cpuSeconds(p.pid) - cpu0;
  const wall = (Date.now() - w0) / 1000;
  say(`log router: ${THROUGHPUT_LINES} lines in ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} s CPU; drain got ${out.frames}`);
  sender.close();
  await stop(p);
  out.server.close();
  for (const s of out.sockets) s.destroy();
  return THROUGHPUT_LINES / cpu;
}

async function benchRsyslog() {
  const out = await sink();
  const port = await freePort();
  const work = join(tmp, "rsyslog-work");
  mkdirSync(work);
  const conf = join(tmp, "rsyslog.conf");
  writeFileSync(
    conf,
    [
      `global(workDirectory="${work}")`,
      `module(load="imtcp")`,
      `input(type="imtcp" port="${port}" address="127.0.0.1")`,
      `action(type="omfwd" target="127.0.0.1" port="${out.port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")`,
      "",
    ].join("\n"),
  );
  const p = start("rsyslogd", ["-n", "-f", conf, "-i", join(tmp, "rsyslogd.pid")]);
  const sock = await (async () => {
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        return await new Promise((res, rej) => {
          const s = net.connect(port, "127.0.0.1", () => res(s));
          s.once("error", rej);
        });
      } catch (e) {
        if (Date.now() > end || p.exitCode !== null) throw new Error(`rsyslogd did not start: ${p.errText() || e.message}`);
        await sleep(50);
      }
    }
  })();
  await sleep(200);
  const ts = new Date().toISOString();
  const cpu0 = cpuSeconds(p.pid);
  const w0 = Date.now();
  let chunk = "";
  for (let i = 0; i < THROUGHPUT_LINES; i++) {
    const m = `<158>1 ${ts} benchapp heroku router - - ${msg(i)}`;
    chunk += `${Buffer.byteLength(m)} ${m}`;
    if (chunk.length > 64 * 1024 || i === THROUGHPUT_LINES - 1) {
      if (!sock.write(chunk)) await new Promise((r) => sock.once("drain", r));
      chunk = "";
    }
  }
  // omfwd's messages have no " app " field: every frame is one of ours.
  await until(() => out.frames >= THROUGHPUT_LINES, 120_000, "rsyslog to forward every line");
  const cpu = cpuSeconds(p.pid) - cpu0;
  const wall = (Date.now() - w0) / 1000;
  say(`rsyslog: ${THROUGHPUT_LINES} lines in ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} s CPU; sink got ${out.frames}`);
  sock.destroy();
  await stop(p);
  out.server.close();
  for (const s of out.sockets) s.destroy();
  return THROUGHPUT_LINES / cpu;
}

async function benchTailAndFlood(LogSender) {
  const { p, port } = await startLogplex("tail", 10_000);
  // Tail: a reader on tailapp, lines sent one every 5 ms.
  const sender = new LogSender({ url: `http://127.0.0.1:${port}`, token: TOKEN, maxLines: FLOOD_LINES + 1000 });
  const sentAt = new Map();
  const lat = [];
  const req = http.get({ host: "127.0.0.1", port, path: "/v1/apps/tailapp/logs?tail=1&num=0", headers: { authorization: `Bearer ${TOKEN}` } });
  const res = await new Promise((r) => req.on("response", r));
  res.setEncoding("utf8");
  let partial = "";
  res.on("data", (c) => {
    const parts = (partial + c).split("\n");
    partial = parts.pop();
    for (const l of parts) {
      const m = / tail-(\d+)$/.exec(l);
      if (m && sentAt.has(m[1])) lat.push(performance.now() - sentAt.get(m[1]));
    }
  });
  await sleep(100);
  for (let i = 0; i < TAIL_LINES; i++) {
    sentAt.set(String(i), performance.now());
    sender.send("tailapp", "app", "web.1", `tail-${i}`);
    await sleep(5);
  }
  await until(() => lat.length >= TAIL_LINES, 10_000, "the tail reader to see every line");
  req.destroy();
  lat.sort((a, b) => a - b);
  const p99 = lat[Math.ceil(lat.length * 0.99) - 1];
  say(`tail: ${lat.length} lines, p50 ${lat[Math.floor(lat.length / 2)].toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);

  // Flood: a drain whose receiver stops reading, FLOOD_LINES as fast as the sender goes.
  const out = await sink();
  await api(port, "POST", "/v1/apps/floodapp/drains", JSON.stringify({ url: `syslog://127.0.0.1:${out.port}` }));
  await sleep(200);
  out.pause();
  for (let i = 0; i < FLOOD_LINES; i++) {
    sender.send("floodapp", "app", "web.1", msg(i));
    if (i % 5000 === 4999) await sleep(0);
  }
  if (!(await sender.flushed(60_000))) throw new Error("the sender did not deliver the flood");
  await sleep(1500); // the log router's L10 period
  out.resume();
  await until(() => out.lastData && Date.now() - out.lastData > 1500, 60_000, "the drain to go quiet");
  const lost = FLOOD_LINES - out.appFrames - out.l10;
  say(`flood: ${FLOOD_LINES} lines, drain received ${out.appFrames}, L10 lines counted ${out.l10} dropped, sender dropped ${sender.stats.dropped}`);
  sender.close();
  await stop(p);
  out.server.close();
  for (const s of out.sockets) s.destroy();
  return { p99, lost };
}

async function main() {
  execFileSync("sh", ["-c", "command -v rsyslogd"], { stdio: "ignore" });
  say(`bundling the log router into ${tmp}`);
  const { LogSender } = await bundle();
  const logs = await benchLogplex(LogSender);
  const rsyslog = await benchRsyslog();
  const { p99, lost } = await benchTailAndFlood(LogSender);
  figure("log_lines_per_cpu_s", Math.round(logs));
  figure("rsyslog_lines_per_cpu_s", Math.round(rsyslog));
  figure("logs_vs_rsyslog", (logs / rsyslog).toFixed(2));
  figure("log_tail_p99_ms", p99.toFixed(1));
  figure("log_lost_lines", lost);
}

try {
  await main();
  process.stdout.write(figures.join("\n") + "\n");
} catch (e) {
  process.stderr.write(`bench:logs: ${e.stack ?? e}\n`);
  process.exitCode = 1;
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
  process.exit();
}

#!/usr/bin/env node
// bench:agent — scale_to_serving_ms: desired state web +1 (web.1 -> web.1,web.2) on a real
// dynoform-agent process -> first request served by the new dyno through a real dynoform-router.
// Both are bundled from source with esbuild (same bundle the SEA build makes) and run on this node.
// Prints per-run figures and the median. usage: node bench/agent/scale_to_serving.mjs [--runs N]
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(join(root, "packages/agent/package.json"));
const esbuild = require("esbuild");
const tar = require("tar");
const runsIdx = process.argv.indexOf("--runs");
const RUNS = runsIdx > 0 ? Number(process.argv[runsIdx + 1]) : 9;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(join(tmpdir(), "dynoform-bench-agent-"));
const procs = [];

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

async function waitFor(what, f, timeoutMs = 10000, every = 20) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => false);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

function get(port, host) {
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path: "/", headers: { host }, agent: false }, (res) => {
      let t = "";
      res.on("data", (c) => (t += c));
      res.on("end", () => resolve({ status: res.statusCode, text: t }));
    });
    req.on("error", () => resolve({ status: 0, text: "" }));
    req.setTimeout(5000, () => req.destroy());
    req.end();
  });
}

function start(name, args) {
  const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout.on("data", (c) => (out += c));
  p.stderr.on("data", (c) => (out += c));
  p.output = () => out;
  procs.push(p);
  return p;
}

async function main() {
  const routerMain = join(root, "packages/router/src/main.ts");
  const haveRouter = existsSync(routerMain);
  await esbuild.build({ entryPoints: [join(root, "packages/agent/src/main.ts")], bundle: true, platform: "node", format: "cjs", target: "node20", outfile: join(work, "agent.js"), logLevel: "silent" });
  if (haveRouter) await esbuild.build({ entryPoints: [routerMain], bundle: true, platform: "node", format: "cjs", target: "node20", outfile: join(work, "router.js"), logLevel: "silent" });

  // slug: a tiny web app answering with $DYNO, served over HTTP like the control role does
  mkdirSync(join(work, "src/app"), { recursive: true });
  writeFileSync(join(work, "src/app/web.js"), `require("http").createServer((q, s) => s.end(process.env.DYNO)).listen(Number(process.env.PORT));\nprocess.on("SIGTERM", () => process.exit(0));\n`);
  await tar.c({ gzip: true, file: join(work, "slug.tgz"), cwd: join(work, "src"), portable: true }, ["app"]);
  const sha256 = createHash("sha256").update(readFileSync(join(work, "slug.tgz"))).digest("hex");
  const slugServer = http.createServer((q, s) => s.end(readFileSync(join(work, "slug.tgz"))));
  await new Promise((r) => slugServer.listen(0, "127.0.0.1", r));
  const slug = { url: `http://127.0.0.1:${slugServer.address().port}/slug.tgz`, sha256 };

  const registrationToken = "bench-router-token";
  let router;
  if (haveRouter) {
    router = { port: await freePort(), control: await freePort() };
    writeFileSync(join(work, "router-token"), registrationToken);
    writeFileSync(join(work, "router.json"), JSON.stringify({ listen: `127.0.0.1:${router.port}`, controlListen: `127.0.0.1:${router.control}`, tokenFile: join(work, "router-token"), workers: 1, platformDomain: "dynoform.test", accessLog: false }));
    start("router", [join(work, "router.js"), "--config", join(work, "router.json")]);
    await waitFor("router", async () => (await fetch(`http://127.0.0.1:${router.control}/health`)).ok);
    await fetch(`http://127.0.0.1:${router.control}/v1/apps/bench`, { method: "PUT", headers: { authorization: `Bearer ${registrationToken}` }, body: JSON.stringify({ domains: [] }) });
  }
  const agentPort = await freePort();
  const token = "bench-agent-token";
  const args = [join(work, "agent.js"), "--listen", `127.0.0.1:${agentPort}`, "--token", token, "--state-dir", join(work, "state"), "--ports", "34000-34099", "--supervisor", "process", "--no-app-users"];
  if (router) args.push("--router", `http://127.0.0.1:${router.control}`, "--registration-token", registrationToken);
  const agent = start("agent", args);
  await waitFor("agent", async () => /control API on/.test(agent.output()));
  const put = (dynos, wait = "") =>
    fetch(`http://127.0.0.1:${agentPort}/v1/apps/bench${wait}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ release: 1, slug, env: {}, processTypes: { web: `${process.execPath} web.js` }, dynos }),
    }).then((r) => r.json());
  const status = () => fetch(`http://127.0.0.1:${agentPort}/v1/apps/bench`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
  await put(["web.1"], "?wait=up");
  if (router) await waitFor("web.1 serving", async () => (await get(router.port, "bench.dynoform.test")).text === "web.1");

  const results = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const wall0 = Date.now();
    await put(["web.1", "web.2"]);
    const putMs = performance.now() - t0;
    if (router) {
      await waitFor("web.2 serving through the router", async () => (await get(router.port, "bench.dynoform.test")).text === "web.2", 10000, 2);
    } else {
      await waitFor("web.2 up", async () => (await status()).dynos.find((d) => d.name === "web.2")?.state === "up", 10000, 2);
    }
    const ms = performance.now() - t0;
    results.push(ms);
    const w2 = (await status()).dynos.find((d) => d.name === "web.2");
    const phase = (iso) => (iso ? `${Date.parse(iso) - wall0}` : "?");
    process.stdout.write(`run ${i + 1}: ${ms.toFixed(1)} ms (PUT answered ${putMs.toFixed(0)}, process started +${phase(w2?.startedAt)}, port accepting/up +${phase(w2?.upAt)})\n`);
    await put(["web.1"]);
    await waitFor("web.2 gone", async () => {
      const s = await status();
      return s.dynos.length === 1 && s.retiring.length === 0;
    });
    if (router) await waitFor("router forgot web.2", async () => {
      const r = await fetch(`http://127.0.0.1:${router.control}/v1/apps/bench`, { headers: { authorization: `Bearer ${registrationToken}` } }).then((x) => x.json());
      return r.dynos.length === 1;
    });
  }
  results.sort((a, b) => a - b);
  const median = results[Math.floor(results.length / 2)];
  if (!router) process.stdout.write("NOTE: packages/router/src/main.ts not found: measured to the agent's own readiness (web.2 state up), not through a router\n");
  process.stdout.write(`median of ${RUNS}; min ${results[0].toFixed(1)} ms, max ${results[results.length - 1].toFixed(1)} ms; ${router ? "through a real dynoform-router" : "agent readiness only"}; goal < 1000\n`);
  process.stdout.write(`scale_to_serving_ms=${median.toFixed(1)}\n`);
  slugServer.close();
}

main()
  .catch((e) => {
    process.stderr.write(`bench:agent failed: ${e.stack}\n`);
    for (const p of procs) process.stderr.write(p.output().slice(-2000));
    process.exitCode = 1;
  })
  .finally(async () => {
    // stop the agent with its dynos: DELETE the app first, then the processes we started
    for (const p of procs.reverse()) if (p.exitCode === null) p.kill("SIGKILL");
    await sleep(100);
    try {
      const st = JSON.parse(readFileSync(join(work, "state/state.json"), "utf8"));
      for (const app of Object.values(st.apps)) for (const d of [...app.dynos, ...app.retiring]) if (d.ref?.pid) try { process.kill(-d.ref.pid, "SIGKILL"); } catch {}
    } catch {}
    rmSync(work, { recursive: true, force: true });
  });

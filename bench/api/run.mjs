#!/usr/bin/env node
// npm run bench:api — the REST API (packages/control/src/api) on 127.0.0.1 with a temporary state
// dir and an in-memory fleet (no lab), under 50 concurrent keep-alive connections from wrk (a Node
// client would queue on its own CPU and measure itself). Prints name=value lines:
//   api_get_app_p99_ms            GET /apps/{app}: token, access check, the app's files read, JSON (goal < 50)
//   api_patch_formation_p99_ms    PATCH /apps/{app}/formation through ps:scale (app lock, formation
//                                 written, the fake fleet's scale): each client scales its own app
//   node_http_hello_p99_ms        the anchor: a plain node:http server answering JSON of the same size
//   api_get_app_vs_node_http      api_get_app_p99_ms / node_http_hello_p99_ms
// Each server is a child process of its own. BENCH_QUICK=1: shorter runs.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { freePort, start, stopAll } from "../lib/processes.mjs";
import { wrk } from "../lib/wrk.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const QUICK = process.env.BENCH_QUICK === "1";
const CLIENTS = 50;
const SECONDS = QUICK ? 2 : 5;
const TOKEN = "bench-api-token-0123456789abcdef";
const tmp = mkdtempSync(join(tmpdir(), "dynoform-bench-api-"));
const figures = [];
const t0 = Date.now();
const say = (m) => process.stdout.write(`[bench:api +${((Date.now() - t0) / 1000).toFixed(0)}s] ${m}\n`);
const figure = (name, value) => figures.push(`${name}=${value}`);

async function bundle() {
  const req = createRequire(join(root, "package.json"));
  const esbuild = await import(req.resolve("esbuild"));
  const outfile = join(tmp, "api-server.js");
  await esbuild.build({ bundle: true, platform: "node", format: "cjs", target: "node20", logLevel: "warning", tsconfig: join(root, "tsconfig.json"), entryPoints: [join(here, "server.ts")], outfile });
  return outfile;
}

/** Starts `args` under node and waits for its "ready" line. */
async function startServer(args, name) {
  const p = start(process.execPath, args, { stdout: "pipe" });
  await new Promise((ok, fail) => {
    p.stdout.on("data", (c) => String(c).includes("ready") && ok());
    p.once("exit", (code) => fail(new Error(`${name} exited (${code}): ${p.errText()}`)));
  });
  return p;
}

/** The anchor: node:http answering `body` to every request, nothing else. */
const HELLO = (body) => `
  const http = require("node:http");
  const body = ${JSON.stringify(body)};
  http.createServer((req, res) => { req.resume(); req.on("end", () => { res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) }); res.end(body); }); })
    .listen(Number(process.argv[1]), "127.0.0.1", () => process.stdout.write("ready\\n"));
  process.once("SIGTERM", () => process.exit(0));
`;

function request(agent, port, method, path, body) {
  return new Promise((ok, fail) => {
    const t = process.hrtime.bigint();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { agent, host: "127.0.0.1", port, method, path, headers: { Authorization: `Bearer ${TOKEN}`, Accept: "application/vnd.heroku+json; version=3", ...(payload ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } : {}) } },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => (res.statusCode >= 300 ? fail(new Error(`${method} ${path}: ${res.statusCode} ${text}`)) : ok({ ms: Number(process.hrtime.bigint() - t) / 1e6, text })));
      },
    );
    req.on("error", fail);
    req.end(payload);
  });
}

/** wrk's script: request n goes to `path(n)` (client apps bench-0..bench-49 in turn), with `method` and `body`. */
function script(name, method, pathExpr, body) {
  const file = join(tmp, `${name}.lua`);
  writeFileSync(
    file,
    [
      "local n = 0",
      `wrk.method = "${method}"`,
      `wrk.headers["Authorization"] = "Bearer ${TOKEN}"`,
      `wrk.headers["Accept"] = "application/vnd.heroku+json; version=3"`,
      ...(body ? [`wrk.headers["Content-Type"] = "application/json"`] : []),
      "request = function()",
      "  n = n + 1",
      `  return wrk.format(nil, ${pathExpr}${body ? `, nil, ${body}` : ""})`,
      "end",
      "",
    ].join("\n"),
  );
  return file;
}

/** CLIENTS connections for SECONDS; the p99 in ms (every answer must be a success). */
function load(port, file, seconds = SECONDS) {
  const r = wrk({ url: `http://127.0.0.1:${port}/`, connections: CLIENTS, seconds, script: file });
  if (r.errors) throw new Error(`wrk saw ${r.errors} failed requests on 127.0.0.1:${port}`);
  return r.p99;
}

const p99 = (x) => x.toFixed(2);

try {
  say("bundling the API server");
  const serverJs = await bundle();
  const apiPort = await freePort();
  await startServer([serverJs, String(apiPort), join(tmp, "state"), String(CLIENTS), TOKEN], "the API server");
  say(`API on 127.0.0.1:${apiPort} with ${CLIENTS} apps; ${CLIENTS} connections, ${SECONDS} s per figure`);

  const sample = (await request(undefined, apiPort, "GET", "/apps/bench-0")).text;
  const getApp = script("get-app", "GET", `"/apps/bench-" .. (n % ${CLIENTS})`);
  load(apiPort, getApp, 1);
  const get = load(apiPort, getApp);
  figure("api_get_app_p99_ms", p99(get));
  // Quantity 1..3 in turn, so each PATCH changes the formation.
  const patch = script("patch-formation", "PATCH", `"/apps/bench-" .. (n % ${CLIENTS}) .. "/formation"`, `'{"updates":[{"type":"web","quantity":' .. (1 + math.floor(n / ${CLIENTS}) % 3) .. '}]}'`);
  load(apiPort, patch, 1);
  const scale = load(apiPort, patch);
  figure("api_patch_formation_p99_ms", p99(scale));
  const helloPort = await freePort();
  await startServer(["-e", HELLO(sample), String(helloPort)], "the node:http anchor");
  const hello = script("hello", "GET", '"/"');
  load(helloPort, hello, 1);
  const helloP99 = load(helloPort, hello);
  figure("node_http_hello_p99_ms", p99(helloP99));
  figure("api_get_app_vs_node_http", (get / helloP99).toFixed(2));
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}
process.stdout.write(figures.join("\n") + "\n");

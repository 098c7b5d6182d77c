// The hostile HTTP probe (`BENCH_ONLY=hostile npm run bench:router`): every case of
// hostile_cases.mjs sent as raw bytes to each front server (the router, nginx, HAProxy), each in
// front of its own recording backend, and judged by what the client got back and what the backend
// received. run.mjs starts the servers (its startRouter/startNginxProxy/startHaproxy) and prints
// the figures.
import { createServer as createHttpServer } from "node:http";
import { connect, createServer as createNetServer } from "node:net";
import { CASES } from "./hostile_cases.mjs";

export const HOST = "bench.example";
/** How long a slow client may go on before the front server must have cut it. */
export const CUT_BOUND_MS = 8000;
const DRIP_MS = 500;
/** A fast case is over when the server closes, or this long after it was sent. */
const CASE_WINDOW_MS = 1500;
/** Forwarding can lag behind the answer: look at the backend only after this. */
const SETTLE_MS = 150;

/**
 * A backend that records what it gets: raw bytes (as a TCP relay in front of it, since node:http
 * reads its sockets itself) and the requests its lenient parser makes of them, answered
 * `200 ok:<url>` so a client can see whose answer it got.
 */
export async function startRecordingBackend() {
  const rec = { raw: "", heads: [], complete: [] };
  const sockets = new Set();
  const http = createHttpServer({ insecureHTTPParser: true, keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
    rec.heads.push(req.url);
    req.resume();
    req.on("end", () => {
      rec.complete.push(req.url);
      const body = `ok:${req.url}`;
      res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  http.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  http.on("clientError", (_e, s) => s.destroy());
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  const inner = http.address().port;
  const relay = createNetServer((client) => {
    const up = connect(inner, "127.0.0.1");
    sockets.add(client);
    sockets.add(up);
    client.on("data", (c) => { rec.raw += c.toString("latin1"); });
    client.pipe(up);
    up.pipe(client);
    const end = () => { client.destroy(); up.destroy(); sockets.delete(client); sockets.delete(up); };
    client.on("close", end); up.on("close", end);
    client.on("error", end); up.on("error", end);
  });
  await new Promise((r) => relay.listen(0, "127.0.0.1", r));
  return {
    port: relay.address().port,
    rec,
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy();
      relay.close(() => http.close(() => r()));
    }),
  };
}

/** Raw client: sends `first`, then `drip(i)` every DRIP_MS while the connection is open (slow
 * cases); resolves with what came back, whether the server closed, and when. */
function send(port, { first, drip, windowMs }) {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    const t0 = Date.now();
    let data = "";
    let closed = false;
    let closedAfterMs = -1;
    let timer;
    let drips;
    const done = () => {
      clearTimeout(timer);
      clearInterval(drips);
      s.destroy();
      resolve({ data, closed, closedAfterMs });
    };
    s.on("data", (c) => { data += c.toString("latin1"); });
    s.on("error", () => undefined);
    s.on("close", () => {
      if (!closed) { closed = true; closedAfterMs = Date.now() - t0; }
      done();
    });
    s.on("end", () => {
      if (!closed) { closed = true; closedAfterMs = Date.now() - t0; }
    });
    s.write(first);
    if (drip) {
      let i = 0;
      drips = setInterval(() => { if (!closed && s.writable) s.write(drip(i++)); }, DRIP_MS);
    }
    timer = setTimeout(done, windowMs);
  });
}

const statuses = (data) => [...data.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((x) => Number(x[1]));

/** One ordinary request on a new connection, after a smuggling case: it must get its own answer. */
async function victim(port, m) {
  const out = await send(port, { first: `GET ${m.victim} HTTP/1.1\r\nHost: ${m.host}\r\nConnection: close\r\n\r\n`, windowMs: 3000 });
  return /^HTTP\/1\.1 200 /.test(out.data) && out.data.endsWith(`ok:${m.victim}`) && !out.data.includes("ok:/smuggled");
}

/** Judge one case: the reasons it failed ([] when it passed). */
function judge(c, m, out, seen, victimsOk) {
  const why = [];
  const codes = statuses(out.data);
  const forwarded = seen.raw.includes(m.path);
  const rejected = codes.every((s) => s >= 400) && (codes.length > 0 || out.closed) && !forwarded;
  switch (c.expect) {
    case "reject":
      if (codes.some((s) => s < 400)) why.push(`answered ${codes.join(",")}`);
      if (codes.length === 0 && !out.closed) why.push("no answer and no close");
      if (forwarded) why.push("reached the backend");
      break;
    case "rejectOrNormalize": {
      const at = seen.raw.indexOf(m.path);
      const head = at < 0 ? "" : seen.raw.slice(at, seen.raw.indexOf("\r\n\r\n", at));
      if (!rejected && !(codes.length > 0 && codes.every((s) => s < 400) && forwarded && !/\r\n[ \t]/.test(head))) {
        why.push(forwarded ? "forwarded without normalizing" : `answered ${codes.join(",") || "nothing"}`);
      }
      break;
    }
    case "noSmuggle":
      if (seen.heads.some((u) => u.includes("/smuggled/"))) why.push("the backend got the smuggled request");
      if (out.data.includes("ok:/smuggled")) why.push("the client got the smuggled request's answer");
      if (codes.some((s) => s < 400) && !out.closed) why.push("kept the connection open after a CL+TE request");
      if (!victimsOk) why.push("the next client got someone else's answer");
      break;
    case "cut":
      if (!out.closed || out.closedAfterMs > CUT_BOUND_MS) why.push(`not cut within ${CUT_BOUND_MS} ms`);
      if (codes.some((s) => s !== 408 && s < 500)) why.push(`answered ${codes.join(",")}`);
      if (seen.complete.some((u) => u === m.path)) why.push("the backend got a whole request");
      break;
    default:
      why.push(`unknown expectation ${c.expect}`);
  }
  return why;
}

async function runCase(target, backend, c) {
  // "~" ends each name, so no case's paths are a prefix of another's.
  const m = { host: HOST, path: `/h/${c.name}~`, smuggled: `/smuggled/${c.name}~`, victim: `/victim/${c.name}~` };
  const slow = c.expect === "cut";
  const out = await send(target.port, slow
    ? { first: c.first(m), drip: c.drip, windowMs: CUT_BOUND_MS + 2000 }
    : { first: c.bytes(m), windowMs: c.long ? CUT_BOUND_MS : CASE_WINDOW_MS });
  let victimsOk = true;
  if (c.expect === "noSmuggle") {
    for (let i = 0; i < 3; i++) victimsOk = (await victim(target.port, m)) && victimsOk;
  }
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const rec = backend.rec;
  // Only what carries this case's paths counts as this case's (slow cases run alongside).
  const seen = {
    raw: rec.raw.includes(m.path) || rec.raw.includes(m.smuggled) ? rec.raw : "",
    heads: rec.heads.filter((u) => u.includes(`/${c.name}~`)),
    complete: rec.complete.filter((u) => u.includes(`/${c.name}~`)),
  };
  return { name: c.name, why: judge(c, m, out, seen, victimsOk) };
}

/**
 * Runs every case against each target ({name, port, backend}); the targets in parallel, the slow
 * cases alongside the fast ones (each case has its own paths), the fast ones one after another.
 * Returns {name: {passed, total, failed: [{name, why}]}}.
 */
export async function probe(targets) {
  const results = {};
  await Promise.all(targets.map(async (t) => {
    const isSlow = (c) => c.expect === "cut" || c.long;
    const slow = Promise.all(CASES.filter(isSlow).map((c) => runCase(t, t.backend, c)));
    const fast = [];
    for (const c of CASES.filter((x) => !isSlow(x))) fast.push(await runCase(t, t.backend, c));
    const all = [...fast, ...(await slow)];
    const failed = all.filter((r) => r.why.length > 0);
    results[t.name] = { passed: all.length - failed.length, total: all.length, failed };
  }));
  return results;
}

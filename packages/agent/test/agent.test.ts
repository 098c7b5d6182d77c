// Integration tests with real processes (process supervisor): desired state changes, crash
// backoff, R10, R12, R14/R15, re-adoption after an agent restart, slug checksum refusal, one-offs, logs.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { agentSuite, alive, desired, get, sleep, TestAgent, testConfig, tmpDir, waitFor, WEB_JS } from "./helpers";

jest.setTimeout(30_000);

const { slugs, base, cleanups, agentWith } = agentSuite();

const upDyno = (a: TestAgent, app: string, name: string, timeoutMs = 5000) =>
  waitFor(`${app} ${name} up`, async () => {
    const d = await a.dyno(app, name);
    return d?.state === "up" ? d : undefined;
  }, timeoutMs);

test("auth and health", async () => {
  const a = await agentWith();
  expect((await a.api("GET", "/health", undefined, "")).status).toBe(200);
  expect((await a.api("GET", "/v1/status", undefined, "wrong")).status).toBe(401);
  expect((await a.api("GET", "/v1/status")).status).toBe(200);
  expect((await a.api("PUT", "/v1/apps/Bad_Name", desired(base.slug))).status).toBe(400);
  const bad = await a.api("PUT", "/v1/apps/okay", desired(base.slug, { dynos: ["clock.1"] }));
  expect(bad.status).toBe(400);
  expect(bad.body.error).toMatch(/processTypes.clock/);
});

test("scale up, down, to zero; command change rolls dynos over without a gap", async () => {
  const a = await agentWith();
  const put = await a.api("PUT", "/v1/apps/shop", desired(base.slug, { dynos: ["web.1"] }));
  expect(put.status).toBe(200);
  const w1 = await upDyno(a, "shop", "web.1");
  expect((await get(`http://127.0.0.1:${w1.port}/`)).text).toBe("web.1 v1\n");
  expect(fs.statSync(path.join(a.config.stateDir, "slugs", base.slug.sha256)).mode & 0o222).toBe(0);

  // scale up: web.2 and a worker
  await a.api("PUT", "/v1/apps/shop", desired(base.slug, { dynos: ["web.1", "web.2", "worker.1"] }));
  const w2 = await upDyno(a, "shop", "web.2");
  await upDyno(a, "shop", "worker.1");
  expect((await a.dyno("shop", "web.1")).pid).toBe(w1.pid); // untouched
  expect((await get(`http://127.0.0.1:${w2.port}/`)).text).toBe("web.2 v1\n");
  await a.waitLog("shop", /app\[worker\.1\]: working/);

  // scale down
  await a.api("PUT", "/v1/apps/shop", desired(base.slug, { dynos: ["web.1"] }));
  await waitFor("web.2 and worker.1 gone", async () => (await a.app("shop")).dynos.length === 1 && (await a.app("shop")).retiring.length === 0);
  await waitFor("web.2 process gone", () => !alive(w2.pid));
  expect(a.logs("shop").some((l) => /heroku\[web\.2\]: Stopping all processes with SIGTERM/.test(l))).toBe(true);
  expect(a.logs("shop").some((l) => /heroku\[web\.2\]: State changed from stopping to down/.test(l))).toBe(true);

  // command change (new release): a new web.1 instance, the old one serves until it is up
  const cmd = `${process.execPath} web.js --changed`;
  const pending = a.api("PUT", "/v1/apps/shop?wait=up", desired(base.slug, { release: 2, env: { RELEASE: "v2" }, processTypes: { web: cmd } }));
  let sawGap = false;
  const probe = (async () => {
    for (let i = 0; i < 100; i++) {
      const s = await a.app("shop");
      if (!s.dynos.concat(s.retiring).some((d: any) => d.state === "up")) sawGap = true;
      if (s.retiring.length === 0 && s.dynos[0]?.release === 2 && s.dynos[0]?.state === "up") return;
      await sleep(10);
    }
  })();
  const done = await pending;
  await probe;
  expect(done.status).toBe(200);
  expect(sawGap).toBe(false);
  const v2 = await a.dyno("shop", "web.1");
  expect(v2.command).toBe(cmd);
  expect(v2.pid).not.toBe(w1.pid);
  expect((await get(`http://127.0.0.1:${v2.port}/`)).text).toBe("web.1 v2\n");
  await waitFor("old web.1 gone", () => !alive(w1.pid));

  // to zero
  await a.api("PUT", "/v1/apps/shop", desired(base.slug, { release: 2, dynos: [] }));
  await waitFor("no dynos", async () => (await a.app("shop")).dynos.length === 0 && (await a.app("shop")).retiring.length === 0);
  await waitFor("v2 process gone", () => !alive(v2.pid));
  // DELETE removes the app
  expect((await a.api("DELETE", "/v1/apps/shop")).status).toBe(200);
  expect((await a.api("GET", "/v1/apps/shop")).status).toBe(404);
});

test("crash loop: first restart at once, then exponential backoff; visible in status", async () => {
  const a = await agentWith({ restartBaseMs: 300, restartMaxMs: 1200 });
  await a.api("PUT", "/v1/apps/crashy", desired(base.slug, { env: { CRASH: "3" } }));
  await waitFor("5 starts", () => a.logs("crashy").filter((l) => /Starting process/.test(l)).length >= 5, 10_000);
  const st = await a.dyno("crashy", "web.1");
  const starts = a.agent.logs.recent("crashy").filter((l) => /Starting process/.test(l.msg)).map((l) => Date.parse(l.ts.slice(0, 23) + "Z"));
  const gaps = starts.slice(1).map((t, i) => t - starts[i]);
  // crash ~ +process lifetime (~50-300 ms); delays 0, 300, 600, 1200
  expect(gaps[0]).toBeLessThan(1000);
  expect(gaps[1]).toBeGreaterThanOrEqual(300);
  expect(gaps[2]).toBeGreaterThanOrEqual(600);
  expect(gaps[3]).toBeGreaterThanOrEqual(1200);
  expect(gaps[3]).toBeLessThan(3000);
  expect(a.logs("crashy").some((l) => /heroku\[web\.1\]: Process exited with status 3/.test(l))).toBe(true);
  expect(a.logs("crashy").some((l) => /heroku\[web\.1\]: State changed from starting to crashed/.test(l))).toBe(true);
  expect(a.logs("crashy").some((l) => /app\[web\.1\]: crashing on purpose/.test(l))).toBe(true);
  const crashed = await waitFor("crashed state with nextRestartAt", async () => {
    const d = await a.dyno("crashy", "web.1");
    return d.state === "crashed" ? d : undefined;
  });
  expect(crashed.nextRestartAt).toEqual(expect.any(String));
  expect(crashed.restarts).toBeGreaterThanOrEqual(4);
  expect(crashed.lastExit.status).toBe(3);
  expect(st.crashes).toBeGreaterThanOrEqual(4);
  // a new release resets the backoff: its dyno starts at once and comes up
  await a.api("PUT", "/v1/apps/crashy", desired(base.slug, { release: 2 }));
  const up = await upDyno(a, "crashy", "web.1", 3000);
  expect(up.crashes).toBe(0);
});

test("boot timeout: R10, killed, crashed", async () => {
  const a = await agentWith({ bootTimeoutMs: 600, restartBaseMs: 5000 });
  await a.api("PUT", "/v1/apps/slow", desired(base.slug, { env: { NO_BIND: "1" } }));
  await a.waitLog("slow", /heroku\[web\.1\]: Error R10 \(Boot timeout\) -> Web process failed to bind to \$PORT within 1 seconds of launch/, 3000);
  await a.waitLog("slow", /heroku\[web\.1\]: Process exited with status 137/);
  const d = await a.dyno("slow", "web.1");
  expect(["crashed", "starting"]).toContain(d.state);
  expect(a.logs("slow").some((l) => /State changed from starting to crashed/.test(l))).toBe(true);
});

test("stop: SIGTERM-ignoring process is SIGKILLed after the grace period (R12)", async () => {
  const a = await agentWith({ stopTimeoutMs: 700 });
  await a.api("PUT", "/v1/apps/stubborn", desired(base.slug, { env: { IGNORE_TERM: "1" } }));
  const d = await upDyno(a, "stubborn", "web.1");
  const t0 = Date.now();
  await a.api("PUT", "/v1/apps/stubborn", desired(base.slug, { dynos: [] }));
  await waitFor("process killed", () => !alive(d.pid), 5000);
  const took = Date.now() - t0;
  expect(took).toBeGreaterThanOrEqual(600);
  expect(took).toBeLessThan(3000);
  await a.waitLog("stubborn", /app\[web\.1\]: ignoring SIGTERM/);
  await a.waitLog("stubborn", /heroku\[web\.1\]: Error R12 \(Exit timeout\)/);
  await a.waitLog("stubborn", /heroku\[web\.1\]: Stopping remaining processes with SIGKILL/);
  await a.waitLog("stubborn", /heroku\[web\.1\]: Process exited with status 137/);
});

test("memory: R14 over the quota, R15 kill at twice the quota", async () => {
  const a = await agentWith({ restartBaseMs: 60_000 });
  // node's own RSS (~40-60 MB) exceeds a 32 MB quota -> R14; +120 MB -> over 64 MB -> R15
  await a.api("PUT", "/v1/apps/hog", desired(base.slug, { memoryMb: 32, env: { ALLOC_MB: "120" } }));
  await a.waitLog("hog", /heroku\[web\.1\]: Error R14 \(Memory quota exceeded\)/, 5000);
  await a.waitLog("hog", /heroku\[web\.1\]: Error R15 \(Memory quota vastly exceeded\)/, 5000);
  await a.waitLog("hog", /heroku\[web\.1\]: Process running mem=\d+M\(\d+\.\d%\)/);
  await a.waitLog("hog", /heroku\[web\.1\]: State changed from (up|starting) to crashed/);
  const d = await a.dyno("hog", "web.1");
  expect(d.lastExit.reason).toBe("R15");
  expect(d.lastExit.status).toBe(137);
});

test("agent restart keeps dynos running and re-adopts them", async () => {
  const dir = tmpDir();
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cfg = testConfig(dir);
  let a = await TestAgent.start(cfg);
  await a.api("PUT", "/v1/apps/sticky", desired(base.slug, { dynos: ["web.1", "worker.1"] }));
  const w = await upDyno(a, "sticky", "web.1");
  const k = await upDyno(a, "sticky", "worker.1");
  await a.close(false); // agent goes away, dynos stay
  await sleep(200);
  expect(alive(w.pid)).toBe(true);
  expect(alive(k.pid)).toBe(true);
  expect((await get(`http://127.0.0.1:${w.port}/`)).text).toBe("web.1 v1\n");

  a = await TestAgent.start(cfg);
  cleanups.push(() => a.close(true));
  const again = await a.dyno("sticky", "web.1");
  expect(again.state).toBe("up");
  expect(again.pid).toBe(w.pid);
  expect(again.port).toBe(w.port);
  expect((await a.dyno("sticky", "worker.1")).pid).toBe(k.pid);
  await a.waitLog("sticky", /heroku\[web\.1\]: Re-adopted running process/);
  await a.waitLog("sticky", /app\[worker\.1\]: working/); // output followed again
  // an adopted dyno that dies is noticed and restarted
  process.kill(k.pid, "SIGKILL");
  await a.waitLog("sticky", /heroku\[worker\.1\]: State changed from up to crashed/, 3000);
  const k2 = await waitFor("worker restarted", async () => {
    const d = await a.dyno("sticky", "worker.1");
    return d.state === "up" && d.pid !== k.pid ? d : undefined;
  });
  expect(k2.restarts).toBe(1);
  // and stopping works on adopted dynos
  await a.api("PUT", "/v1/apps/sticky", desired(base.slug, { dynos: [] }));
  await waitFor("adopted web.1 stopped", () => !alive(w.pid));
  await waitFor("worker stopped", () => !alive(k2.pid));
});

test("slug checksum mismatch is refused with a clear error; the old release keeps running", async () => {
  const a = await agentWith();
  await a.api("PUT", "/v1/apps/safe", desired(base.slug));
  const d = await upDyno(a, "safe", "web.1");
  const other = await slugs.make("other", { "web.js": "oops" });
  const res = await a.api("PUT", "/v1/apps/safe", desired({ url: other.url, sha256: base.slug.sha256.replace(/^./, (c) => (c === "0" ? "1" : "0")) }, { release: 2 }));
  expect(res.status).toBe(422);
  expect(res.body.error).toMatch(/slug checksum mismatch for http:\/\/127\.0\.0\.1:\d+\/other\.tgz: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}; refusing to run it/);
  const s = await a.app("safe");
  expect(s.release).toBe(1);
  expect(s.lastError).toMatch(/checksum mismatch/);
  const still = await a.dyno("safe", "web.1");
  expect(still.pid).toBe(d.pid);
  expect(still.state).toBe("up");
  expect((await get(`http://127.0.0.1:${d.port}/`)).text).toBe("web.1 v1\n");
  // unreachable slug: also refused
  const gone = await a.api("PUT", "/v1/apps/safe", desired({ url: `http://127.0.0.1:${slugs.port}/missing.tgz`, sha256: other.sha256 }, { release: 3 }));
  expect(gone.status).toBe(422);
  expect(gone.body.error).toMatch(/HTTP 404/);
  expect(fs.readdirSync(path.join(a.config.stateDir, "slugs")).filter((f) => f.startsWith(".partial"))).toEqual([]);
});

test("slug downloads send the slug's token; it stays out of status, errors and dynos, and survives an agent restart", async () => {
  const token = "7e57".repeat(16);
  const guarded = await slugs.make("guarded", { "web.js": WEB_JS }, { token });
  const dir = tmpDir();
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cfg = testConfig(dir);
  let a = await TestAgent.start(cfg);
  let closed = false;
  cleanups.push(() => (closed ? undefined : a.close(true)));

  const put = await a.api("PUT", "/v1/apps/guard", desired(guarded));
  expect(put.status).toBe(200);
  expect(slugs.authorizations.filter((r) => r.file === "guarded.tgz").map((r) => r.authorization)).toEqual([`Bearer ${token}`]);
  await upDyno(a, "guard", "web.1");
  const status = await a.api("GET", "/v1/apps/guard");
  expect(status.body.slug).toEqual({ url: guarded.url, sha256: guarded.sha256 });
  expect(status.text).not.toContain(token);

  // without the token the download is refused, and the error names the URL, not a token
  const other = await slugs.make("guarded2", { "web.js": WEB_JS.replace("booting", "booting 2") }, { token: "0ther".repeat(8) });
  const refused = await a.api("PUT", "/v1/apps/guard", desired({ url: other.url, sha256: other.sha256 }, { release: 2 }));
  expect(refused.status).toBe(422);
  expect(refused.body.error).toBe(`slug download from ${other.url} failed: HTTP 403`);
  expect(JSON.stringify(await a.app("guard"))).not.toContain("0ther");

  // a one-off in a slug the host has not seen yet: fetched with its token; the dyno's env never has it
  const third = await slugs.make("guarded3", { "web.js": WEB_JS.replace("booting", "booting 3") }, { token: "3333".repeat(16) });
  const run = await fetch(`http://127.0.0.1:${a.running.port}/v1/apps/guard/run`, {
    method: "POST",
    headers: { authorization: `Bearer ${a.config.token}`, "content-type": "application/json" },
    body: JSON.stringify({ command: "env; cat /proc/$$/cmdline", slug: third }),
  });
  const lines = (await run.text()).trim().split("\n").map((l) => JSON.parse(l));
  expect(lines[lines.length - 1]).toEqual({ dyno: "run.1", exit: 0 });
  const out = lines.filter((l) => l.stream).map((l) => l.data).join("");
  expect(out).toContain("DYNO=run.1");
  for (const t of [token, third.token!]) expect(out).not.toContain(t);
  expect(slugs.authorizations.filter((r) => r.file === "guarded3.tgz").map((r) => r.authorization)).toEqual([`Bearer ${third.token}`]);
  const badRun = await a.api("POST", "/v1/apps/guard/run", { command: "true", slug: { ...third, token: "bad\r\nX-Injected: 1" } });
  expect(badRun.status).toBe(400);
  expect(badRun.body.error).toBe("slug.token must be 1 to 256 URL-safe characters");

  // the token is kept in the root-only state, so a slug gone from disk is fetched again after a restart
  const state = path.join(dir, "state.json");
  expect(fs.statSync(state).mode & 0o077).toBe(0);
  await a.close(true);
  closed = true;
  const unpacked = path.join(dir, "slugs", guarded.sha256);
  execFileSync("chmod", ["-R", "u+w", unpacked]); // unpacked slugs are read-only
  fs.rmSync(unpacked, { recursive: true, force: true });
  a = await TestAgent.start(cfg);
  closed = false;
  await waitFor("guarded slug fetched again", () => fs.existsSync(unpacked));
  expect(slugs.authorizations.filter((r) => r.file === "guarded.tgz").map((r) => r.authorization)).toEqual([`Bearer ${token}`, `Bearer ${token}`]);
});

test("slugs: downloaded once, shared, old ones garbage-collected", async () => {
  const a = await agentWith({ slugsToKeep: 0 });
  const before = slugs.requests;
  await a.api("PUT", "/v1/apps/one", desired(base.slug));
  await a.api("PUT", "/v1/apps/two", desired(base.slug));
  expect(slugs.requests - before).toBe(1);
  const s2 = await slugs.make("second", { "web.js": WEB_JS.replace("booting", "booting second") });
  await a.api("PUT", "/v1/apps/one?wait=up", desired(s2, { release: 2 }));
  await a.api("PUT", "/v1/apps/two?wait=up", desired(s2, { release: 2 }));
  const dir = path.join(a.config.stateDir, "slugs");
  await waitFor("old slug collected", () => !fs.existsSync(path.join(dir, base.slug.sha256)) && fs.existsSync(path.join(dir, s2.sha256)));
});

test("one-off dyno: output streamed, exit status returned", async () => {
  const a = await agentWith();
  await a.api("PUT", "/v1/apps/ops", desired(base.slug, { dynos: [] }));
  const res = await fetch(`http://127.0.0.1:${a.running.port}/v1/apps/ops/run`, {
    method: "POST",
    headers: { authorization: `Bearer ${a.config.token}`, "content-type": "application/json" },
    body: JSON.stringify({ command: `echo hello $DYNO; ls web.js; echo oops >&2; exit 7` }),
  });
  expect(res.status).toBe(200);
  const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
  const out = lines.filter((l) => l.stream === "stdout").map((l) => l.data).join("");
  expect(out).toBe("hello run.1\nweb.js\n");
  expect(lines.filter((l) => l.stream === "stderr").map((l) => l.data).join("")).toBe("oops\n");
  expect(lines[lines.length - 1]).toEqual({ dyno: "run.1", exit: 7 });
  await a.waitLog("ops", /heroku\[run\.1\]: Process exited with status 7/);
});

test("one-off dyno with stdin attached: the process reads what is sent until its end", async () => {
  const a = await agentWith();
  await a.api("PUT", "/v1/apps/ops", desired(base.slug, { dynos: [] }));
  const auth = { authorization: `Bearer ${a.config.token}` };
  const res = await fetch(`http://127.0.0.1:${a.running.port}/v1/apps/ops/run`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ command: "tr a-z A-Z; echo \"(stdin ended)\"", stdin: true }),
  });
  const reader = res.body!.getReader();
  const first = JSON.parse(Buffer.from((await reader.read()).value!).toString().split("\n")[0]);
  expect(first).toEqual({ dyno: "run.1", state: "up" });
  const input = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode("hello\n"));
      c.enqueue(new TextEncoder().encode("from stdin\n"));
      c.close();
    },
  });
  const attach = await fetch(`http://127.0.0.1:${a.running.port}/v1/apps/ops/run/run.1/stdin`, { method: "POST", headers: auth, body: input, duplex: "half" } as RequestInit);
  expect(attach.status).toBe(200);
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += Buffer.from(value).toString();
  }
  const lines = rest.trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.filter((l) => l.stream === "stdout").map((l) => l.data).join("")).toBe("HELLO\nFROM STDIN\n(stdin ended)\n");
  expect(lines[lines.length - 1]).toEqual({ dyno: "run.1", exit: 0 });
  const again = await a.api("POST", "/v1/apps/ops/run/run.1/stdin", "x");
  expect(again.status).toBe(404);
});

test("logs API: backlog, filters and live tail", async () => {
  const a = await agentWith();
  await a.api("PUT", "/v1/apps/talk", desired(base.slug, { dynos: ["web.1", "worker.1"] }));
  await upDyno(a, "talk", "web.1");
  const all = await a.api("GET", "/v1/apps/talk/logs");
  expect(all.text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 heroku\[web\.1\]: Starting process with command `.*web\.js`$/m);
  expect(all.text).toMatch(/heroku\[web\.1\]: State changed from starting to up$/m);
  await a.waitLog("talk", /app\[web\.1\]: listening on/);
  const web = await a.api("GET", "/v1/apps/talk/logs?dyno=web.1&source=app&lines=5");
  expect(web.text.trim().split("\n").every((l) => / app\[web\.1\]: /.test(l))).toBe(true);
  // live tail
  const ac = new AbortController();
  const res = await fetch(`http://127.0.0.1:${a.running.port}/v1/apps/talk/logs?tail=1&lines=0&dyno=worker`, { headers: { authorization: `Bearer ${a.config.token}` }, signal: ac.signal });
  const reader = res.body!.getReader();
  let got = "";
  const end = Date.now() + 3000;
  while (!/app\[worker\.1\]: working/.test(got) && Date.now() < end) {
    const { value, done } = await reader.read();
    if (done) break;
    got += Buffer.from(value).toString();
  }
  ac.abort();
  expect(got).toMatch(/app\[worker\.1\]: working/);
});

test("restart API restarts a dyno in place", async () => {
  const a = await agentWith();
  await a.api("PUT", "/v1/apps/redo", desired(base.slug, { dynos: ["web.1", "web.2"] }));
  const w1 = await upDyno(a, "redo", "web.1");
  const w2 = await upDyno(a, "redo", "web.2");
  const r = await a.api("POST", "/v1/apps/redo/restart", { dyno: "web.1" });
  expect(r.body.restarted).toEqual(["web.1"]);
  const n1 = await waitFor("web.1 back up", async () => {
    const d = await a.dyno("redo", "web.1");
    return d.state === "up" && d.pid !== w1.pid ? d : undefined;
  });
  expect(n1.pid).not.toBe(w1.pid);
  expect((await a.dyno("redo", "web.2")).pid).toBe(w2.pid);
  await a.waitLog("redo", /heroku\[web\.1\]: Restarting/);
});

test("logs --tail: a subscriber that stops reading costs bounded memory and is told what it missed (L10)", async () => {
  const a = await agentWith();
  await a.api("PUT", "/v1/apps/loud", desired(base.slug, { dynos: [] }));
  // A raw socket that sends the request and then does not read: the kernel buffers fill, then ours.
  const sock = net.connect(a.running.port, "127.0.0.1");
  await new Promise((r) => sock.once("connect", r));
  sock.write(`GET /v1/apps/loud/logs?tail=1&lines=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${a.config.token}\r\n\r\n`);
  sock.pause();
  await new Promise((r) => setTimeout(r, 200));
  const line = "x".repeat(1000);
  const total = 20_000; // 20 MB of log lines, far above what may wait for this subscriber
  for (let i = 0; i < total; i++) a.agent.logs.append("loud", "app", "web.1", `${i} ${line}`);
  let got = "";
  sock.on("data", (c) => (got += c.toString("latin1")));
  sock.resume();
  // Read until what was held for it has arrived (bounded).
  for (let i = 0, seen = -1; i < 100 && got.length !== seen; i++) {
    seen = got.length;
    await sleep(200);
  }
  // Lines after the drop arrive with the notice before them.
  a.agent.logs.append("loud", "app", "web.1", "after the storm");
  await waitFor("the notice", () => /heroku\[logplex\]: Error L10 \(output buffer overflow\): \d+ messages dropped since \d{4}-/.test(got) && /after the storm/.test(got), 10_000);
  sock.destroy();
  const delivered = (got.match(/ app\[web\.1\]: \d+ x/g) ?? []).length;
  const dropped = Number(/Error L10 \(output buffer overflow\): (\d+) messages dropped/.exec(got)![1]);
  expect(delivered).toBeLessThan(total / 2);
  expect(delivered + dropped).toBe(total);
});

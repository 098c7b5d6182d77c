// The agent as a real separate process (bundled like the SEA): SIGTERM leaves dynos running,
// a new agent process re-adopts them (not its children), dynos run as an unprivileged user.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { alive, desired, get, SlugServer, tmpDir, waitFor, type Slug } from "./helpers";
import { freePort } from "./router_harness";

jest.setTimeout(60_000);

const slugs = new SlugServer();
let slug: Slug;
let bundle: string;
const bundleDir = tmpDir("dynoform-agent-bundle-");
beforeAll(async () => {
  await slugs.start();
  slug = await slugs.make("base");
  const esbuild = await import("esbuild");
  bundle = path.join(bundleDir, "dynoform-agent.js");
  await esbuild.build({ entryPoints: [path.resolve(__dirname, "../src/main.ts")], bundle: true, platform: "node", format: "cjs", target: "node20", outfile: bundle, logLevel: "silent" });
});
afterAll(async () => {
  await slugs.stop();
  fs.rmSync(bundleDir, { recursive: true, force: true });
});

const isRoot = process.getuid?.() === 0;

test("agent process restart: dynos keep running and are re-adopted" + (isRoot ? ", running as nobody" : ""), async () => {
  const dir = tmpDir();
  fs.chmodSync(dir, 0o711);
  const port = await freePort();
  const token = "proc-token";
  const base = 33000 + (process.pid % 50) * 20;
  const args = [bundle, "--listen", `127.0.0.1:${port}`, "--token", token, "--state-dir", dir, "--ports", `${base}-${base + 19}`, "--supervisor", "process", "--no-app-users", ...(isRoot ? ["--dyno-user", "nobody"] : [])];
  const procs: ChildProcess[] = [];
  const start = async () => {
    const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout!.on("data", (c) => (out += c));
    p.stderr!.on("data", (c) => (out += c));
    procs.push(p);
    await waitFor(`agent listening (${out})`, () => /control API on/.test(out), 10_000);
    return p;
  };
  const api = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${port}${p}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as any };
  };
  let pids: number[] = [];
  try {
    let agent = await start();
    expect((await api("PUT", "/v1/apps/proc?wait=up", desired(slug, { dynos: ["web.1", "worker.1"] }))).status).toBe(200);
    const s1 = (await api("GET", "/v1/apps/proc")).body;
    pids = s1.dynos.map((d: any) => d.pid);
    const web = s1.dynos.find((d: any) => d.name === "web.1");
    if (isRoot) expect(fs.readFileSync(`/proc/${web.pid}/status`, "utf8")).toMatch(/^Uid:\s+65534\s/m);

    const gone = new Promise((r) => agent.once("exit", r));
    agent.kill("SIGTERM");
    expect(await gone).toBe(0);
    expect(pids.every(alive)).toBe(true);
    expect((await get(`http://127.0.0.1:${web.port}/`)).text).toBe("web.1 v1\n");

    agent = await start();
    const s2 = (await api("GET", "/v1/apps/proc")).body;
    expect(s2.dynos.map((d: any) => [d.name, d.state, d.pid])).toEqual([
      ["web.1", "up", pids[0]],
      ["worker.1", "up", pids[1]],
    ]);
    // not a child of the new agent: its death is noticed by polling, and it is restarted
    process.kill(pids[1], "SIGKILL");
    const w2 = await waitFor("worker restarted", async () => {
      const d = (await api("GET", "/v1/apps/proc")).body.dynos.find((x: any) => x.name === "worker.1");
      return d.state === "up" && d.pid !== pids[1] ? d : undefined;
    }, 5000);
    pids.push(w2.pid);
    expect((await api("DELETE", "/v1/apps/proc")).status).toBe(200);
    await waitFor("dynos stopped", () => !alive(pids[0]) && !alive(w2.pid), 5000);
  } finally {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    for (const pid of pids) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a torn state file (a crash mid-write) stops the agent with what to do, instead of forgetting its dynos", async () => {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, "state.json"), '{"version":1,"apps":{"shop":{"desired":');
  const port = await freePort();
  const p = spawn(process.execPath, [bundle, "--listen", `127.0.0.1:${port}`, "--token", "t", "--state-dir", dir, "--supervisor", "process", "--no-app-users"], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  p.stderr!.on("data", (c) => (err += c));
  const code = await new Promise((r) => p.once("exit", r));
  expect(code).toBe(2);
  expect(err).toMatch(/state\.json cannot be read as agent state \(.*\); refusing to start, since starting empty would forget the dynos that still run\. Restore the file, or move it aside/);
  expect(fs.readFileSync(path.join(dir, "state.json"), "utf8")).toBe('{"version":1,"apps":{"shop":{"desired":'); // left for the operator
});

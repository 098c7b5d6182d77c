// Upgrade without failed requests: the router is restarted (SIGTERM, exit, start again — what
// `systemctl restart` does after `pulumi up` replaced the binary) under continuous load, while a
// launcher holds the listening sockets like systemd's dynoform-router.socket does. Every request
// must succeed: in-flight ones are drained by the old process, new connections wait in the
// socket's accept queue for the new one, and the new one starts with the saved dyno table.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { Agent, request as httpRequest, type ClientRequest } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, freePort, sleep, startBackend, waitFor, type Backend } from "./harness";

jest.setTimeout(120_000);

const hasPython = (() => {
  try {
    execFileSync("python3", ["-c", "import socket"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

interface Outcome { status: number; error?: string; reused: boolean; gotBytes: boolean }

function send(port: number, agent: Agent | false, method: string, path: string, body?: string): Promise<Outcome> {
  return new Promise((res) => {
    let gotBytes = false;
    const r: ClientRequest = httpRequest(
      { host: "127.0.0.1", port, method, path, agent, headers: { Host: "upg.dynoform.test", ...(body ? { "Content-Type": "text/plain" } : {}) } },
      (resp) => {
        gotBytes = true;
        let s = "";
        resp.on("data", (c) => (s += c));
        resp.on("end", () => res({ status: resp.statusCode ?? 0, reused: r.reusedSocket, gotBytes, error: resp.statusCode === 200 && s.startsWith("ok") ? undefined : `body ${s.slice(0, 80)}` }));
        resp.on("error", (e) => res({ status: 0, error: e.message, reused: r.reusedSocket, gotBytes }));
      },
    );
    r.setTimeout(20_000, () => r.destroy(new Error("client timeout")));
    r.on("error", (e) => res({ status: 0, error: `${(e as NodeJS.ErrnoException).code ?? ""} ${e.message}`, reused: r.reusedSocket, gotBytes }));
    r.end(body);
  });
}

(hasPython ? describe : describe.skip)("upgrade: restart under load with a held socket (systemd socket activation)", () => {
  let backend: Backend;
  let launcher: ChildProcess | undefined;
  let dir: string;

  afterAll(async () => {
    if (launcher && launcher.exitCode === null) {
      launcher.stdin!.end("stop\n");
      await new Promise((r) => { launcher!.once("exit", r); setTimeout(r, 40_000).unref(); });
    }
    await backend?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("three restarts under bounded load: zero failed requests, in-flight requests finish", async () => {
    const bin = ensureBinary();
    // Dyno: answers after 0-20 ms ("/slow": 1.5 s), echoing the request body size.
    backend = await startBackend((req, res, body) => {
      const ms = req.url === "/slow" ? 1500 : Math.floor(Math.random() * 20);
      setTimeout(() => res.end(`ok ${body.length}\n`), ms);
    });
    const port = await freePort();
    const controlPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), "dynoform-router-upgrade-"));
    const token = "upgrade-token";
    writeFileSync(join(dir, "token"), token);
    writeFileSync(join(dir, "router.json"), JSON.stringify({
      // Ignored for the sockets (they are inherited), still validated.
      listen: `127.0.0.1:${port}`, controlListen: `127.0.0.1:${controlPort}`,
      tokenFile: join(dir, "token"), workers: 2, platformDomain: "dynoform.test",
      stateFile: join(dir, "routes.json"), accessLog: false,
    }));
    launcher = spawn("python3", [join(__dirname, "socket_launcher.py"), `${port},${controlPort}`, "--", bin, "--config", join(dir, "router.json")], { stdio: ["pipe", "pipe", "pipe"] });
    const lines: string[] = [];
    const stderr: string[] = [];
    let partial = "";
    launcher.stdout!.on("data", (c: Buffer) => {
      const parts = (partial + c.toString()).split("\n");
      partial = parts.pop()!;
      lines.push(...parts.filter(Boolean));
    });
    launcher.stderr!.on("data", (c: Buffer) => stderr.push(c.toString()));
    await waitFor("launcher", () => lines.some((l) => l.startsWith("started")), 10_000);

    const api = (method: string, path: string, body?: unknown) => new Promise<number>((res, rej) => {
      const r = httpRequest({ host: "127.0.0.1", port: controlPort, method, path, agent: false, headers: { Authorization: `Bearer ${token}` } }, (resp) => {
        resp.resume();
        resp.on("end", () => res(resp.statusCode ?? 0));
      });
      r.on("error", rej);
      r.end(body === undefined ? undefined : JSON.stringify(body));
    });
    await waitFor("router ready", async () => (await api("GET", "/health").catch(() => 0)) === 200, 15_000);
    expect(await api("PUT", "/v1/apps/upg", { holdWhenEmpty: false })).toBe(201);
    expect(await api("PUT", "/v1/apps/upg/dynos/web.1", { address: backend.address, concurrency: 50, leaseMs: 60_000 })).toBe(201);
    expect((await send(port, false, "GET", "/")).status).toBe(200);

    // Bounded load: 6 loops on fresh connections, 6 on keep-alive connections (GET and POST).
    const LOAD_MS = 9_000;
    const stopAt = Date.now() + LOAD_MS;
    const failures: string[] = [];
    let ok = 0;
    let retriedOnReused = 0;
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 6 });
    const loop = async (kind: "fresh" | "keepalive", i: number) => {
      for (let n = 0; Date.now() < stopAt && n < 100_000; n++) {
        const post = kind === "keepalive" && n % 2 === 1;
        const body = post ? `payload ${i} ${n}` : undefined;
        let o = await send(port, kind === "fresh" ? false : keepAlive, post ? "POST" : "GET", "/", body);
        // What Varnish and every HTTP/1.1 client do (RFC 9112 §9.3.1): a request that went out on a
        // reused keep-alive connection the server had just closed, with no response byte back, is
        // sent again on a new connection. Counted; never needed for fresh connections.
        if (o.status === 0 && o.reused && !o.gotBytes) {
          retriedOnReused++;
          o = await send(port, kind === "fresh" ? false : keepAlive, post ? "POST" : "GET", "/", body);
        }
        if (o.status === 200 && !o.error && (!post || o.error === undefined)) ok++;
        else failures.push(`${kind} ${post ? "POST" : "GET"} -> ${o.status} ${o.error ?? ""}`);
      }
    };
    const loops = [
      ...Array.from({ length: 6 }, (_, i) => loop("fresh", i)),
      ...Array.from({ length: 6 }, (_, i) => loop("keepalive", i)),
    ];
    // A long request in flight across the first restart must be drained, not cut.
    const slow = send(port, false, "GET", "/slow");
    await sleep(300);
    const pids: string[] = [lines.find((l) => l.startsWith("started"))!];
    for (let k = 0; k < 3; k++) {
      const before = lines.filter((l) => l.startsWith("started")).length;
      launcher.stdin!.write("restart\n");
      await waitFor(`restart ${k + 1}`, () => lines.filter((l) => l.startsWith("started")).length > before, 20_000);
      pids.push(lines.filter((l) => l.startsWith("started")).pop()!);
      await sleep(1500);
    }
    await Promise.all(loops);
    const slowOutcome = await slow;
    keepAlive.destroy();

    expect({ pids, distinct: new Set(pids).size }).toMatchObject({ distinct: 4 });
    expect(lines.filter((l) => l.startsWith("exited"))).toEqual(["exited 0", "exited 0", "exited 0"]);
    expect(slowOutcome).toMatchObject({ status: 200 });
    process.stderr.write(`upgrade test: ${ok} requests ok over 3 restarts, ${failures.length} failed, ${retriedOnReused} resent after a keep-alive close race\n`);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(200);
    // The restarted router served from the saved table at once (no H14 while agents re-register).
    expect(await api("GET", "/v1/apps/upg")).toBe(200);
    void stderr;
  });
});

// Runs the real dynoform-router (packages/router/src/main.ts bundled by esbuild, run by this node)
// and a fake router control API for registration tests.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { agentSuite, tmpDir, waitFor } from "./helpers";

export const ROUTER_MAIN = path.resolve(__dirname, "../../router/src/main.ts");

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

let bundle: string | undefined;
export async function routerBundle(): Promise<string> {
  if (bundle && fs.existsSync(bundle)) return bundle;
  const esbuild = await import("esbuild");
  const out = path.join(tmpDir("dynoform-router-bundle-"), "router.js");
  await esbuild.build({ entryPoints: [ROUTER_MAIN], bundle: true, platform: "node", format: "cjs", target: "node20", outfile: out, logLevel: "silent" });
  bundle = out;
  return out;
}

export function removeRouterBundle(): void {
  if (bundle) fs.rmSync(path.dirname(bundle), { recursive: true, force: true });
  bundle = undefined;
}

/** agentSuite for the files that run the router bundle: the bundle is built once for the file and
 * removed after it. */
export function routerSuite(): ReturnType<typeof agentSuite> {
  const suite = agentSuite();
  afterAll(() => removeRouterBundle());
  return suite;
}

export class RealRouter {
  proc: ChildProcess | undefined;
  readonly dir = tmpDir("dynoform-router-run-");
  readonly token = "router-test-token";
  output = "";
  /** `extra`: more router.json keys (e.g. `agents`: the dyno hosts' credentials). */
  constructor(readonly port: number, readonly controlPort: number, readonly extra: Record<string, unknown> = {}) {}

  static async create(extra: Record<string, unknown> = {}): Promise<RealRouter> {
    return new RealRouter(await freePort(), await freePort(), extra);
  }

  get controlUrl(): string {
    return `http://127.0.0.1:${this.controlPort}`;
  }

  async start(): Promise<void> {
    const js = await routerBundle();
    fs.writeFileSync(path.join(this.dir, "token"), this.token);
    fs.writeFileSync(
      path.join(this.dir, "router.json"),
      JSON.stringify({ listen: `127.0.0.1:${this.port}`, controlListen: `127.0.0.1:${this.controlPort}`, tokenFile: path.join(this.dir, "token"), workers: 1, platformDomain: "dynoform.test", accessLog: false, ...this.extra }),
    );
    this.proc = spawn(process.execPath, [js, "--config", path.join(this.dir, "router.json")], { stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stdout!.on("data", (c: Buffer) => (this.output += c.toString()));
    this.proc.stderr!.on("data", (c: Buffer) => (this.output += c.toString()));
    await waitFor(`router up (${this.output})`, async () => {
      try {
        const r = await fetch(`${this.controlUrl}/health`);
        return r.status === 200;
      } catch {
        return false;
      }
    }, 15_000, 50);
  }

  async api(method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> {
    const r = await fetch(this.controlUrl + p, { method, headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  }

  async dynos(app: string): Promise<Array<{ dyno: string; address: string; release?: number }>> {
    const r = await this.api("GET", `/v1/apps/${app}`);
    return r.status === 200 ? r.body.dynos : [];
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await exited;
    this.proc = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface FakeCall {
  at: number;
  method: string;
  path: string;
  auth?: string;
  body?: any;
}

/** A fake router control API that records calls and keeps a table. */
export class FakeRouter {
  readonly calls: FakeCall[] = [];
  readonly table = new Map<string, any>();
  private server: http.Server | undefined;
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const call: FakeCall = { at: Date.now(), method: req.method!, path: req.url!, auth: req.headers.authorization, body: body ? JSON.parse(body) : undefined };
        this.calls.push(call);
        const key = req.url!;
        if (req.method === "PUT") this.table.set(key, call.body);
        if (req.method === "DELETE") this.table.delete(key);
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, "127.0.0.1", () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

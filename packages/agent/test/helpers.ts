// Test helpers: temp dirs, slugs served over HTTP, in-process agents (process supervisor), API calls.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import * as tar from "tar";
import { resolveConfig, type AgentConfig } from "../src/config";
import { startAgent, type RunningAgent } from "../src/start_agent";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000, everyMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function tmpDir(prefix = "dynoform-agent-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The dyno program used by tests: an HTTP server on $PORT answering with $DYNO, tunable by env. */
export const WEB_JS = `
const http = require("http");
const env = process.env;
console.log("booting " + env.DYNO + " on " + env.PORT + " release " + (env.RELEASE || "?"));
if (env.IGNORE_TERM) process.on("SIGTERM", () => console.log("ignoring SIGTERM"));
if (env.ALLOC_MB) setTimeout(() => { global.hog = Buffer.alloc(Number(env.ALLOC_MB) << 20, 1); console.log("allocated " + env.ALLOC_MB + "MB"); setInterval(() => {}, 1000); }, 300);
if (env.CRASH) { console.error("crashing on purpose"); setTimeout(() => process.exit(Number(env.CRASH)), 20); }
else if (env.NO_BIND) setInterval(() => {}, 1000);
else {
  const server = http.createServer((req, res) => { res.end(env.DYNO + " " + (env.RELEASE || "") + "\\n"); });
  setTimeout(() => server.listen(Number(env.PORT), () => console.log("listening on " + env.PORT)), Number(env.BOOT_DELAY_MS || 0));
  if (!env.IGNORE_TERM) process.on("SIGTERM", async () => {
    if (env.ON_TERM_URL) {
      try { const r = await fetch(env.ON_TERM_URL, { headers: { authorization: "Bearer " + env.ON_TERM_TOKEN } }); console.log("on SIGTERM router says: " + (await r.text()).replace(/\\n/g, " ")); } catch (e) { console.log("on SIGTERM fetch failed " + e.message); }
    }
    console.log("got SIGTERM, exiting"); server.close(); process.exit(0);
  });
}
`;

export interface Slug {
  url: string;
  sha256: string;
  token?: string;
}

export class SlugServer {
  private server: http.Server | undefined;
  readonly dir = tmpDir("dynoform-slugs-");
  port = 0;
  requests = 0;
  /** Slugs made with a token: served only with `Authorization: Bearer <token>`, as the control role's server does. */
  private readonly tokens = new Map<string, string>();
  /** The Authorization header of every request, by file name ("" when none). */
  readonly authorizations: { file: string; authorization: string }[] = [];

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.requests++;
      const name = path.basename(req.url ?? "");
      const f = path.join(this.dir, name);
      this.authorizations.push({ file: name, authorization: req.headers.authorization ?? "" });
      const token = this.tokens.get(name);
      if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(403).end("forbidden: a slug needs its token\n");
        return;
      }
      if (!fs.existsSync(f)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/gzip" });
      fs.createReadStream(f).pipe(res);
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** A Heroku-style slug: files under ./app. With `token`, downloads need it. */
  async make(name: string, files: Record<string, string> = { "web.js": WEB_JS }, opts: { token?: string } = {}): Promise<Slug> {
    const src = tmpDir("dynoform-slugsrc-");
    fs.mkdirSync(path.join(src, "app"));
    for (const [f, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(src, "app", f)), { recursive: true });
      fs.writeFileSync(path.join(src, "app", f), content);
    }
    const file = path.join(this.dir, `${name}.tgz`);
    await tar.c({ gzip: true, file, cwd: src, portable: true }, ["app"]);
    fs.rmSync(src, { recursive: true, force: true });
    const sha256 = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    if (opts.token !== undefined) this.tokens.set(`${name}.tgz`, opts.token);
    return { url: `http://127.0.0.1:${this.port}/${name}.tgz`, sha256, ...(opts.token !== undefined ? { token: opts.token } : {}) };
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

let nextPortBase = 31000 + (process.pid % 50) * 200;

export function testConfig(stateDir: string, overrides: Partial<AgentConfig> = {}): AgentConfig {
  const base = nextPortBase;
  nextPortBase += 40;
  return resolveConfig({
    listen: "127.0.0.1:0",
    token: "agent-test-token",
    stateDir,
    address: "127.0.0.1",
    portRange: [base, base + 39],
    supervisor: "process",
    appUsers: false,
    bootTimeoutMs: 10_000,
    stopTimeoutMs: 2_000,
    restartBaseMs: 200,
    restartMaxMs: 1_000,
    memoryPollMs: 100,
    readinessPollMs: 20,
    logPollMs: 30,
    leaseMs: 3000,
    ...overrides,
  });
}

export class TestAgent {
  constructor(readonly running: RunningAgent, readonly config: AgentConfig) {}

  static async start(config: AgentConfig): Promise<TestAgent> {
    return new TestAgent(await startAgent(config), config);
  }

  get agent() {
    return this.running.agent;
  }

  async api(method: string, p: string, body?: unknown, token = this.config.token): Promise<{ status: number; body: any; text: string }> {
    const res = await fetch(`http://127.0.0.1:${this.running.port}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not json */
    }
    return { status: res.status, body: parsed, text };
  }

  async app(name: string): Promise<any> {
    return (await this.api("GET", `/v1/apps/${name}`)).body;
  }

  async dyno(app: string, name: string): Promise<any> {
    const s = await this.app(app);
    return s?.dynos?.find((d: any) => d.name === name);
  }

  logs(app: string): string[] {
    return this.agent.logs.recent(app).map((l) => l.line);
  }

  async waitLog(app: string, re: RegExp, timeoutMs = 5000): Promise<string> {
    return waitFor(`log ${re}`, () => this.logs(app).find((l) => re.test(l)), timeoutMs);
  }

  async close(stopDynos = true): Promise<void> {
    await this.running.close({ stopDynos });
  }
}

/**
 * The setup the agent's test files share: a slug server for the whole file with the slug "base"
 * made on it (`base.slug`, from beforeAll on), and `agentWith` for an in-process agent in a temp
 * dir. After each test, `cleanups` run last pushed first: the agents are closed and their dirs
 * removed, with anything else a test pushed.
 */
export function agentSuite() {
  const slugs = new SlugServer();
  const base = {} as { slug: Slug };
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    await slugs.start();
    base.slug = await slugs.make("base");
  });
  afterAll(() => slugs.stop());
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  async function agentWith(over: Parameters<typeof testConfig>[1] = {}): Promise<TestAgent> {
    const dir = tmpDir();
    const a = await TestAgent.start(testConfig(dir, over));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => a.close(true));
    return a;
  }
  return { slugs, base, cleanups, agentWith };
}

export function desired(slug: Slug, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    release: 1,
    slug,
    env: { RELEASE: "v1" },
    processTypes: { web: `${process.execPath} web.js`, worker: `${process.execPath} -e "setInterval(()=>console.log('working'),100)"` },
    dynos: ["web.1"],
    ...over,
  };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const st = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return st.slice(st.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

export async function get(url: string, host?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, headers: host ? { host } : {}, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.end();
  });
}

// The agent: apps on this host, their slugs, dynos, registration, logs and persisted state.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { checkAppName, formatRelease, ValidationError, type AgentStatus, type AppStatus, type OneOffRequest } from "@dynoform/contract";
import { App } from "./app";
import type { AgentConfig } from "./config";
import { limitsFor, parseDesiredState } from "./desired_state";
import type { DynoContext } from "./dyno";
import { LogBuffer } from "./log_buffer";
import { PortAllocator } from "./port_allocator";
import { Registrar } from "./registrar";
import { RestartPolicy } from "./restart_policy";
import { SlugStore } from "./slug_store";
import { StateStore, type AgentState } from "./state_store";
import { signalNumber, type Supervisor } from "./supervisor";
import { ProcessSupervisor } from "./supervisor_process";
import { SystemdSupervisor } from "./supervisor_systemd";
import { UserManager } from "./users";

export class NotFoundError extends Error {}

/** mkdir -p, then the mode (not listable by dynos: 0711). */
function ensureDir(dir: string, mode: number): string {
  fs.mkdirSync(dir, { recursive: true, mode });
  fs.chmodSync(dir, mode);
  return dir;
}

export function chooseSupervisor(config: AgentConfig): Supervisor {
  const kind = config.supervisor === "auto" ? (fs.existsSync("/run/systemd/system") ? "systemd" : "process") : config.supervisor;
  if (kind !== "systemd") return new ProcessSupervisor();
  const sandbox = config.sandbox ? { envDir: path.join(config.stateDir, "env"), hide: [config.stateDir], inaccessible: config.hiddenPaths } : {};
  return new SystemdSupervisor({ stopTimeoutMs: config.stopTimeoutMs, ...sandbox });
}

export interface OneOffSink {
  output(stream: "stdout" | "stderr", data: Buffer): void;
  started(dyno: string): void;
  exit(status: number, dyno: string): void;
}

export class Agent {
  readonly logs: LogBuffer;
  readonly registrar: Registrar;
  readonly slugs: SlugStore;
  readonly supervisor: Supervisor;
  readonly apps = new Map<string, App>();
  private readonly store: StateStore;
  private readonly ctx: DynoContext;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly oneOffs = new Map<string, Map<string, { command: string; pid: number | undefined; startedAt: string }>>();
  /** stdin of one-off dynos started with `stdin: true`, by "app/dyno", until it is attached or they exit. */
  private readonly oneOffStdin = new Map<string, Writable>();
  private readonly startedAt = new Date();
  private closed = false;

  constructor(readonly config: AgentConfig, supervisor?: Supervisor) {
    fs.mkdirSync(config.stateDir, { recursive: true, mode: 0o711 });
    this.supervisor = supervisor ?? chooseSupervisor(config);
    this.logs = new LogBuffer(config.logLinesPerApp);
    this.registrar = new Registrar(config.routers, { leaseMs: config.leaseMs, renewMs: config.renewMs, registrationToken: config.registrationToken }, (app, dyno, msg) =>
      this.logs.heroku(app, dyno, msg),
    );
    this.slugs = new SlugStore(path.join(config.stateDir, "slugs"), config.slugsToKeep);
    this.slugs.log = (line) => process.stderr.write(`dynoform-agent: ${line}\n`);
    this.store = new StateStore(config.stateDir);
    this.ctx = {
      config,
      supervisor: this.supervisor,
      registrar: this.registrar,
      logs: this.logs,
      ports: new PortAllocator(config.portRange[0], config.portRange[1], config.address),
      policy: new RestartPolicy({ baseMs: config.restartBaseMs, maxMs: config.restartMaxMs, resetAfterMs: config.restartResetMs }),
      users: new UserManager({ appUsers: config.appUsers, dynoUser: config.dynoUser, prefix: config.appUserPrefix }),
      logDir: ensureDir(path.join(config.stateDir, "logs"), 0o711),
      changed: () => this.persist(),
    };
  }

  /** Load state from disk and re-adopt dynos; start lease renewal. */
  async start(): Promise<void> {
    const state = this.store.load();
    // the log buffer saved by the previous agent's shutdown
    const saved = path.join(this.config.stateDir, "logs.json");
    try {
      this.logs.restore(JSON.parse(fs.readFileSync(saved, "utf8")));
    } catch {
      /* none (first start or the agent crashed): start empty */
    }
    fs.rmSync(saved, { force: true });
    for (const [name, rec] of Object.entries(state.apps)) {
      const app = new App(name, this.ctx, rec.desired, rec.cwd);
      this.apps.set(name, app);
      if (rec.desired.slug && !this.slugs.appDir(rec.desired.slug.sha256)) {
        app.lastError = `slug ${rec.desired.slug.sha256} is missing from disk; fetching it again`;
        void this.slugs.prepare(rec.desired.slug).then((cwd) => this.withLock(name, async () => app.apply(app.desired, cwd))).catch((e) => (app.lastError = (e as Error).message));
        // adopt what is running (its own cwd is recorded per dyno), reconcile later
      }
      await app.adopt(rec);
    }
    this.registrar.start();
    this.persist();
  }

  private withLock<T>(app: string, f: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(app) ?? Promise.resolve();
    const next = prev.then(f, f);
    const tail = next.catch(() => undefined);
    this.locks.set(app, tail);
    void tail.then(() => {
      if (this.locks.get(app) === tail) this.locks.delete(app);
    });
    return next;
  }

  /** Set an app's desired state. Throws ValidationError / SlugError (the running release stays). */
  async putApp(name: string, body: unknown): Promise<App> {
    checkAppName(name);
    const desired = parseDesiredState(body, this.config);
    return this.withLock(name, async () => {
      let cwd = this.apps.get(name)?.cwd ?? "";
      if (desired.slug) {
        try {
          cwd = await this.slugs.prepare(desired.slug);
        } catch (e) {
          const app = this.apps.get(name);
          if (app) app.lastError = (e as Error).message;
          if (app) this.logs.heroku(name, "agent", `Release ${formatRelease(desired.release)} refused: ${(e as Error).message}`);
          throw e;
        }
      }
      let app = this.apps.get(name);
      if (!app) {
        app = new App(name, this.ctx, desired, cwd);
        this.apps.set(name, app);
      }
      app.apply(desired, cwd);
      return app;
    });
  }

  getApp(name: string): App {
    const app = this.apps.get(name);
    if (!app) throw new NotFoundError(`no app ${name} on this host`);
    return app;
  }

  async deleteApp(name: string): Promise<void> {
    const app = this.getApp(name);
    await this.withLock(name, async () => {
      await app.stopAll();
      this.apps.delete(name);
      this.persist();
    });
  }

  async restart(name: string, which?: string): Promise<string[]> {
    const app = this.getApp(name);
    return this.withLock(name, () => app.restart(which));
  }

  /** Wait until every desired dyno of the app is up (or timeout); returns whether they are. */
  async waitUp(name: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const app = this.apps.get(name);
      if (!app) return false;
      // scaled-down and replaced instances count until they are stopped
      const ok = app.desired.dynos.every((n) => app.dynos.get(n)?.state === "up") && app.retiring.size === 0 && app.stopping.size === 0;
      if (ok) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** One-off dyno (`heroku run`), a parsed request: stdio streamed to the sink; resolves with its exit status. */
  async runOneOff(name: string, req: OneOffRequest, sink: OneOffSink, signal?: AbortSignal): Promise<number> {
    const app = this.getApp(name);
    const slug = req.slug;
    if (!slug && (!app.desired.slug || !app.cwd)) throw new ValidationError(`app ${name} has no release with a slug on this host`);
    const dyno = `run.${++app.oneOffCounter}`;
    const unit = `dyno-${name}-${dyno}-${Date.now().toString(36)}`;
    const port = await this.ctx.ports.allocate();
    const cwd = slug ? await this.slugs.prepare(slug) : app.cwd;
    const size = req.size ?? (typeof app.desired.size === "string" ? app.desired.size : this.config.defaultSize);
    try {
      const user = await this.ctx.users.forApp(name);
      this.logs.heroku(name, dyno, `Starting process with command \`${req.command}\``);
      const child = this.supervisor.runAttached({
        unit,
        app: name,
        dyno,
        command: req.command,
        cwd,
        env: {
          PATH: `${cwd}/bin:${cwd}/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
          LANG: "C.UTF-8",
          ...app.desired.env,
          ...req.env,
          HOME: cwd,
          PORT: String(port),
          DYNO: dyno,
        },
        user,
        memoryMb: app.desired.memoryMb ?? this.config.sizes[size].memoryMb,
        limits: limitsFor(size, this.config),
      });
      const running = this.oneOffs.get(name) ?? new Map();
      this.oneOffs.set(name, running);
      running.set(dyno, { command: req.command, pid: child.pid, startedAt: new Date().toISOString() });
      const stdinKey = `${name}/${dyno}`;
      if (req.stdin && child.stdin) {
        child.stdin.on("error", () => {}); // EPIPE: the process closed its stdin or exited
        this.oneOffStdin.set(stdinKey, child.stdin);
      } else child.stdin?.end();
      const kill = () => {
        if (child.pid === undefined) return;
        void this.supervisor.kill({ supervisor: this.supervisor.kind, unit, pid: child.pid }, "SIGTERM");
        setTimeout(() => child.pid !== undefined && child.exitCode === null && void this.supervisor.kill({ supervisor: this.supervisor.kind, unit, pid: child.pid }, "SIGKILL"), 5000).unref();
      };
      signal?.addEventListener("abort", kill, { once: true });
      const timer = req.timeoutMs ? setTimeout(kill, req.timeoutMs) : undefined;
      return await new Promise<number>((resolve) => {
        child.once("error", (e) => {
          this.logs.heroku(name, dyno, `Error launching process: ${e.message}`);
        });
        child.once("spawn", () => {
          this.logs.heroku(name, dyno, "State changed from starting to up");
          sink.started(dyno);
        });
        child.stdout?.on("data", (b: Buffer) => sink.output("stdout", b));
        child.stderr?.on("data", (b: Buffer) => sink.output("stderr", b));
        child.once("close", (code, sig) => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener("abort", kill);
          running.delete(dyno);
          this.oneOffStdin.delete(stdinKey);
          const status = code ?? 128 + signalNumber(sig);
          if (child.pid !== undefined && this.supervisor.kind === "process") {
            try {
              process.kill(-child.pid, "SIGKILL");
            } catch {
              /* group gone */
            }
          }
          this.logs.heroku(name, dyno, `Process exited with status ${status}`);
          this.logs.heroku(name, dyno, "State changed from up to complete");
          sink.exit(status, dyno);
          resolve(status);
        });
      });
    } finally {
      this.ctx.ports.free(port);
    }
  }

  /** Streams `input` into a running one-off dyno's stdin and closes it at the input's end. */
  async attachStdin(name: string, dyno: string, input: Readable): Promise<void> {
    this.getApp(name);
    const key = `${name}/${dyno}`;
    const stdin = this.oneOffStdin.get(key);
    if (!stdin) throw new NotFoundError(`no one-off dyno ${dyno} of ${name} waits for its stdin`);
    this.oneOffStdin.delete(key); // one writer
    await pipeline(input, stdin).catch(() => stdin.destroy()); // input cut short or the process gone: it sees EOF
  }

  appStatus(name: string): AppStatus {
    const app = this.getApp(name);
    return { ...app.status(), oneOffs: [...(this.oneOffs.get(name) ?? new Map()).entries()].map(([dyno, o]) => ({ name: dyno, ...o })) };
  }

  status(): AgentStatus {
    return {
      supervisor: this.supervisor.kind,
      address: this.config.address,
      startedAt: this.startedAt.toISOString(),
      routers: this.registrar.routerStatus(),
      apps: [...this.apps.keys()].sort().map((n) => this.appStatus(n)),
    };
  }

  private snapshot(): AgentState {
    const apps: AgentState["apps"] = {};
    for (const [n, a] of this.apps) apps[n] = a.record();
    return { version: 1, apps };
  }

  private persist(): void {
    if (this.closed) return;
    this.store.save(() => {
      const inUse = new Set<string>();
      for (const a of this.apps.values()) {
        if (a.desired.slug) inUse.add(a.desired.slug.sha256);
        for (const d of a.all()) if (d.state !== "down") inUse.add(d.spec.slugSha);
      }
      try {
        this.slugs.gc(inUse);
      } catch {
        /* best effort */
      }
      return this.snapshot();
    });
  }

  /**
   * Stop the agent. Default: dynos keep running (agent restart/upgrade) and stay registered until
   * their lease lapses or the next agent renews. stopDynos: stop every dyno first.
   */
  async shutdown(opts: { stopDynos?: boolean } = {}): Promise<void> {
    if (opts.stopDynos) await Promise.all([...this.apps.values()].map((a) => a.stopAll().catch(() => undefined)));
    this.registrar.stop();
    for (const a of this.apps.values()) a.detach();
    this.store.save(() => this.snapshot());
    this.store.flush();
    try {
      const saved = path.join(this.config.stateDir, "logs.json");
      fs.writeFileSync(`${saved}.tmp`, JSON.stringify(this.logs.dump()), { mode: 0o600 });
      fs.renameSync(`${saved}.tmp`, saved);
    } catch {
      /* best effort: logs are a buffer */
    }
    this.closed = true;
    this.supervisor.close();
  }
}

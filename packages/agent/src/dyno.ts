// One dyno instance: launches its process through the supervisor, probes $PORT for readiness,
// registers web dynos with the routers, restarts after crashes (restart_policy.ts), enforces
// the memory quota (R14/R15), the boot timeout (R10) and the stop grace (SIGTERM, grace,
// SIGKILL, R12), and logs it all in Heroku's words. Its record is persisted for re-adoption.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { formatRelease, type ExitReason, type InstanceState, type InstanceStatus, type LastExit } from "@dynoform/contract";
import type { AgentConfig } from "./config";
import { limitsFor } from "./desired_state";
import type { LogBuffer } from "./log_buffer";
import { LogTailer } from "./log_tailer";
import type { PortAllocator } from "./port_allocator";
import type { Registrar } from "./registrar";
import type { RestartPolicy } from "./restart_policy";
import type { DynoRef, ExitInfo, Supervisor } from "./supervisor";
import type { UserManager } from "./users";

/** What an instance runs; immutable for the instance's life (a change makes a new instance). */
export interface DynoSpec {
  app: string;
  /** e.g. web.1 */
  name: string;
  /** process type, e.g. web */
  type: string;
  release: number;
  slugSha: string;
  command: string;
  cwd: string;
  /** config vars (DATABASE_URL, MEMCACHE_SERVERS... as given); PORT, DYNO, HOME are added */
  env: Record<string, string>;
  size: string;
  memoryMb: number;
  concurrency: number;
  /** per-app overrides of the agent's timeouts */
  bootTimeoutMs?: number;
  stopTimeoutMs?: number;
  /** hash of everything above that matters to the running process */
  specHash: string;
}

/** An instance as state.json keeps it, to re-adopt it after an agent restart. */
export interface InstanceRecord {
  instance: string;
  spec: DynoSpec;
  state: InstanceState;
  port?: number;
  ref?: DynoRef;
  restarts: number;
  crashes: number;
  lastExit?: LastExit;
  startedAt?: string;
  upAt?: string;
  nextRestartAt?: string;
}

export interface DynoContext {
  config: AgentConfig;
  supervisor: Supervisor;
  registrar: Registrar;
  logs: LogBuffer;
  ports: PortAllocator;
  policy: RestartPolicy;
  users: UserManager;
  logDir: string;
  /** something worth persisting changed */
  changed: () => void;
}

export function specHash(s: Omit<DynoSpec, "specHash">): string {
  const h = crypto.createHash("sha256");
  // The release as text ("v3"), the form earlier agents' state files hold: a running dyno keeps its
  // hash across an agent upgrade instead of being replaced.
  const parts: unknown[] = [s.app, s.name, s.type, formatRelease(s.release), s.slugSha, s.command, s.cwd, Object.entries(s.env).sort(), s.memoryMb, s.concurrency];
  // appended only when set, so hashes of dynos started before these existed stay the same
  if (s.bootTimeoutMs !== undefined || s.stopTimeoutMs !== undefined) parts.push(s.bootTimeoutMs ?? null, s.stopTimeoutMs ?? null);
  h.update(JSON.stringify(parts));
  return h.digest("hex").slice(0, 16);
}

export function unitFor(app: string, name: string, instance: string): string {
  return `dyno-${app}-${name}-${instance}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Dyno {
  readonly instance: string;
  readonly spec: DynoSpec;
  state: InstanceState = "down";
  port: number | undefined;
  ref: DynoRef | undefined;
  restarts = 0;
  crashes = 0;
  lastExit: LastExit | undefined;
  startedAt: Date | undefined;
  upAt: Date | undefined;
  nextRestartAt: Date | undefined;

  private gen = 0; // bumps on every launch/stop; stale callbacks compare it
  private unwatch: (() => void) | undefined;
  private tailer: LogTailer | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private bootTimer: NodeJS.Timeout | undefined;
  private memTimer: NodeJS.Timeout | undefined;
  private lastR14 = 0;
  private killReason: ExitReason | undefined;
  private exitWaiters: Array<(e: ExitInfo) => void> = [];
  private stopping: Promise<void> | undefined;
  /** the previous process being cleaned up (systemd: its unit must be gone before the name is reused) */
  private cleanup: Promise<void> | undefined;
  private listeners: Array<(d: Dyno, from: InstanceState, to: InstanceState) => void> = [];

  constructor(
    private readonly ctx: DynoContext,
    spec: DynoSpec,
    instance?: string,
  ) {
    this.spec = spec;
    this.instance = instance ?? crypto.randomBytes(3).toString("hex");
  }

  get name(): string {
    return this.spec.name;
  }
  get unit(): string {
    return unitFor(this.spec.app, this.spec.name, this.instance);
  }
  get logFile(): string {
    return path.join(this.ctx.logDir, `${this.unit}.log`);
  }
  get bootTimeoutMs(): number {
    return this.spec.bootTimeoutMs ?? this.ctx.config.bootTimeoutMs;
  }
  get stopTimeoutMs(): number {
    return this.spec.stopTimeoutMs ?? this.ctx.config.stopTimeoutMs;
  }
  get address(): string | undefined {
    return this.port === undefined ? undefined : `${this.ctx.config.address}:${this.port}`;
  }

  onStateChange(fn: (d: Dyno, from: InstanceState, to: InstanceState) => void): void {
    this.listeners.push(fn);
  }

  private log(msg: string): void {
    this.ctx.logs.heroku(this.spec.app, this.spec.name, msg);
  }

  private setState(to: InstanceState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    if (to === "up") this.upAt = new Date();
    if (!(from === "down" && to === "starting")) this.log(`State changed from ${from} to ${to}`);
    this.ctx.changed();
    for (const l of this.listeners) l(this, from, to);
  }

  /** First start of a new instance. */
  start(): Promise<void> {
    return this.launch();
  }

  private async launch(): Promise<void> {
    const gen = ++this.gen;
    this.clearTimers();
    this.nextRestartAt = undefined;
    this.killReason = undefined;
    this.setState("starting");
    try {
      if (this.cleanup) await this.cleanup;
      this.cleanup = undefined;
      if (gen !== this.gen) return;
      if (this.port === undefined) this.port = await this.ctx.ports.allocate();
      const user = await this.ctx.users.forApp(this.spec.app);
      fs.mkdirSync(this.ctx.logDir, { recursive: true });
      fs.writeFileSync(this.logFile, "", { mode: 0o640 });
      if (user) fs.chownSync(this.logFile, user.uid, user.gid);
      if (gen !== this.gen) return;
      this.log(`Starting process with command \`${this.spec.command}\``);
      this.startedAt = new Date();
      this.upAt = undefined;
      this.ref = await this.ctx.supervisor.start({
        unit: this.unit,
        app: this.spec.app,
        dyno: this.spec.name,
        command: this.spec.command,
        cwd: this.spec.cwd,
        env: this.processEnv(),
        user,
        memoryMb: this.spec.memoryMb,
        limits: limitsFor(this.spec.size, this.ctx.config),
        logFile: this.logFile,
        stopTimeoutMs: this.stopTimeoutMs,
      });
    } catch (e) {
      if (gen !== this.gen) return;
      this.log(`Error launching process: ${(e as Error).message}`);
      this.crashed({ status: null, signal: null, oom: false }, "launch-failed");
      return;
    }
    this.ctx.changed();
    if (gen !== this.gen) {
      // stopped while launching
      await this.ctx.supervisor.kill(this.ref, "SIGKILL");
      await this.ctx.supervisor.reap(this.ref).catch(() => undefined);
      return;
    }
    this.follow(gen, false);
    if (this.spec.type === "web") {
      this.bootTimer = setTimeout(() => this.bootTimeout(gen), this.bootTimeoutMs);
      void this.awaitReady(gen);
    } else {
      this.setState("up");
    }
  }

  private processEnv(): Record<string, string> {
    const cwd = this.spec.cwd;
    return {
      PATH: `${cwd}/bin:${cwd}/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      LANG: "C.UTF-8",
      ...this.spec.env,
      HOME: cwd,
      PORT: String(this.port),
      DYNO: this.spec.name,
    };
  }

  /** Watch exit, tail output, poll memory. */
  private follow(gen: number, adopted: boolean): void {
    const ref = this.ref!;
    this.unwatch?.();
    this.unwatch = this.ctx.supervisor.onExit(ref, (e) => this.exited(gen, e));
    this.tailer?.stop(false);
    this.tailer = new LogTailer(this.logFile, (line) => this.ctx.logs.append(this.spec.app, "app", this.spec.name, line), {
      pollMs: this.ctx.config.logPollMs,
      fromEnd: adopted,
    });
    this.tailer.start();
    this.memTimer = setInterval(() => void this.checkMemory(gen), this.ctx.config.memoryPollMs);
  }

  private async awaitReady(gen: number): Promise<void> {
    const c = this.ctx.config;
    while (gen === this.gen && this.state === "starting") {
      if (await accepts(c.address, this.port!, 1000)) {
        if (gen !== this.gen || this.state !== "starting") return;
        if (this.bootTimer) clearTimeout(this.bootTimer);
        this.bootTimer = undefined;
        this.setState("up");
        await this.register();
        return;
      }
      await sleep(c.readinessPollMs);
    }
  }

  private async register(): Promise<void> {
    if (this.spec.type !== "web" || this.state !== "up") return;
    await this.ctx.registrar.register({
      app: this.spec.app,
      dyno: this.spec.name,
      instance: this.instance,
      address: this.address!,
      concurrency: this.spec.concurrency,
      release: this.spec.release,
    });
  }

  private bootTimeout(gen: number): void {
    if (gen !== this.gen || this.state !== "starting") return;
    const secs = Math.round(this.bootTimeoutMs / 1000);
    this.log(`Error R10 (Boot timeout) -> Web process failed to bind to $PORT within ${secs} seconds of launch`);
    this.log("Stopping process with SIGKILL");
    this.killReason = "R10";
    void this.ctx.supervisor.kill(this.ref!, "SIGKILL");
  }

  private async checkMemory(gen: number): Promise<void> {
    if (gen !== this.gen || !this.ref || (this.state !== "up" && this.state !== "starting")) return;
    const bytes = await this.ctx.supervisor.memoryBytes(this.ref).catch(() => null);
    if (bytes === null || gen !== this.gen) return;
    const mb = bytes / (1 << 20);
    const quota = this.spec.memoryMb;
    const pct = ((mb / quota) * 100).toFixed(1);
    if (mb > quota * 2 && !this.killReason) {
      this.log(`Process running mem=${Math.round(mb)}M(${pct}%)`);
      this.log("Error R15 (Memory quota vastly exceeded)");
      this.log("Stopping process with SIGKILL");
      this.killReason = "R15";
      await this.ctx.supervisor.kill(this.ref, "SIGKILL");
    } else if (mb > quota && Date.now() - this.lastR14 >= this.ctx.config.r14IntervalMs) {
      this.lastR14 = Date.now();
      this.log(`Process running mem=${Math.round(mb)}M(${pct}%)`);
      this.log("Error R14 (Memory quota exceeded)");
    }
  }

  private exited(gen: number, e: ExitInfo): void {
    if (gen !== this.gen && this.exitWaiters.length === 0) return;
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    if (waiters.length) {
      for (const w of waiters) w(e);
      return;
    }
    if (this.state === "stopping" || this.state === "down") return;
    if (e.oom && !this.killReason) {
      this.log("Error R15 (Memory quota vastly exceeded)");
      this.killReason = "R15";
    }
    this.log(e.status === null ? "Process exited (status unknown: it exited while the agent was away)" : `Process exited with status ${e.status}`);
    this.crashed(e, this.killReason ?? (e.status === null ? "lost" : "crash"));
  }

  private crashed(e: ExitInfo, reason: ExitReason): void {
    const upFor = this.upAt ? Date.now() - this.upAt.getTime() : null;
    this.lastExit = { status: e.status, at: new Date().toISOString(), reason };
    this.cleanup = this.cleanupProcess(true).catch(() => undefined);
    this.crashes = this.ctx.policy.nextCount(this.crashes, upFor);
    const delay = this.ctx.policy.delayMs(this.crashes);
    this.nextRestartAt = new Date(Date.now() + delay);
    this.setState("crashed");
    const gen = ++this.gen;
    this.restartTimer = setTimeout(() => {
      if (gen !== this.gen || this.state !== "crashed") return;
      this.restarts++;
      void this.launch();
    }, delay);
    this.ctx.changed();
  }

  /** Deregister, stop output following, free the process's leftovers (keeps the port). */
  private async cleanupProcess(deregister: boolean): Promise<void> {
    this.clearTimers();
    this.unwatch?.();
    this.unwatch = undefined;
    this.tailer?.stop(true);
    this.tailer = undefined;
    const ref = this.ref;
    if (deregister) await this.ctx.registrar.deregister(this.spec.app, this.spec.name, this.instance);
    if (ref) await this.ctx.supervisor.reap(ref).catch(() => undefined);
  }

  private clearTimers(): void {
    for (const t of [this.restartTimer, this.bootTimer]) if (t) clearTimeout(t);
    if (this.memTimer) clearInterval(this.memTimer);
    this.restartTimer = this.bootTimer = this.memTimer = undefined;
  }

  /** Stop for good: deregister (drain), SIGTERM, grace, SIGKILL (R12). Idempotent. */
  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await this.terminate();
    if (this.port !== undefined) this.ctx.ports.free(this.port);
    this.port = undefined;
    fs.rmSync(this.logFile, { force: true });
    this.setState("down");
    this.ctx.changed();
  }

  /** Restart in place (same instance, crash count reset): Heroku's `ps:restart`. */
  async restart(): Promise<void> {
    if (this.stopping) return;
    this.log("Restarting");
    await this.terminate();
    if (this.stopping) return;
    this.crashes = 0;
    await this.launch();
  }

  /** Bring the process down (if any) with the Heroku stop sequence. Leaves state stopping. */
  private async terminate(): Promise<void> {
    const gen = ++this.gen;
    this.clearTimers();
    const running = this.ref && (this.state === "up" || this.state === "starting" || this.state === "stopping") && (await this.ctx.supervisor.isRunning(this.ref));
    this.setState("stopping");
    await this.ctx.registrar.deregister(this.spec.app, this.spec.name, this.instance);
    if (!running || !this.ref) {
      await this.cleanupProcess(false);
      return;
    }
    const ref = this.ref;
    const exited = new Promise<ExitInfo>((resolve) => this.exitWaiters.push(resolve));
    this.unwatch?.();
    this.unwatch = this.ctx.supervisor.onExit(ref, (e) => this.exited(gen, e));
    this.log("Stopping all processes with SIGTERM");
    await this.ctx.supervisor.kill(ref, "SIGTERM");
    const grace = this.stopTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let e = await Promise.race([exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), grace)))]);
    clearTimeout(timer);
    if (e === null) {
      this.log(`Error R12 (Exit timeout) -> At least one process failed to exit within ${Math.round(grace / 1000)} seconds of SIGTERM`);
      this.log("Stopping remaining processes with SIGKILL");
      await this.ctx.supervisor.kill(ref, "SIGKILL");
      e = await Promise.race([exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 10_000)))]);
      clearTimeout(timer);
    }
    this.log(e === null || e.status === null ? "Process exited" : `Process exited with status ${e.status}`);
    this.lastExit = { status: e?.status ?? null, at: new Date().toISOString(), reason: "stop" };
    await this.cleanupProcess(false);
  }

  /** Re-attach to a dyno recorded before an agent restart. */
  async adopt(rec: InstanceRecord): Promise<void> {
    this.restarts = rec.restarts;
    this.crashes = rec.crashes;
    this.lastExit = rec.lastExit;
    this.startedAt = rec.startedAt ? new Date(rec.startedAt) : undefined;
    this.upAt = rec.upAt ? new Date(rec.upAt) : undefined;
    this.port = rec.port;
    this.ref = rec.ref;
    if (this.port !== undefined) this.ctx.ports.reserve(this.port);
    this.state = rec.state;
    const alive = this.ref ? await this.ctx.supervisor.isRunning(this.ref).catch(() => false) : false;
    if (alive && (rec.state === "up" || rec.state === "starting" || rec.state === "stopping")) {
      const gen = ++this.gen;
      this.log(`Re-adopted running process (pid ${this.ref!.pid}) after agent restart`);
      this.follow(gen, true);
      if (rec.state === "stopping") {
        this.state = "up";
        await this.stop();
        return;
      }
      if (this.spec.type === "web") {
        if (rec.state === "up" && (await accepts(this.ctx.config.address, this.port!, 1000))) {
          await this.register();
        } else {
          this.state = "starting";
          const left = Math.max(0, this.bootTimeoutMs - (Date.now() - (this.startedAt?.getTime() ?? Date.now())));
          this.bootTimer = setTimeout(() => this.bootTimeout(gen), left);
          void this.awaitReady(gen);
        }
      }
      return;
    }
    if (rec.state === "crashed") {
      const gen = ++this.gen;
      const delay = Math.max(0, (rec.nextRestartAt ? Date.parse(rec.nextRestartAt) : 0) - Date.now());
      this.nextRestartAt = new Date(Date.now() + delay);
      this.restartTimer = setTimeout(() => {
        if (gen !== this.gen || this.state !== "crashed") return;
        this.restarts++;
        void this.launch();
      }, delay);
      return;
    }
    if (rec.state === "down") return;
    // it was running and is gone now
    if (this.ref) await this.ctx.supervisor.reap(this.ref).catch(() => undefined);
    this.log("Process exited (status unknown: it exited while the agent was away)");
    this.crashed({ status: null, signal: null, oom: false }, "lost");
  }

  /** Agent shutdown: stop watching, leave the process running. */
  detach(): void {
    this.gen++;
    this.clearTimers();
    this.unwatch?.();
    this.unwatch = undefined;
    this.tailer?.stop(true);
    this.tailer = undefined;
  }

  record(): InstanceRecord {
    return {
      instance: this.instance,
      spec: this.spec,
      state: this.state,
      port: this.port,
      ref: this.ref,
      restarts: this.restarts,
      crashes: this.crashes,
      lastExit: this.lastExit,
      startedAt: this.startedAt?.toISOString(),
      upAt: this.upAt?.toISOString(),
      nextRestartAt: this.nextRestartAt?.toISOString(),
    };
  }

  status(): InstanceStatus {
    const running = this.state === "up" || this.state === "starting" || this.state === "stopping";
    return {
      name: this.spec.name,
      type: this.spec.type,
      instance: this.instance,
      unit: this.unit,
      state: this.state,
      release: this.spec.release,
      command: this.spec.command,
      size: this.spec.size,
      memoryMb: this.spec.memoryMb,
      pid: running ? this.ref?.pid ?? null : null,
      port: this.port ?? null,
      address: this.address ?? null,
      registered: this.spec.type === "web" && this.ctx.registrar.isRegistered(this.spec.app, this.spec.name, this.instance),
      restarts: this.restarts,
      crashes: this.crashes,
      lastExit: this.lastExit ?? null,
      startedAt: this.startedAt?.toISOString() ?? null,
      upAt: this.state === "up" ? this.upAt?.toISOString() ?? null : null,
      uptimeSeconds: this.state === "up" && this.upAt ? Math.floor((Date.now() - this.upAt.getTime()) / 1000) : 0,
      nextRestartAt: this.state === "crashed" ? this.nextRestartAt?.toISOString() ?? null : null,
    };
  }
}

/** Does host:port accept a TCP connection? */
export function accepts(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

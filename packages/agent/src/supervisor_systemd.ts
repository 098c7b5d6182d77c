// systemd supervisor: each dyno is a transient service made with systemd-run (own cgroup,
// memory limit from its size, whole-cgroup kill on stop). Output goes to the dyno's log file
// (StandardOutput=append:), which the agent tails exactly as for the process supervisor.
//
// Unit lifecycle: RemainAfterExit=yes keeps the unit loaded after its main process exits, so
// the agent can read Result/ExecMainStatus; reap() then stops it (killing stragglers in the
// cgroup) and reset-failed unloads it. Exit is detected by one batched `systemctl show` poll.
//
// Secrets and isolation: config vars go to a root-only EnvironmentFile (read by systemd), never into
// unit properties (`systemctl show -p Environment` is readable by every local user over D-Bus) or
// systemd-run's argv. With a sandbox, dynos see a read-only empty tmpfs over the agent's state dir
// with only their own slug bound back (no other app's slug, no state.json, no other logs), and
// cannot see /etc/dynoform (host tokens).
// Every dyno also gets a thin sandbox (sandboxBaseline) and its size's task and CPU limits.
// Memory: MemoryCurrent when the memory controller is available (cgroup v2 hosts); otherwise
// (cgroup v1/hybrid, containers) the summed RSS of the processes in the unit's cgroup.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DynoRef, ExitInfo, LaunchSpec, Supervisor } from "./supervisor";
import { wrapperArgv } from "./supervisor";

export interface Sandbox {
  /** root-only file the unit's environment is written to (instead of --setenv) */
  envFile?: string;
  /** directories replaced by an empty read-only tmpfs (the dyno's cwd is bound back read-only) */
  hide?: string[];
  /** paths made inaccessible ("-" prefixed: ignored when missing) */
  inaccessible?: string[];
}

export interface SystemdOptions {
  stopTimeoutMs: number;
  pollMs?: number;
  /** where each unit's EnvironmentFile is written (mode 0600); unset: --setenv */
  envDir?: string;
  hide?: string[];
  inaccessible?: string[];
  /** injectable for tests */
  exec?: (cmd: string, args: string[]) => Promise<string>;
}

/** systemd EnvironmentFile syntax: KEY="value" with \\ \" \` \$ escaped (newlines kept inside quotes). */
export function environmentFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `${k}="${v.replace(/[\\"`$]/g, (c) => `\\${c}`)}"\n`)
    .join("");
}

function sandboxProps(spec: LaunchSpec, sb: Sandbox | undefined): string[] {
  const props: string[] = [];
  if (!sb) return props;
  for (const h of sb.hide ?? []) props.push(`TemporaryFileSystem=${h}:ro`);
  if (sb.hide?.length) props.push(`BindReadOnlyPaths=${spec.cwd}`);
  for (const p of sb.inaccessible ?? []) props.push(`InaccessiblePaths=-${p}`);
  if (sb.envFile) props.push(`EnvironmentFile=${sb.envFile}`);
  return props;
}

/** Every dyno's unit is in this slice. */
const SLICE = "dynoform.slice";

export function unitName(unit: string): string {
  return unit.endsWith(".service") ? unit : `${unit}.service`;
}

/**
 * The sandbox of every dyno (one-offs included). Each property is one systemd 252 (Debian bookworm)
 * knows as a transient property; where the kernel or a container lacks a feature, systemd skips
 * PrivateIPC/ProtectHostname and leaves cgroup limits unenforced rather than failing the unit.
 * What a dyno can write: its private /tmp and /var/tmp (PrivateTmp) and /dev/shm; the rest of the
 * filesystem is read-only (its slug already was) and /home, /root, /run/user are inaccessible.
 */
function sandboxBaseline(spec: LaunchSpec): string[] {
  return [
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateDevices=yes", // no block devices, no raw I/O; /dev/null, zero, random, tty, pts, shm stay
    "PrivateIPC=yes", // own SysV IPC and POSIX message queues
    // POSIX shared memory is files in /dev/shm, which PrivateDevices binds from the host: a tmpfs of
    // the dyno's own instead, no bigger than its memory quota
    `TemporaryFileSystem=/dev/shm:mode=1777,nosuid,nodev,size=${spec.memoryMb}M`,
    // The host's world-writable lock dir (its own tmpfs, which ProtectSystem=strict leaves writable
    // in the lab's systemd 252) would be a channel between dynos of different apps and into host daemons.
    "ReadOnlyPaths=-/run/lock",
    "ProtectProc=invisible", // /proc lists only the app user's processes
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes", // readable (apps read their memory limit there), not writable
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictSUIDSGID=yes",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "LockPersonality=yes",
    "SystemCallArchitectures=native",
    "CapabilityBoundingSet=", // empty: no capability, even through file capabilities
    "RemoveIPC=yes", // the app user's IPC objects go with its last unit
    "UMask=0077", // what a dyno writes is its app user's alone
  ];
}

/** Properties shared by long-running and one-off dynos. */
export function unitProperties(spec: LaunchSpec, stopTimeoutMs: number): string[] {
  stopTimeoutMs = spec.stopTimeoutMs ?? stopTimeoutMs;
  const hardMb = spec.memoryMb * 2; // R15: Heroku kills at 2x the quota
  const highMb = Math.floor(hardMb * 0.9); // kernel reclaims/throttles just before the kill
  const props = [
    "KillMode=control-group", // SIGTERM to every process of the dyno, like Heroku
    "KillSignal=SIGTERM",
    "SendSIGKILL=yes",
    `TimeoutStopSec=${Math.ceil(stopTimeoutMs / 1000)}s`,
    "MemoryAccounting=yes",
    `MemoryHigh=${highMb}M`,
    `MemoryMax=${hardMb}M`,
    "MemorySwapMax=0",
    "OOMPolicy=stop",
    // per size: a share of the CPU under contention, a ceiling, Heroku's process/thread limit
    `CPUWeight=${spec.limits.cpuWeight}`,
    `CPUQuota=${spec.limits.cpuQuotaPercent}%`,
    `TasksMax=${spec.limits.tasksMax}`,
    ...sandboxBaseline(spec),
    "StandardInput=null",
  ];
  return props;
}

/** The full systemd-run argv (without the "systemd-run" itself) for a long-running dyno. */
export function systemdRunArgs(spec: LaunchSpec, stopTimeoutMs: number, sandbox?: Sandbox): string[] {
  const args = [
    `--unit=${unitName(spec.unit)}`,
    `--description=dynoform dyno ${spec.app} ${spec.dyno}`,
    `--slice=${SLICE}`,
    "--quiet",
  ];
  if (spec.user) args.push(`--uid=${spec.user.uid}`, `--gid=${spec.user.gid}`);
  args.push(`--working-directory=${spec.cwd}`);
  for (const p of unitProperties(spec, stopTimeoutMs)) args.push("-p", p);
  args.push("-p", "RemainAfterExit=yes");
  if (spec.logFile) args.push("-p", `StandardOutput=append:${spec.logFile}`, "-p", `StandardError=append:${spec.logFile}`);
  for (const p of sandboxProps(spec, sandbox)) args.push("-p", p);
  if (!sandbox?.envFile) for (const [k, v] of Object.entries(spec.env)) args.push(`--setenv=${k}=${v}`);
  args.push("--", ...wrapperArgv(spec.command));
  return args;
}

/** argv for a one-off (attached) dyno: stdio piped through systemd-run, exit status returned by it. */
export function systemdRunAttachedArgs(spec: LaunchSpec, stopTimeoutMs: number, sandbox?: Sandbox): string[] {
  const args = [`--unit=${unitName(spec.unit)}`, `--description=dynoform one-off ${spec.app} ${spec.dyno}`, `--slice=${SLICE}`, "--quiet", "--pipe", "--wait", "--collect"];
  if (spec.user) args.push(`--uid=${spec.user.uid}`, `--gid=${spec.user.gid}`);
  args.push(`--working-directory=${spec.cwd}`);
  for (const p of unitProperties(spec, stopTimeoutMs)) if (p !== "StandardInput=null") args.push("-p", p);
  for (const p of sandboxProps(spec, sandbox)) args.push("-p", p);
  if (!sandbox?.envFile) for (const [k, v] of Object.entries(spec.env)) args.push(`--setenv=${k}=${v}`);
  args.push("--", ...wrapperArgv(spec.command));
  return args;
}

export interface UnitState {
  id: string;
  loadState: string;
  activeState: string;
  subState: string;
  result: string;
  mainPid: number;
  execMainCode: number;
  execMainStatus: number;
  memoryCurrent: number | null;
  controlGroup: string;
}

export const SHOW_PROPS = "Id,LoadState,ActiveState,SubState,Result,MainPID,ExecMainCode,ExecMainStatus,MemoryCurrent,ControlGroup";

/** Parse `systemctl show -p ... a b c` output: one block per unit, blank-line separated, in order. */
export function parseShow(out: string): UnitState[] {
  const blocks = out.split(/\n\s*\n/).filter((b) => b.trim());
  return blocks.map((b) => {
    const kv: Record<string, string> = {};
    for (const line of b.split("\n")) {
      const i = line.indexOf("=");
      if (i > 0) kv[line.slice(0, i)] = line.slice(i + 1);
    }
    const mem = kv.MemoryCurrent;
    return {
      id: kv.Id ?? "",
      loadState: kv.LoadState ?? "",
      activeState: kv.ActiveState ?? "",
      subState: kv.SubState ?? "",
      result: kv.Result ?? "",
      mainPid: Number(kv.MainPID ?? 0),
      execMainCode: Number(kv.ExecMainCode ?? 0),
      execMainStatus: Number(kv.ExecMainStatus ?? 0),
      memoryCurrent: mem && /^\d+$/.test(mem) ? Number(mem) : null,
      controlGroup: kv.ControlGroup ?? "",
    };
  });
}

const SIGNAMES: Record<number, string> = { 1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM" };

/** Has the main process exited, and how? null while it runs. */
export function exitFromState(s: UnitState): ExitInfo | null {
  const running = s.activeState === "active" ? s.subState !== "exited" : s.activeState === "activating" || s.activeState === "deactivating" || s.activeState === "reloading";
  if (running) return null;
  if (s.loadState === "not-found" || (s.activeState === "inactive" && s.execMainCode === 0)) return { status: null, signal: null, oom: false };
  const oom = s.result === "oom-kill";
  // ExecMainCode: 1 CLD_EXITED, 2 CLD_KILLED, 3 CLD_DUMPED
  if (s.execMainCode === 2 || s.execMainCode === 3) {
    return { status: 128 + s.execMainStatus, signal: SIGNAMES[s.execMainStatus] ?? `SIG${s.execMainStatus}`, oom };
  }
  return { status: s.execMainStatus, signal: null, oom };
}

function defaultExec(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      // never err.message: it holds the whole command line (env values without a sandbox)
      if (err) reject(new Error(`${cmd} ${args[0] ?? ""}: ${stderr.trim() || `failed (${err.code ?? err.signal ?? "error"})`}`));
      else resolve(stdout);
    });
  });
}

export class SystemdSupervisor implements Supervisor {
  readonly kind = "systemd" as const;
  private readonly exec: (cmd: string, args: string[]) => Promise<string>;
  private readonly watchers = new Map<string, Set<(e: ExitInfo) => void>>();
  private readonly memory = new Map<string, UnitState>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(private readonly opts: SystemdOptions) {
    this.exec = opts.exec ?? defaultExec;
  }

  private sandbox(unit: string): Sandbox | undefined {
    const o = this.opts;
    if (!o.envDir && !o.hide?.length && !o.inaccessible?.length) return undefined;
    return { envFile: o.envDir ? this.envFile(unit) : undefined, hide: o.hide, inaccessible: o.inaccessible };
  }

  private envFile(unit: string): string {
    return path.join(this.opts.envDir!, `${unitName(unit)}.env`);
  }

  private writeEnv(spec: LaunchSpec): void {
    if (!this.opts.envDir) return;
    fs.mkdirSync(this.opts.envDir, { recursive: true, mode: 0o700 });
    const file = this.envFile(spec.unit);
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, environmentFile(spec.env), { mode: 0o600 });
    fs.renameSync(tmp, file);
  }

  private removeEnv(unit: string): void {
    if (this.opts.envDir) fs.rmSync(this.envFile(unit), { force: true });
  }

  async start(spec: LaunchSpec): Promise<DynoRef> {
    this.writeEnv(spec);
    try {
      await this.exec("systemd-run", systemdRunArgs(spec, this.opts.stopTimeoutMs, this.sandbox(spec.unit)));
    } catch (e) {
      this.removeEnv(spec.unit);
      throw e;
    }
    const [st] = await this.show([spec.unit]);
    return { supervisor: "systemd", unit: spec.unit, pid: st?.mainPid ?? 0 };
  }

  async show(units: string[]): Promise<UnitState[]> {
    if (units.length === 0) return [];
    return parseShow(await this.exec("systemctl", ["show", `--property=${SHOW_PROPS}`, ...units.map(unitName)]));
  }

  onExit(ref: DynoRef, cb: (e: ExitInfo) => void): () => void {
    let set = this.watchers.get(ref.unit);
    if (!set) this.watchers.set(ref.unit, (set = new Set()));
    let done = false;
    const once = (e: ExitInfo) => {
      if (!done) {
        done = true;
        cb(e);
      }
    };
    set.add(once);
    this.ensureTimer();
    return () => {
      done = true;
      set!.delete(once);
    };
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? 500);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const units = [...this.watchers.keys()];
      if (units.length === 0) return;
      const states = await this.show(units);
      units.forEach((u, i) => {
        const s = states[i];
        if (!s) return;
        this.memory.set(u, s);
        const e = exitFromState(s);
        if (!e) return;
        const cbs = this.watchers.get(u);
        this.watchers.delete(u);
        for (const cb of cbs ?? []) cb(e);
      });
    } catch {
      /* systemctl hiccup: try again next tick */
    } finally {
      this.polling = false;
    }
  }

  async isRunning(ref: DynoRef): Promise<boolean> {
    const [s] = await this.show([ref.unit]);
    return !!s && exitFromState(s) === null;
  }

  async kill(ref: DynoRef, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    // default --kill-whom is "all": every process in the unit's cgroup
    await this.exec("systemctl", ["kill", `--signal=${signal}`, unitName(ref.unit)]).catch(() => undefined);
  }

  async memoryBytes(ref: DynoRef): Promise<number | null> {
    const s = this.memory.get(ref.unit) ?? (await this.show([ref.unit]))[0];
    if (!s) return null;
    if (s.memoryCurrent !== null) return s.memoryCurrent;
    return cgroupRss(s.controlGroup);
  }

  async reap(ref: DynoRef): Promise<void> {
    this.memory.delete(ref.unit);
    await this.exec("systemctl", ["stop", unitName(ref.unit)]).catch(() => undefined);
    await this.exec("systemctl", ["reset-failed", unitName(ref.unit)]).catch(() => undefined);
    this.removeEnv(ref.unit);
  }

  runAttached(spec: LaunchSpec): ChildProcess {
    this.writeEnv(spec);
    const child = spawn("systemd-run", systemdRunAttachedArgs(spec, this.opts.stopTimeoutMs, this.sandbox(spec.unit)), { stdio: ["pipe", "pipe", "pipe"] });
    child.once("close", () => this.removeEnv(spec.unit));
    return child;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Summed RSS (bytes) of the processes in a cgroup, found in whichever hierarchy is mounted; null if none. */
export function cgroupRss(cg: string, root = "/sys/fs/cgroup"): number | null {
  if (!cg || !cg.startsWith("/")) return null;
  for (const h of ["", "/unified", "/systemd"]) {
    let pids: string[];
    try {
      pids = fs.readFileSync(`${root}${h}${cg}/cgroup.procs`, "utf8").split("\n").filter(Boolean);
    } catch {
      continue;
    }
    let kb = 0;
    for (const pid of pids) {
      try {
        const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        if (m) kb += Number(m[1]);
      } catch {
        /* exited meanwhile */
      }
    }
    return kb * 1024;
  }
  return null;
}

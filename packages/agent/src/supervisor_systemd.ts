// systemd supervisor: each dyno is a transient service made with systemd-run (own cgroup,
// memory limit from its size, whole-cgroup kill on stop). Output goes to the dyno's log file
// (StandardOutput=append:), which the agent tails exactly as for the process supervisor.
//
// Unit lifecycle: RemainAfterExit=yes keeps the unit loaded after its main process exits, so
// the agent can read Result/ExecMainStatus; release() then stops it (killing stragglers in the
// cgroup) and reset-failed unloads it. Exit is detected by one batched `systemctl show` poll.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import type { DynoRef, ExitInfo, LaunchSpec, Supervisor } from "./supervisor";
import { wrapperArgv } from "./supervisor";

export interface SystemdOptions {
  stopTimeoutMs: number;
  pollMs?: number;
  slice?: string;
  /** injectable for tests */
  exec?: (cmd: string, args: string[]) => Promise<string>;
}

export function unitName(unit: string): string {
  return unit.endsWith(".service") ? unit : `${unit}.service`;
}

/** Properties shared by long-running and one-off dynos. */
export function unitProperties(spec: LaunchSpec, stopTimeoutMs: number): string[] {
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
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "ProtectSystem=full",
    "StandardInput=null",
  ];
  return props;
}

/** The full systemd-run argv (without the "systemd-run" itself) for a long-running dyno. */
export function systemdRunArgs(spec: LaunchSpec, stopTimeoutMs: number, slice = "dynoform.slice"): string[] {
  const args = [
    `--unit=${unitName(spec.unit)}`,
    `--description=dynoform dyno ${spec.app} ${spec.dyno}`,
    `--slice=${slice}`,
    "--quiet",
  ];
  if (spec.user) args.push(`--uid=${spec.user.uid}`, `--gid=${spec.user.gid}`);
  args.push(`--working-directory=${spec.cwd}`);
  for (const p of unitProperties(spec, stopTimeoutMs)) args.push("-p", p);
  args.push("-p", "RemainAfterExit=yes");
  if (spec.logFile) args.push("-p", `StandardOutput=append:${spec.logFile}`, "-p", `StandardError=append:${spec.logFile}`);
  for (const [k, v] of Object.entries(spec.env)) args.push(`--setenv=${k}=${v}`);
  args.push("--", ...wrapperArgv(spec.command));
  return args;
}

/** argv for a one-off (attached) dyno: stdio piped through systemd-run, exit status returned by it. */
export function systemdRunAttachedArgs(spec: LaunchSpec, stopTimeoutMs: number, slice = "dynoform.slice"): string[] {
  const args = [`--unit=${unitName(spec.unit)}`, `--description=dynoform one-off ${spec.app} ${spec.dyno}`, `--slice=${slice}`, "--quiet", "--pipe", "--wait", "--collect"];
  if (spec.user) args.push(`--uid=${spec.user.uid}`, `--gid=${spec.user.gid}`);
  args.push(`--working-directory=${spec.cwd}`);
  for (const p of unitProperties(spec, stopTimeoutMs)) if (p !== "StandardInput=null") args.push("-p", p);
  for (const [k, v] of Object.entries(spec.env)) args.push(`--setenv=${k}=${v}`);
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
}

export const SHOW_PROPS = "Id,LoadState,ActiveState,SubState,Result,MainPID,ExecMainCode,ExecMainStatus,MemoryCurrent";

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
      if (err) reject(new Error(`${cmd} ${args.slice(0, 3).join(" ")}...: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

export class SystemdSupervisor implements Supervisor {
  readonly kind = "systemd" as const;
  private readonly exec: (cmd: string, args: string[]) => Promise<string>;
  private readonly watchers = new Map<string, Set<(e: ExitInfo) => void>>();
  private readonly memory = new Map<string, number | null>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(private readonly opts: SystemdOptions) {
    this.exec = opts.exec ?? defaultExec;
  }

  async start(spec: LaunchSpec): Promise<DynoRef> {
    await this.exec("systemd-run", systemdRunArgs(spec, this.opts.stopTimeoutMs, this.opts.slice));
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
        this.memory.set(u, s.memoryCurrent);
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
    if (this.memory.has(ref.unit)) return this.memory.get(ref.unit) ?? null;
    const [s] = await this.show([ref.unit]);
    return s?.memoryCurrent ?? null;
  }

  async release(ref: DynoRef): Promise<void> {
    this.memory.delete(ref.unit);
    await this.exec("systemctl", ["stop", unitName(ref.unit)]).catch(() => undefined);
    await this.exec("systemctl", ["reset-failed", unitName(ref.unit)]).catch(() => undefined);
  }

  runAttached(spec: LaunchSpec): ChildProcess {
    return spawn("systemd-run", systemdRunAttachedArgs(spec, this.opts.stopTimeoutMs, this.opts.slice), { stdio: ["pipe", "pipe", "pipe"] });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

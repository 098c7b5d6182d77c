// The contract between a dyno and whatever actually runs its process tree.
// Two implementations: supervisor_systemd.ts (real hosts) and supervisor_process.ts (direct children).
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";

export interface DynoUser {
  name: string;
  uid: number;
  gid: number;
}

/** Per-size limits besides memory (Heroku's dyno sizes; see config.ts DEFAULT_SIZES). */
export interface SizeLimits {
  /** tasks (processes + threads) of the whole dyno: Heroku's process/thread limit */
  tasksMax: number;
  /** CPU share under contention (systemd CPUWeight, 100 = one standard-1x) */
  cpuWeight: number;
  /** CPU ceiling in percent of one core (systemd CPUQuota) */
  cpuQuotaPercent: number;
}

export interface LaunchSpec {
  /** unique name of this dyno instance; the systemd unit name without ".service" */
  unit: string;
  app: string;
  dyno: string;
  /** Procfile command line, run by bash after sourcing .profile.d/*.sh (Heroku's contract) */
  command: string;
  cwd: string;
  env: Record<string, string>;
  user?: DynoUser;
  /** dyno size memory quota in MB (R14 above it; hard limit, R15, at 2x) */
  memoryMb: number;
  /** the size's task and CPU limits (systemd: TasksMax, CPUWeight, CPUQuota; the process supervisor has none) */
  limits: SizeLimits;
  /** stdout and stderr are appended here (O_APPEND); the agent tails the file */
  logFile?: string;
  /** SIGTERM → this grace → SIGKILL (default: the agent's stopTimeoutMs) */
  stopTimeoutMs?: number;
}

/** What is persisted to re-adopt a running dyno after an agent restart. */
export interface DynoRef {
  supervisor: "process" | "systemd";
  unit: string;
  pid: number;
  /** /proc/<pid>/stat field 22 (process start time in clock ticks), guards against pid reuse */
  startTime?: string;
}

export interface ExitInfo {
  /** Heroku's "Process exited with status N": exit code, or 128+signal; null when unknown (adopted) */
  status: number | null;
  signal: string | null;
  /** killed by the kernel/systemd for exceeding the memory limit */
  oom: boolean;
}

export interface Supervisor {
  readonly kind: "process" | "systemd";
  start(spec: LaunchSpec): Promise<DynoRef>;
  /** Calls cb once when the dyno's main process has exited (immediately if it already has). */
  onExit(ref: DynoRef, cb: (e: ExitInfo) => void): () => void;
  isRunning(ref: DynoRef): Promise<boolean>;
  /** Signal every process of the dyno. */
  kill(ref: DynoRef, signal: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Memory in use by the whole dyno (RSS / cgroup), null when unknown. */
  memoryBytes(ref: DynoRef): Promise<number | null>;
  /** After exit: kill stragglers and free what the supervisor holds for the dyno. */
  reap(ref: DynoRef): Promise<void>;
  /** One-off dyno with stdio piped to the agent (no log file); exit code via the ChildProcess. */
  runAttached(spec: LaunchSpec): ChildProcess;
  /** Stop watching (agent shutdown); never stops dynos. */
  close(): void;
}

/** bash -c wrapper: source .profile.d like Heroku, then exec the command (bash execs a simple command). */
export const WRAPPER = 'for f in .profile.d/*.sh; do [ -r "$f" ] && . "./$f"; done; unset f; exec /bin/bash -c "$1"';

export function wrapperArgv(command: string): string[] {
  return ["/bin/bash", "-c", WRAPPER, "dyno", command];
}

export function signalNumber(sig: string | null): number {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };
  return sig ? table[sig] ?? 0 : 0;
}

/** Field 22 of /proc/<pid>/stat and the state letter; null when the process is gone. */
export function procStat(pid: number): { startTime: string; state: string; pgrp: number; rssPages: number } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); field N is rest[N-3]
    return { state: rest[0], pgrp: Number(rest[2]), startTime: rest[19], rssPages: Number(rest[21]) };
  } catch {
    return null;
  }
}

export function pidAlive(pid: number, startTime?: string): boolean {
  const st = procStat(pid);
  if (!st || st.state === "Z" || st.state === "X") return false;
  return startTime === undefined || st.startTime === startTime;
}

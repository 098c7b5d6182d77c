// Process supervisor: each dyno is a direct child in its own session/process group.
// Used where PID 1 is not systemd (dev machines, containers). Same contract as systemd:
// group-wide SIGTERM/SIGKILL, memory measured as RSS of the process group, optional setuid.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import type { DynoRef, ExitInfo, LaunchSpec, Supervisor } from "./supervisor";
import { pidAlive, procStat, signalNumber, wrapperArgv } from "./supervisor";

const PAGE = 4096;
/** How often an adopted dyno (not a child of this agent) is looked for in /proc. */
const ADOPTED_POLL_MS = 200;

export class ProcessSupervisor implements Supervisor {
  readonly kind = "process" as const;
  private readonly children = new Map<string, ChildProcess>();
  private readonly exits = new Map<string, ExitInfo>();
  private readonly timers = new Set<NodeJS.Timeout>();

  async start(spec: LaunchSpec): Promise<DynoRef> {
    const out = spec.logFile ? fs.openSync(spec.logFile, "a", 0o640) : "ignore";
    try {
      const [cmd, ...args] = wrapperArgv(spec.command);
      const child = spawn(cmd, args, {
        cwd: spec.cwd,
        env: spec.env,
        detached: true, // setsid(): own session and process group, survives the agent
        stdio: ["ignore", out, out],
        uid: spec.user?.uid,
        gid: spec.user?.gid,
      });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
      child.unref(); // the agent may exit without waiting for dynos
      this.children.set(spec.unit, child);
      child.once("exit", (code, signal) => {
        this.exits.set(spec.unit, { status: code ?? 128 + signalNumber(signal), signal, oom: false });
      });
      const pid = child.pid!;
      return { supervisor: "process", unit: spec.unit, pid, startTime: procStat(pid)?.startTime };
    } finally {
      if (typeof out === "number") fs.closeSync(out);
    }
  }

  onExit(ref: DynoRef, cb: (e: ExitInfo) => void): () => void {
    let done = false;
    const fire = (e: ExitInfo) => {
      if (done) return;
      done = true;
      cleanup();
      cb(e);
    };
    const known = this.exits.get(ref.unit);
    const child = this.children.get(ref.unit);
    let timer: NodeJS.Timeout | undefined;
    const onChildExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fire({ status: code ?? 128 + signalNumber(signal), signal, oom: false });
    const cleanup = () => {
      child?.off("exit", onChildExit);
      if (timer) {
        clearInterval(timer);
        this.timers.delete(timer);
      }
    };
    if (known) {
      setImmediate(() => fire(known));
    } else if (child && child.exitCode === null && child.signalCode === null) {
      child.on("exit", onChildExit);
    } else {
      // adopted: not our child, poll /proc
      timer = setInterval(() => {
        if (!pidAlive(ref.pid, ref.startTime)) fire({ status: null, signal: null, oom: false });
      }, ADOPTED_POLL_MS);
      this.timers.add(timer);
    }
    return () => {
      done = true;
      cleanup();
    };
  }

  async isRunning(ref: DynoRef): Promise<boolean> {
    if (this.exits.has(ref.unit)) return false;
    return pidAlive(ref.pid, ref.startTime);
  }

  async kill(ref: DynoRef, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    // the group may outlive its leader, so signal it when the leader is gone too
    if (!this.exits.has(ref.unit) && !pidAlive(ref.pid, ref.startTime)) {
      if (groupMembers(ref.pid).length === 0) return;
    }
    try {
      process.kill(-ref.pid, signal);
    } catch {
      try {
        process.kill(ref.pid, signal);
      } catch {
        /* gone */
      }
    }
  }

  async memoryBytes(ref: DynoRef): Promise<number | null> {
    const members = groupMembers(ref.pid);
    if (members.length === 0) return null;
    let pages = 0;
    for (const pid of members) pages += procStat(pid)?.rssPages ?? 0;
    return pages * PAGE;
  }

  async reap(ref: DynoRef): Promise<void> {
    if (groupMembers(ref.pid).length > 0) {
      try {
        process.kill(-ref.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    this.children.delete(ref.unit);
    this.exits.delete(ref.unit);
  }

  runAttached(spec: LaunchSpec): ChildProcess {
    const [cmd, ...args] = wrapperArgv(spec.command);
    return spawn(cmd, args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
      uid: spec.user?.uid,
      gid: spec.user?.gid,
    });
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
  }
}

/** Live (non-zombie) processes whose process group is `pgid`. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  let names: string[];
  try {
    names = fs.readdirSync("/proc");
  } catch {
    return out;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const st = procStat(Number(n));
    if (st && st.pgrp === pgid && st.state !== "Z" && st.state !== "X") out.push(Number(n));
  }
  return out;
}

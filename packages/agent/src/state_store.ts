// Agent state on disk (<stateDir>/state.json): every app's desired state and dyno instances with
// what is needed to re-adopt them (pid + start time, or unit name). Written atomically.
import * as fs from "node:fs";
import * as path from "node:path";
import type { AppRecord } from "./app";

export interface AgentState {
  version: 1;
  apps: Record<string, AppRecord>;
}

export class StateStore {
  readonly file: string;
  private timer: NodeJS.Timeout | undefined;
  private pending: (() => AgentState) | undefined;

  constructor(dir: string, private readonly debounceMs = 20) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = path.join(dir, "state.json");
  }

  load(): AgentState {
    try {
      const s = JSON.parse(fs.readFileSync(this.file, "utf8")) as AgentState;
      if (s && s.version === 1 && s.apps) return s;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") process.stderr.write(`dynoform-agent: ignoring unreadable ${this.file}: ${(e as Error).message}\n`);
    }
    return { version: 1, apps: {} };
  }

  /** Schedule a write of snapshot() (coalesced). */
  save(snapshot: () => AgentState): void {
    this.pending = snapshot;
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.debounceMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const snap = this.pending;
    this.pending = undefined;
    if (!snap) return;
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(snap(), null, 1), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}

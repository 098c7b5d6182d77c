// Agent state on disk (<stateDir>/state.json): every app's desired state and dyno instances with
// what is needed to re-adopt them (pid + start time, or unit name). Written atomically and durably
// (fsync of the file, rename, fsync of the directory): after a crash or power loss the file is the
// old state or the new one, never a torn one.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseRelease } from "@dynoform/contract";
import type { AgentAppRecord } from "./app";

export interface AgentState {
  version: 1;
  apps: Record<string, AgentAppRecord>;
}

/** Changes this close together are written once. */
const DEBOUNCE_MS = 20;

export class StateStore {
  readonly file: string;
  private timer: NodeJS.Timeout | undefined;
  private pending: (() => AgentState) | undefined;

  constructor(dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = path.join(dir, "state.json");
  }

  /**
   * The saved state; empty only when there is no file. A file that cannot be read as state is an
   * error: starting empty would forget the dynos that still run (orphans holding their ports).
   */
  load(): AgentState {
    let text: string;
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, apps: {} };
      throw new StateFileError(this.file, (e as Error).message);
    }
    let s: AgentState | undefined;
    try {
      s = JSON.parse(text) as AgentState;
    } catch (e) {
      throw new StateFileError(this.file, (e as Error).message);
    }
    if (!s || s.version !== 1 || typeof s.apps !== "object" || s.apps === null) throw new StateFileError(this.file, "not an agent state (version 1 with apps)");
    try {
      for (const app of Object.values(s.apps)) {
        // Earlier agents' state files hold releases as "v3": parseRelease reads both forms, so an
        // upgraded agent keeps its apps running.
        app.desired.release = parseRelease(app.desired.release, "desired.release");
        for (const d of [...app.dynos, ...app.retiring]) d.spec.release = parseRelease(d.spec.release, `${d.spec.name}.release`);
      }
    } catch (e) {
      throw new StateFileError(this.file, (e as Error).message);
    }
    return s;
  }

  /** Schedule a write of snapshot() (coalesced). */
  save(snapshot: () => AgentState): void {
    this.pending = snapshot;
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), DEBOUNCE_MS);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const snap = this.pending;
    this.pending = undefined;
    if (!snap) return;
    const tmp = `${this.file}.tmp`;
    const fd = fs.openSync(tmp, "w", 0o600);
    try {
      fs.writeFileSync(fd, JSON.stringify(snap(), null, 1));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    const dir = fs.openSync(path.dirname(this.file), "r");
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  }
}

export class StateFileError extends Error {
  constructor(file: string, why: string) {
    super(
      `${file} cannot be read as agent state (${why}); refusing to start, since starting empty would forget the dynos that still run. ` +
        `Restore the file, or move it aside to start empty and then stop the dynos it knew: systemctl stop 'dyno-*'`,
    );
    this.name = "StateFileError";
  }
}

// One app on this host: reconciles its desired state into dyno instances. A dyno whose spec
// changed (release, command, env, size) is replaced by a new instance; the old one keeps serving
// until its replacement is up, then is deregistered and stopped (zero-downtime rollout).
import { processTypeOf, publicSlug, type AppStatus, type DesiredState } from "@dynoform/contract";
import type { AgentConfig } from "./config";
import { sizeFor } from "./desired_state";
import { Dyno, specHash, type DynoContext, type DynoSpec, type InstanceRecord } from "./dyno";

/** An app as state.json keeps it, to take it up again after an agent restart. */
export interface AgentAppRecord {
  desired: DesiredState;
  /** unpacked slug dir of the desired release */
  cwd: string;
  dynos: InstanceRecord[];
  retiring: InstanceRecord[];
  oneOffCounter: number;
}

export class App {
  desired: DesiredState;
  cwd: string;
  /** newest instance per dyno name */
  readonly dynos = new Map<string, Dyno>();
  /** instance that keeps serving a name until the newest instance is up */
  readonly retiring = new Map<string, Dyno>();
  readonly stopping = new Set<Dyno>();
  oneOffCounter = 0;
  lastError: string | undefined;

  constructor(
    readonly name: string,
    private readonly ctx: DynoContext,
    desired: DesiredState,
    cwd: string,
  ) {
    this.desired = desired;
    this.cwd = cwd;
  }

  private get config(): AgentConfig {
    return this.ctx.config;
  }

  specFor(name: string): DynoSpec {
    const type = processTypeOf(name);
    const d = this.desired;
    const { size, memoryMb } = sizeFor(d, type, this.config);
    const s = {
      app: this.name,
      name,
      type,
      release: d.release,
      slugSha: d.slug?.sha256 ?? "",
      command: d.processTypes[type],
      cwd: this.cwd,
      env: d.env,
      size,
      memoryMb,
      concurrency: d.concurrency ?? this.config.concurrency,
      ...(d.bootTimeoutMs !== undefined ? { bootTimeoutMs: d.bootTimeoutMs } : {}),
      ...(d.stopTimeoutMs !== undefined ? { stopTimeoutMs: d.stopTimeoutMs } : {}),
    };
    return { ...s, specHash: specHash(s) };
  }

  /** Apply a new desired state (slug already on disk at cwd). */
  apply(desired: DesiredState, cwd: string): void {
    this.desired = desired;
    this.cwd = cwd;
    this.lastError = undefined;
    this.reconcile();
  }

  reconcile(): void {
    const want = new Set(this.desired.dynos);
    for (const name of want) {
      const spec = this.specFor(name);
      const cur = this.dynos.get(name);
      if (cur && cur.spec.specHash === spec.specHash) continue;
      const next = this.newDyno(spec);
      if (cur) {
        if (cur.state === "up") {
          const older = this.retiring.get(name);
          if (older) this.retire(older);
          this.retiring.set(name, cur);
        } else {
          this.retire(cur);
        }
      }
      this.dynos.set(name, next);
      void next.start();
    }
    for (const [name, d] of [...this.dynos]) {
      if (want.has(name)) continue;
      this.dynos.delete(name);
      this.retire(d);
      const old = this.retiring.get(name);
      if (old) {
        this.retiring.delete(name);
        this.retire(old);
      }
    }
    this.ctx.changed();
  }

  private newDyno(spec: DynoSpec, instance?: string): Dyno {
    const d = new Dyno(this.ctx, spec, instance);
    d.onStateChange((dyno, _from, to) => {
      if (to === "up" && this.dynos.get(dyno.name) === dyno) {
        const old = this.retiring.get(dyno.name);
        if (old) {
          this.retiring.delete(dyno.name);
          this.retire(old);
        }
      }
    });
    return d;
  }

  private retire(d: Dyno): void {
    if (this.retiring.get(d.name) === d) this.retiring.delete(d.name);
    this.stopping.add(d);
    void d.stop().finally(() => {
      this.stopping.delete(d);
      this.ctx.changed();
    });
  }

  /** Restart all dynos, one process type ("web") or one dyno ("web.1"). Returns the names restarted. */
  async restart(which?: string): Promise<string[]> {
    const targets = [...this.dynos.values()].filter((d) => !which || d.name === which || d.spec.type === which);
    await Promise.all(targets.map((d) => d.restart()));
    return targets.map((d) => d.name);
  }

  /** Stop every dyno (app removed from this host). */
  async stopAll(): Promise<void> {
    this.desired = { ...this.desired, dynos: [] };
    this.reconcile();
    await this.settled();
  }

  /** Resolves when no instance is stopping. */
  async settled(): Promise<void> {
    while (this.stopping.size) await Promise.all([...this.stopping].map((d) => d.stop()));
  }

  /** Every instance, current and retiring/stopping (slugs in use, etc.). */
  all(): Dyno[] {
    return [...new Set([...this.dynos.values(), ...this.retiring.values(), ...this.stopping])];
  }

  record(): AgentAppRecord {
    const stopping = [...this.stopping].filter((d) => d.state !== "down");
    return {
      desired: this.desired,
      cwd: this.cwd,
      dynos: [...this.dynos.values()].map((d) => d.record()),
      retiring: [...this.retiring.values(), ...stopping.filter((d) => ![...this.retiring.values()].includes(d))].map((d) => d.record()),
      oneOffCounter: this.oneOffCounter,
    };
  }

  /** Rebuild from disk after an agent restart, re-adopting running processes. */
  async adopt(rec: AgentAppRecord): Promise<void> {
    this.oneOffCounter = rec.oneOffCounter ?? 0;
    for (const r of rec.dynos) {
      const d = this.newDyno(r.spec, r.instance);
      this.dynos.set(r.spec.name, d);
      await d.adopt(r);
    }
    for (const r of rec.retiring) {
      const d = this.newDyno(r.spec, r.instance);
      await d.adopt(r);
      if (d.state === "up") this.retiring.set(r.spec.name, d);
      else if (d.state !== "down") this.retire(d);
    }
    // a replacement that came up while the agent was away
    for (const [name, old] of [...this.retiring]) if (this.dynos.get(name)?.state === "up") this.retire(old);
    this.reconcile();
  }

  detach(): void {
    for (const d of this.all()) d.detach();
  }

  /** The app's status without its one-offs (the agent runs those). */
  status(): Omit<AppStatus, "oneOffs"> {
    const sort = (a: Dyno, b: Dyno) => a.name.localeCompare(b.name, "en", { numeric: true });
    return {
      app: this.name,
      release: this.desired.release,
      slug: this.desired.slug ? publicSlug(this.desired.slug) : null,
      processTypes: this.desired.processTypes,
      desiredDynos: this.desired.dynos,
      dynos: [...this.dynos.values()].sort(sort).map((d) => d.status()),
      retiring: [...new Set([...this.retiring.values(), ...this.stopping])].filter((d) => this.dynos.get(d.name) !== d).sort(sort).map((d) => d.status()),
      lastError: this.lastError ?? null,
    };
  }
}

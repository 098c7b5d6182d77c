// The authoritative routing table, held by the primary process: app routes and placements (set by
// the control role) and dynos (registered by agents, each with a lease). Workers receive snapshots
// of routes and dynos; placements only decide which dyno hosts may register an app's dynos.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { APP_NAME, DYNO_ADDRESS, DYNO_NAME, parseRelease, type AppRoute, type DynoInfo } from "@dynoform/contract";
import { hostOf } from "./addresses";

/** A registration with its lease. */
export interface DynoRecord extends DynoInfo {
  leaseMs: number;
  expiresAt: number;
  registeredAt: number;
}

export interface Snapshot {
  version: number;
  apps: AppRoute[];
  dynos: DynoInfo[];
}

/** A saved dyno's release; earlier routers saved it as "v3", which parseRelease reads too. */
function savedRelease(v: unknown): number | undefined {
  try {
    return v === undefined ? undefined : parseRelease(v);
  } catch {
    return undefined; // only shown in listings: the dyno is served without it
  }
}

export class DynoTable {
  private apps = new Map<string, AppRoute>();
  private dynos = new Map<string, DynoRecord>(); // key app/dyno
  /** app → the dyno hosts (private addresses) the control role placed it on. */
  private placements = new Map<string, string[]>();
  private version = 0;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onChange: (s: Snapshot) => void,
    private readonly stateFile = "",
    private readonly now: () => number = Date.now,
  ) {
    if (stateFile) {
      try {
        const saved = JSON.parse(readFileSync(stateFile, "utf8")) as { apps?: AppRoute[]; dynos?: DynoRecord[]; placements?: Record<string, string[]> };
        for (const a of saved.apps ?? []) this.apps.set(a.name, a);
        for (const [app, hosts] of Object.entries(saved.placements ?? {})) if (APP_NAME.test(app) && Array.isArray(hosts)) this.placements.set(app, hosts);
        // Dynos whose lease has not lapsed yet (a restart, e.g. an upgrade, saves them on the way
        // out): served at once instead of after the agents' next renewal.
        const t = this.now();
        for (const d of saved.dynos ?? []) {
          if (typeof d.expiresAt === "number" && d.expiresAt > t && APP_NAME.test(d.app) && DYNO_NAME.test(d.dyno) && DYNO_ADDRESS.test(d.address)) {
            this.dynos.set(`${d.app}/${d.dyno}`, { ...d, release: savedRelease(d.release) });
          }
        }
        // A state file from before placements (the upgrade that brings them): the hosts its live
        // dynos were registered from keep renewing until the control role sends the placement.
        if (!saved.placements) {
          for (const d of this.dynos.values()) {
            const hosts = this.placements.get(d.app) ?? [];
            if (!hosts.includes(hostOf(d.address))) this.placements.set(d.app, [...hosts, hostOf(d.address)].sort());
          }
        }
      } catch {
        /* no saved state yet */
      }
    }
  }

  startSweeping(everyMs = 250): void {
    this.sweepTimer = setInterval(() => this.sweep(), everyMs);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }

  /** Remove dynos whose lease lapsed. Returns the removed keys. */
  sweep(): string[] {
    const t = this.now();
    const gone: string[] = [];
    for (const [k, d] of this.dynos) if (d.expiresAt <= t) gone.push(k);
    for (const k of gone) this.dynos.delete(k);
    if (gone.length) this.changed();
    return gone;
  }

  putApp(route: AppRoute): { created: boolean } {
    const prev = this.apps.get(route.name);
    this.apps.set(route.name, route);
    if (!prev || JSON.stringify(prev) !== JSON.stringify(route)) this.changed();
    return { created: !prev };
  }

  /** Which dyno hosts may register the app's dynos (set by the control role before it starts them). */
  putPlacement(app: string, hosts: string[]): void {
    const prev = this.placements.get(app);
    this.placements.set(app, hosts);
    if (JSON.stringify(prev) !== JSON.stringify(hosts)) this.persist();
  }

  placement(app: string): string[] | undefined {
    return this.placements.get(app);
  }

  deleteApp(name: string): boolean {
    const hadPlacement = this.placements.delete(name);
    const had = this.apps.delete(name);
    let removed = false;
    for (const [k, d] of this.dynos) if (d.app === name) { this.dynos.delete(k); removed = true; }
    if (had || removed) this.changed();
    else if (hadPlacement) this.persist();
    return had || removed || hadPlacement;
  }

  /** Register or renew. Only a change of what routing sees (address, concurrency, release) is broadcast. */
  putDyno(info: DynoInfo, leaseMs: number): { created: boolean; expiresAt: number } {
    const key = `${info.app}/${info.dyno}`;
    const prev = this.dynos.get(key);
    const t = this.now();
    const rec: DynoRecord = { ...info, leaseMs, expiresAt: t + leaseMs, registeredAt: prev?.registeredAt ?? t };
    this.dynos.set(key, rec);
    if (!prev || prev.address !== info.address || prev.concurrency !== info.concurrency || prev.release !== info.release) {
      this.changed();
    }
    return { created: !prev, expiresAt: rec.expiresAt };
  }

  /** Deregister the dyno only if it is still the one at `address`: after a dyno moved to another
   * host, the old host's late DELETE must not remove the new registration of the same name. */
  deleteDyno(app: string, dyno: string, address: string): { deleted: boolean; registeredAt?: string } {
    const key = `${app}/${dyno}`;
    const cur = this.dynos.get(key);
    if (!cur) return { deleted: false };
    if (cur.address !== address) return { deleted: false, registeredAt: cur.address };
    this.dynos.delete(key);
    this.changed();
    return { deleted: true };
  }

  listApps(): Array<AppRoute & { configured: boolean; placement: string[]; dynos: Array<DynoInfo & { leaseMs: number; expiresInMs: number }> }> {
    const names = new Set<string>([...this.apps.keys(), ...this.placements.keys()]);
    for (const d of this.dynos.values()) names.add(d.app);
    const t = this.now();
    return [...names].sort().map((name) => {
      const route = this.apps.get(name);
      return {
        ...(route ?? { name, domains: [], holdWhenEmpty: true }),
        configured: !!route,
        placement: this.placements.get(name) ?? [],
        dynos: [...this.dynos.values()]
          .filter((d) => d.app === name)
          .sort((a, b) => a.dyno.localeCompare(b.dyno, "en", { numeric: true }))
          .map((d) => ({ app: d.app, dyno: d.dyno, address: d.address, concurrency: d.concurrency, release: d.release, leaseMs: d.leaseMs, expiresInMs: d.expiresAt - t })),
      };
    });
  }

  snapshot(): Snapshot {
    return {
      version: this.version,
      apps: [...this.apps.values()],
      dynos: [...this.dynos.values()].map((d) => ({ app: d.app, dyno: d.dyno, address: d.address, concurrency: d.concurrency, release: d.release })),
    };
  }

  /** Writes app routes and live dynos (with their lease expiry) to the state file, if any. */
  persist(): void {
    if (!this.stateFile) return;
    const tmp = `${this.stateFile}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify({ apps: [...this.apps.values()], dynos: [...this.dynos.values()], placements: Object.fromEntries(this.placements) }, null, 2));
      renameSync(tmp, this.stateFile);
    } catch (e) {
      process.stderr.write(`dynoform-router: cannot persist state to ${this.stateFile}: ${(e as Error).message}\n`);
    }
  }

  private changed(): void {
    this.version++;
    // Renewals that change nothing are not written; the primary persists once more on shutdown.
    this.persist();
    this.onChange(this.snapshot());
  }
}

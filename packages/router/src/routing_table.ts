// The routing table as one worker sees it: each app's DynoPool, the host names that reach it
// (custom domains, `*.suffix` wildcards, `<app>.<platformDomain>`), and every dyno by key for the
// shared load. Replaced from the primary's snapshots (dyno_table.ts).
import { splitList } from "./addresses";
import type { RouterConfig } from "./config";
import type { AppRoute, DynoInfo } from "@dynoform/contract";
import type { Snapshot } from "./dyno_table";
import { DynoPool } from "./dyno_pool";
import type { LoadList } from "./ipc";
import type { MetricsSnapshot } from "./metrics";
import type { Target } from "./target";

/** The host a Host header (or an absolute-form target's authority) names: lower case, without the
 * port (cut at the first colon, as nginx's $host is) or a trailing dot; "[v6]" keeps its brackets. */
export function requestHost(header: string | undefined): string {
  if (!header) return "";
  let host = header.toLowerCase();
  if (host.startsWith("[")) {
    const e = host.indexOf("]");
    host = host.slice(0, e + 1);
  } else {
    const c = host.indexOf(":");
    if (c >= 0) host = host.slice(0, c);
  }
  if (host.endsWith(".")) host = host.slice(0, -1);
  return host;
}

export class RoutingTable {
  private readonly pools = new Map<string, DynoPool>(); // by app name
  private readonly hosts = new Map<string, DynoPool>();
  private readonly wildcards = new Map<string, DynoPool>(); // by suffix
  private readonly byKey = new Map<string, Target>();
  /** Every worker of every instance balances on its own: a dyno's cap is shared by this many. */
  private readonly balancers: number;

  constructor(private readonly cfg: RouterConfig) {
    this.balancers = cfg.workers * (1 + (cfg.loadListen ? splitList(cfg.peers).length : 0));
  }

  /** The app a request's host reaches. */
  lookup(host: string): DynoPool | undefined {
    const pool = this.hosts.get(host);
    if (pool || !this.wildcards.size) return pool;
    const dot = host.indexOf(".");
    return dot > 0 ? this.wildcards.get(host.slice(dot + 1)) : undefined;
  }

  apply(s: Snapshot): void {
    const routes = new Map<string, AppRoute>();
    const dynos = new Map<string, DynoInfo[]>(); // by app
    for (const r of s.apps) routes.set(r.name, r);
    for (const d of s.dynos) {
      if (!routes.has(d.app)) routes.set(d.app, { name: d.app, domains: [], holdWhenEmpty: true });
      const list = dynos.get(d.app);
      if (list) list.push(d);
      else dynos.set(d.app, [d]);
    }
    for (const [name, pool] of this.pools) {
      if (routes.has(name)) continue;
      this.pools.delete(name);
      pool.close();
    }
    for (const route of routes.values()) {
      let pool = this.pools.get(route.name);
      if (!pool) this.pools.set(route.name, (pool = new DynoPool(route, this.cfg, this.balancers)));
      pool.update(route, dynos.get(route.name) ?? []);
    }
    this.byKey.clear();
    this.hosts.clear();
    this.wildcards.clear();
    for (const pool of this.pools.values()) {
      for (const t of pool.dynos()) this.byKey.set(t.key, t);
      if (this.cfg.platformDomain) this.hosts.set(`${pool.route.name}.${this.cfg.platformDomain}`, pool);
    }
    for (const pool of this.pools.values()) {
      for (const d of pool.route.domains) {
        if (d.startsWith("*.")) this.wildcards.set(d.slice(2), pool);
        else this.hosts.set(d, pool);
      }
    }
    for (const pool of this.pools.values()) pool.serveQueue();
  }

  /** Shared load: this worker's in-flight counts that changed since the last report. */
  loadChanges(): LoadList {
    const out: LoadList = [];
    for (const t of this.byKey.values()) {
      const n = t.loadToReport();
      if (n >= 0) out.push([t.key, n]);
    }
    return out;
  }

  /** Shared load: the other workers' in-flight counts; apps whose dynos got room serve their queue. */
  applyRemote(loads: LoadList): void {
    const wake = new Set<string>();
    for (const [key, n] of loads) {
      const t = this.byKey.get(key);
      if (t && t.setRemoteLoad(n)) wake.add(t.app);
    }
    for (const app of wake) this.pools.get(app)?.serveQueue();
  }

  /** Per app and dyno: queue depth, in-flight count, quarantine (for /metrics). */
  gauges(): Pick<MetricsSnapshot, "queueDepth" | "inflight" | "quarantined"> {
    const queueDepth: Record<string, number> = {};
    const inflight: Record<string, number> = {};
    const quarantined: Record<string, number> = {};
    const now = Date.now();
    for (const [name, pool] of this.pools) {
      queueDepth[name] = pool.queueLength;
      for (const t of pool.dynos()) {
        inflight[`${name}\t${t.dyno}`] = t.inflight;
        quarantined[`${name}\t${t.dyno}`] = t.quarantinedUntil > now ? 1 : 0;
      }
    }
    return { queueDepth, inflight, quarantined };
  }
}

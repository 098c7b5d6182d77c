// Tells every router about this host's up web dynos: PUT with a lease, renewed on an interval
// (so a restarted router is whole again within one interval), DELETE before a dyno stops.
// Routers key dynos by app/dyno; during a rollout the new instance of web.1 re-registers the
// name with its own address, so the old instance must not DELETE it afterwards: each entry
// remembers which instance owns the name.
import type { DynoDeregistration, DynoRegistration, RouterStatus } from "@dynoform/contract";
import type { RouterTarget } from "./config";

export interface Registration {
  app: string;
  dyno: string;
  /** which dyno instance owns the name on the routers */
  instance: string;
  address: string;
  concurrency: number;
  release: number;
}

type Log = (app: string, dyno: string, msg: string) => void;

/** A router slower than this to answer is marked failing; renewals try again. */
const REQUEST_TIMEOUT_MS = 2000;

export class Registrar {
  private readonly entries = new Map<string, Registration>();
  private readonly status = new Map<string, RouterStatus>();
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;

  constructor(
    private readonly routers: RouterTarget[],
    private readonly opts: { leaseMs: number; renewMs: number; registrationToken?: string },
    private readonly log: Log = () => undefined,
  ) {
    for (const r of routers) this.status.set(r.url, { url: r.url, ok: false });
  }

  start(): void {
    if (this.timer || this.routers.length === 0) return;
    this.timer = setInterval(() => void this.renewAll(), this.opts.renewMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  routerStatus(): RouterStatus[] {
    return [...this.status.values()];
  }

  isRegistered(app: string, dyno: string, instance: string): boolean {
    return this.entries.get(`${app}/${dyno}`)?.instance === instance;
  }

  /** Register now with every router (resolves when all answered or failed; failures retry on renewal). */
  async register(r: Registration): Promise<void> {
    this.entries.set(`${r.app}/${r.dyno}`, r);
    await Promise.all(this.routers.map((t) => this.put(t, r)));
  }

  /** Deregister (the routers stop sending new requests to it) unless a newer instance owns the name. */
  async deregister(app: string, dyno: string, instance: string): Promise<void> {
    const key = `${app}/${dyno}`;
    const cur = this.entries.get(key);
    if (!cur || cur.instance !== instance) return;
    this.entries.delete(key);
    // With the address: a router removes the name only while it still points here (409 when the
    // dyno has since registered from another host).
    const body: DynoDeregistration = { address: cur.address };
    await Promise.all(this.routers.map((t) => this.request(t, "DELETE", `/v1/apps/${encodeURIComponent(app)}/dynos/${encodeURIComponent(dyno)}`, body)));
  }

  async renewAll(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    try {
      const all = [...this.entries.values()];
      await Promise.all(this.routers.map(async (t) => {
        for (const r of all) if (this.entries.get(`${r.app}/${r.dyno}`) === r) await this.put(t, r);
      }));
    } finally {
      this.renewing = false;
    }
  }

  private async put(t: RouterTarget, r: Registration): Promise<void> {
    const before = this.status.get(t.url)?.ok;
    const body: DynoRegistration = { address: r.address, concurrency: r.concurrency, release: r.release, leaseMs: this.opts.leaseMs };
    const ok = await this.request(t, "PUT", `/v1/apps/${encodeURIComponent(r.app)}/dynos/${encodeURIComponent(r.dyno)}`, body);
    if (!ok && before !== false) this.log(r.app, r.dyno, `Registration with router ${t.url} failed: ${this.status.get(t.url)?.lastError}`);
  }

  private async request(t: RouterTarget, method: string, p: string, body?: unknown): Promise<boolean> {
    const st = this.status.get(t.url) ?? { url: t.url, ok: false };
    this.status.set(t.url, st);
    const token = t.token ?? this.opts.registrationToken ?? "";
    try {
      const res = await fetch(t.url.replace(/\/+$/, "") + p, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      // DELETE: 404 (already gone) and 409 (the name belongs to an instance elsewhere now) leave nothing of ours.
      if (res.ok || (method === "DELETE" && (res.status === 404 || res.status === 409))) {
        st.ok = true;
        st.lastOkAt = new Date().toISOString();
        st.lastError = undefined;
        return true;
      }
      st.ok = false;
      st.lastError = `${method} ${p}: HTTP ${res.status} ${text.slice(0, 200)}`;
    } catch (e) {
      st.ok = false;
      st.lastError = `${method} ${p}: ${(e as Error).message}`;
    }
    return false;
  }
}

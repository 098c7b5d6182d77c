// One app's dynos as this worker sees them: the targets, the balancer over them, and the queue of
// requests waiting for a slot. The pool owns the slots: it alone takes one (take, takeFree) and
// gives one back (giveBack), and a request holds at most one at a time (Exchange).
import type { RouterConfig } from "./config";
import type { AppRoute, DynoInfo } from "@dynoform/contract";
import type { HCode } from "./error_pages";
import { LoadBalancer } from "./load_balancer";
import { RequestQueue, type SlotSource, type SlotWaiter, type Waiter } from "./request_queue";
import { Target, type QuarantineReason } from "./target";

export class DynoPool implements SlotSource {
  private readonly targets = new Map<string, Target>(); // by dyno name
  private readonly lb: LoadBalancer;
  private readonly queue = new RequestQueue(this);
  private quarantineTimer: NodeJS.Timeout | undefined;

  constructor(
    public route: AppRoute,
    private readonly cfg: RouterConfig,
    /** Workers of every instance: each gets an equal share of a dyno's cap. */
    private readonly balancers: number,
  ) {
    this.lb = new LoadBalancer(cfg.balancer);
  }

  get queueLength(): number {
    return this.queue.length;
  }

  dynos(): IterableIterator<Target> {
    return this.targets.values();
  }

  /** The app's route and dynos from a snapshot: dynos gone or moved drain, new ones are added. */
  update(route: AppRoute, dynos: DynoInfo[]): void {
    this.route = route;
    const want = new Map(dynos.map((d) => [d.dyno, d]));
    for (const [name, t] of this.targets) {
      const d = want.get(name);
      if (!d || d.address !== t.address) {
        t.drain();
        this.targets.delete(name);
      }
    }
    for (const d of want.values()) {
      let t = this.targets.get(d.dyno);
      if (!t) {
        t = new Target(route.name, d.dyno, d.address, { connectTimeoutMs: this.cfg.connectTimeoutMs, keepAliveMs: this.cfg.upstreamKeepAliveMs });
        this.targets.set(d.dyno, t);
      }
      t.setCap(d.concurrency ?? route.concurrency ?? this.cfg.defaultConcurrency, this.balancers);
    }
    this.lb.targets = [...this.targets.values()];
  }

  /** The app is gone: its dynos drain and its queue fails. */
  close(): void {
    for (const t of this.targets.values()) t.drain();
    this.targets.clear();
    this.lb.targets = [];
    this.queue.failAll();
  }

  /** A slot for `who` now, or once a dyno has room (queued until the app's queue deadline, counted
   * from the request's arrival): who.onSlot or who.noSlot is called, at once or later. Returns the
   * place in the queue (to cancel when the client goes away). */
  take(who: SlotWaiter, exclude?: Target): Waiter | undefined {
    const now = Date.now();
    const t = this.takeFree(exclude, now);
    if (t) {
      who.onSlot(t);
      return undefined;
    }
    const ts = this.lb.targets;
    if (ts.length === 0 && !this.route.holdWhenEmpty) {
      who.noSlot("H14");
      return undefined;
    }
    if (ts.length > 0) {
      let open = 0;
      let reason: QuarantineReason = "H21";
      for (const x of ts) {
        if (x !== exclude && x.open(now)) open++;
        else if (x.quarantinedUntil > now) reason = x.quarantineReason;
      }
      if (open === 0) {
        who.noSlot(reason);
        return undefined;
      }
    }
    const left = (this.route.queueDeadlineMs ?? this.cfg.queueDeadlineMs) - (performance.now() - who.start);
    if (left <= 0) {
      who.noSlot(this.expiredCode());
      return undefined;
    }
    const w = this.queue.push(this.route.queueSize ?? this.cfg.queueSize, left, who);
    if (!w) who.noSlot("H11");
    return w;
  }

  /** A slot of a dyno with room now, other than `exclude`; never queued. */
  takeFree(exclude?: Target, now = Date.now()): Target | undefined {
    const t = this.lb.pick(now, exclude);
    if (t) t.takeSlot();
    return t;
  }

  giveBack(t: Target): void {
    t.returnSlot();
    if (this.queue.length > 0) this.serveQueue();
  }

  /** A waiter whose client went away leaves the queue. */
  cancel(w: Waiter): void {
    this.queue.cancel(w);
  }

  /** At the deadline: H14 while the app still has no dyno; with dynos, all busy, the app is not
   * keeping up: Heroku's H11 "Backlog too deep" (H20 "App boot timeout" is about booting). */
  expiredCode(): HCode {
    return this.lb.targets.length === 0 ? "H14" : "H11";
  }

  quarantine(t: Target, reason: QuarantineReason): void {
    t.quarantine(Date.now(), this.cfg.quarantineMs, reason);
  }

  /** Hand freed slots to queued requests. */
  serveQueue(): void {
    if (this.queue.length === 0) return;
    this.queue.drain();
    // Dynos in quarantine come back by themselves: look at the queue again when they do.
    if (this.queue.length > 0 && !this.quarantineTimer) {
      const now = Date.now();
      let next = Infinity;
      for (const t of this.targets.values()) if (t.quarantinedUntil > now) next = Math.min(next, t.quarantinedUntil);
      if (next !== Infinity) {
        this.quarantineTimer = setTimeout(() => {
          this.quarantineTimer = undefined;
          this.serveQueue();
        }, next - now + 1);
      }
    }
  }
}

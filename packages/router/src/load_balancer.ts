// Choosing a dyno: power-of-two-choices on requests outstanding from this worker, never past a
// dyno's concurrency cap. `random` and `roundrobin` exist only so the benchmark can compare the
// policies of other routers through the same code path; they ignore caps like those routers do.
import type { BalancerKind } from "./config";
import type { Target } from "./target";

export class LoadBalancer {
  targets: Target[] = [];
  private rr = 0;

  constructor(private readonly kind: BalancerKind) {}

  /** A target with room, or undefined when every dyno is full, quarantined, draining or excluded. */
  pick(now: number, exclude?: Target): Target | undefined {
    const ts = this.targets;
    const n = ts.length;
    if (n === 0) return undefined;
    if (this.kind === "random") return this.pickRandom(now, exclude);
    if (this.kind === "roundrobin") return this.pickRoundRobin(now, exclude);
    if (n === 1) {
      const t = ts[0];
      return t !== exclude && t.hasRoom(now) ? t : undefined;
    }
    // Two distinct random choices; the one with fewer outstanding requests wins.
    const i = (Math.random() * n) | 0;
    let j = (Math.random() * (n - 1)) | 0;
    if (j >= i) j++;
    const a = ts[i];
    const b = ts[j];
    const aOk = a !== exclude && a.hasRoom(now);
    const bOk = b !== exclude && b.hasRoom(now);
    if (aOk && bOk) {
      const la = a.inflight + a.remote;
      const lb = b.inflight + b.remote;
      if (la !== lb) return la < lb ? a : b;
      return Math.random() < 0.5 ? a : b;
    }
    if (aOk) return a;
    if (bOk) return b;
    // Both sampled dynos are full: fall back to the least loaded dyno that still has room, so a
    // request is queued only when no dyno at all can take it.
    let best: Target | undefined;
    for (let k = 0; k < n; k++) {
      const t = ts[k];
      if (t === exclude || !t.hasRoom(now)) continue;
      if (!best || t.inflight + t.remote < best.inflight + best.remote) best = t;
    }
    return best;
  }

  private pickRandom(now: number, exclude?: Target): Target | undefined {
    const ok = this.targets.filter((t) => t !== exclude && t.usable(now));
    return ok.length ? ok[(Math.random() * ok.length) | 0] : undefined;
  }

  private pickRoundRobin(now: number, exclude?: Target): Target | undefined {
    const n = this.targets.length;
    for (let k = 0; k < n; k++) {
      const t = this.targets[this.rr++ % n];
      if (t !== exclude && t.usable(now)) return t;
    }
    return undefined;
  }
}

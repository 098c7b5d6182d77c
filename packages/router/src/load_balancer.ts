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
      return t !== exclude && t.underShare(now) ? t : undefined;
    }
    // Two distinct random choices; one under its cap (by the shared counts too) wins, then the one
    // with fewer outstanding requests.
    const i = (Math.random() * n) | 0;
    let j = (Math.random() * (n - 1)) | 0;
    if (j >= i) j++;
    const a = ts[i];
    const b = ts[j];
    const aOk = a !== exclude && a.underCap(now);
    const bOk = b !== exclude && b.underCap(now);
    if (aOk && bOk) {
      const la = a.load;
      const lb = b.load;
      if (la !== lb) return la < lb ? a : b;
      return Math.random() < 0.5 ? a : b;
    }
    if (aOk) return a;
    if (bOk) return b;
    // Both samples busy: the least loaded dyno under its cap; failing that (every dyno busy as far as the
    // shared counts tell, which are a few ms late) the least loaded one within this worker's own
    // share of its cap, like leastconn, rather than wait in the queue for news of a free slot.
    // Only when this worker has used its share of every dyno does the request queue.
    let best: Target | undefined;
    let bestUnderCap = false;
    for (let k = 0; k < n; k++) {
      const t = ts[k];
      if (t === exclude || !t.underShare(now)) continue;
      const u = t.load < t.cap;
      if (!best || (u && !bestUnderCap) || (u === bestUnderCap && t.load < best.load)) {
        best = t;
        bestUnderCap = u;
      }
    }
    return best;
  }

  private pickRandom(now: number, exclude?: Target): Target | undefined {
    const ok = this.targets.filter((t) => t !== exclude && t.open(now));
    return ok.length ? ok[(Math.random() * ok.length) | 0] : undefined;
  }

  private pickRoundRobin(now: number, exclude?: Target): Target | undefined {
    const n = this.targets.length;
    for (let k = 0; k < n; k++) {
      const t = this.targets[this.rr++ % n];
      if (t !== exclude && t.open(now)) return t;
    }
    return undefined;
  }
}

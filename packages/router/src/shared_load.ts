// The shared load, in the primary: each worker reports its in-flight count per dyno; every worker
// is told the sum of the others' plus what the peer instances report (load_gossip.ts), and the
// peers are told this instance's totals.
import type { Worker } from "node:cluster";
import { splitList } from "./addresses";
import type { RouterConfig } from "./config";
import type { LoadList } from "./ipc";
import { LoadGossip, type GossipRejection } from "./load_gossip";

export class SharedLoad {
  /** Per worker: its in-flight count per dyno key, as last reported. */
  private readonly byWorker = new Map<Worker, Map<string, number>>();
  private readonly gossip: LoadGossip | undefined;

  constructor(
    cfg: RouterConfig,
    /** The live workers. */
    private readonly workers: () => Worker[],
    /** Sends a worker the others' counts. */
    private readonly tell: (w: Worker, loads: LoadList) => void,
    log: (msg: string) => void,
  ) {
    this.gossip = cfg.loadListen
      ? new LoadGossip(cfg.loadListen, splitList(cfg.peers), cfg.gossipKey, (keys) => this.tellWorkers(keys, undefined), log)
      : undefined;
  }

  /** A worker's counts that changed. */
  update(from: Worker, changes: LoadList): void {
    let mine = this.byWorker.get(from);
    if (!mine) this.byWorker.set(from, (mine = new Map()));
    for (const [k, n] of changes) mine.set(k, n);
    const keys = changes.map(([k]) => k);
    this.gossip?.publish(keys.map((k) => {
      let total = 0;
      for (const m of this.byWorker.values()) total += m.get(k) ?? 0;
      return [k, total];
    }));
    this.tellWorkers(keys, from);
  }

  /** A worker exited: what it had in flight is gone. */
  forget(w: Worker): void {
    const gone = this.byWorker.get(w);
    if (gone && gone.size) this.update(w, [...gone.keys()].map((k) => [k, 0]));
    this.byWorker.delete(w);
  }

  /** Load gossip datagrams ignored so far, by reason (undefined without peers). */
  gossipRejected(): Record<GossipRejection, number> | undefined {
    return this.gossip?.rejected();
  }

  close(): void {
    this.gossip?.close();
  }

  private tellWorkers(keys: string[], except: Worker | undefined): void {
    for (const w of this.workers()) {
      if (w === except) continue;
      const out: LoadList = [];
      for (const k of keys) {
        let sum = this.gossip ? this.gossip.peerLoad(k) : 0;
        for (const [ow, m] of this.byWorker) if (ow !== w) sum += m.get(k) ?? 0;
        out.push([k, sum]);
      }
      this.tell(w, out);
    }
  }
}

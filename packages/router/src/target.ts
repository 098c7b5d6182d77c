// One dyno as a worker sees it: its keep-alive connection pool, the requests this worker has in
// flight to it (its slots), what the others have in flight (shared load), its concurrency cap and
// this worker's share of it, and whether it is quarantined (connect failed) or draining. The
// counters change only through its own methods, and only the app's DynoPool calls those that take
// and give back slots.
import { Pool } from "undici";
import { splitHostPort } from "./addresses";
import { DynoConnection, type ConnectionHome } from "./dyno_connection";
import type { HCode } from "./error_pages";

export type QuarantineReason = Extract<HCode, "H19" | "H21">;

export interface TargetOptions {
  connectTimeoutMs: number;
  keepAliveMs: number;
}

export class Target implements ConnectionHome {
  readonly key: string;
  /** The address split once, for upgrades' own connections. */
  readonly host: string;
  readonly port: number;
  readonly pool: Pool;
  private ownInflight = 0;
  /** In flight from the other workers and instances (shared load), as last reported. */
  private remoteInflight = 0;
  /** What this worker last reported of its own in-flight count. */
  private reported = 0;
  /** The dyno's concurrency cap: all balancers together. */
  private dynoCap = 0;
  /** This worker's hard share of the cap. */
  private share = 0;
  private quarantineEnd = 0;
  private quarantineCode: QuarantineReason = "H21";
  private draining = false;
  /** Idle keep-alive connections of the relay path, the most recently used last. */
  private readonly idle: DynoConnection[] = [];
  private readonly connectTimeoutMs: number;
  private readonly keepAliveMs: number;

  constructor(
    readonly app: string,
    readonly dyno: string,
    readonly address: string,
    opts: TargetOptions,
  ) {
    this.key = `${app}/${dyno}`;
    const { host, port } = splitHostPort(address);
    this.host = host;
    this.port = Number(port);
    this.connectTimeoutMs = opts.connectTimeoutMs;
    this.keepAliveMs = opts.keepAliveMs;
    this.pool = new Pool(`http://${address}`, {
      connections: null,
      pipelining: 1,
      connect: { timeout: opts.connectTimeoutMs },
      keepAliveTimeout: opts.keepAliveMs,
      keepAliveMaxTimeout: opts.keepAliveMs,
      keepAliveTimeoutThreshold: 500,
      // Per request (see http_exchange.ts); these are only fallbacks.
      headersTimeout: 30_000,
      bodyTimeout: 55_000,
      strictContentLength: true,
    });
  }

  /** A connection for one request on the relay path: the most recently used idle one that is
   * still within the keep-alive time, ours and the dyno's `Keep-Alive` hint (older ones may be
   * closing on the dyno's side), or a new one. */
  connection(): DynoConnection {
    const now = performance.now();
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      if (now - c.idleSince < Math.min(this.keepAliveMs, c.reuseWithinMs)) return c;
      c.close();
    }
    return new DynoConnection(this.host, this.port, this.connectTimeoutMs, this);
  }

  /** A connection whose answer is complete: kept for the next request, unless the dyno drains. */
  release(c: DynoConnection): void {
    if (this.draining) return c.close();
    this.idle.push(c);
    // Those idle past the keep-alive time are at the front: closed here rather than by a timer.
    const oldest = c.idleSince - this.keepAliveMs;
    while (this.idle.length > 1 && this.idle[0].idleSince <= oldest) this.idle.shift()!.close();
  }

  /** A connection closed (by either side): it is not idle any more. */
  forget(c: DynoConnection): void {
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Requests this worker has in flight to the dyno: the slots it holds. */
  get inflight(): number {
    return this.ownInflight;
  }

  /** In flight to the dyno from every balancer, as far as the shared counts tell (a few ms late). */
  get load(): number {
    return this.ownInflight + this.remoteInflight;
  }

  get cap(): number {
    return this.dynoCap;
  }

  get quarantinedUntil(): number {
    return this.quarantineEnd;
  }

  get quarantineReason(): QuarantineReason {
    return this.quarantineCode;
  }

  /** The dyno's cap; every balancer (worker of every instance) balances on its own, so each gets an
   * equal hard share, and together they never exceed the cap (caps below the number of balancers
   * round up to 1 each). With shared counts, balancers also steer away from dynos that others keep busy. */
  setCap(cap: number, balancers: number): void {
    this.dynoCap = cap;
    this.share = Math.max(1, Math.ceil(cap / balancers));
  }

  takeSlot(): void {
    this.ownInflight++;
  }

  returnSlot(): void {
    this.ownInflight--;
  }

  /** The others' in-flight count; true when it dropped (a queued request may fit now). */
  setRemoteLoad(n: number): boolean {
    const dropped = n < this.remoteInflight;
    this.remoteInflight = n;
    return dropped;
  }

  /** This worker's in-flight count if it changed since the last call (for the shared load), else -1. */
  loadToReport(): number {
    if (this.ownInflight === this.reported) return -1;
    this.reported = this.ownInflight;
    return this.reported;
  }

  /** Takes requests at all: not draining, not quarantined. */
  open(now: number): boolean {
    return !this.draining && this.quarantineEnd <= now;
  }

  /** This worker may send it one more request (within its own share of the cap). */
  underShare(now: number): boolean {
    return this.open(now) && this.ownInflight < this.share;
  }

  /** ...and, as far as the shared counts tell, the dyno itself is under its cap. */
  underCap(now: number): boolean {
    return this.underShare(now) && this.load < this.dynoCap;
  }

  quarantine(now: number, ms: number, reason: QuarantineReason): void {
    this.quarantineEnd = now + ms;
    this.quarantineCode = reason;
  }

  /** Stop sending new requests; close the pool once in-flight requests have finished. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    for (const c of this.idle.splice(0)) c.close();
    // Pool.close() waits for queued and running requests before closing sockets.
    this.pool.close().catch(() => undefined);
  }
}

// One dyno as a worker sees it: its keep-alive connection pool, requests in flight from this
// worker, its concurrency cap and whether it is quarantined (connect failed) or draining.
import { Pool } from "undici";

export type QuarantineReason = "H19" | "H21";

export interface TargetOptions {
  connectTimeoutMs: number;
  keepAliveMs: number;
}

export class Target {
  inflight = 0;
  /** In flight from the other workers of this instance (shared load), as last reported. */
  remote = 0;
  /** What this worker last reported of its own in-flight count. */
  reported = 0;
  served = 0;
  quarantinedUntil = 0;
  quarantineReason: QuarantineReason = "H21";
  draining = false;
  readonly pool: Pool;
  readonly key: string;

  constructor(
    readonly app: string,
    readonly dyno: string,
    readonly address: string,
    public cap: number,
    public release: number | undefined,
    opts: TargetOptions,
  ) {
    this.key = `${app}/${dyno}`;
    this.pool = new Pool(`http://${address}`, {
      connections: null,
      pipelining: 1,
      connect: { timeout: opts.connectTimeoutMs },
      keepAliveTimeout: opts.keepAliveMs,
      keepAliveMaxTimeout: opts.keepAliveMs,
      keepAliveTimeoutThreshold: 500,
      // Per request (see proxy.ts); these are only fallbacks.
      headersTimeout: 30_000,
      bodyTimeout: 55_000,
      strictContentLength: true,
    });
  }

  /** The whole dyno's cap (`cap` is this worker's hard share of it). */
  fullCap = 0;

  /** This worker may send it one more request (its own share of the cap). */
  hasRoom(now: number): boolean {
    return !this.draining && this.quarantinedUntil <= now && this.inflight < this.cap;
  }

  /** ...and, as far as the shared counts tell (a few ms late), the dyno itself has room. */
  free(now: number): boolean {
    return this.hasRoom(now) && this.inflight + this.remote < this.fullCap;
  }

  usable(now: number): boolean {
    return !this.draining && this.quarantinedUntil <= now;
  }

  quarantine(now: number, ms: number, reason: QuarantineReason): void {
    this.quarantinedUntil = now + ms;
    this.quarantineReason = reason;
  }

  /** Stop sending new requests; close the pool once in-flight requests have finished. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    // Pool.close() waits for queued and running requests before closing sockets.
    this.pool.close().catch(() => undefined);
  }
}

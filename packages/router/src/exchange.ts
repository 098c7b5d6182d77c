// One client request on its way to a dyno, a plain one (http_exchange.ts) or an upgrade
// (upgrade_exchange.ts): the slot it holds, its attempts, the retry policy both kinds share, and
// its log line. A request holds at most one slot at a time: onSlot is the one place it gets one,
// returnSlot the one place it gives it back (to the pool, which owns slots).
import type { DynoPool } from "./dyno_pool";
import { H_CODES, type HCode } from "./error_pages";
import { forwardedFor, type RequestFacts } from "./http_strictness";
import type { Proxy } from "./proxy";
import type { SlotWaiter, Waiter } from "./request_queue";
import type { LogRecord } from "./router_log";
import type { QuarantineReason, Target } from "./target";

/** Attempts a request gets at most: each connect failure quarantines that dyno and tries another. */
const MAX_ATTEMPTS = 10;
/** Methods a request may be sent again with after a dyno took it and closed without an answer. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

export abstract class Exchange implements SlotWaiter {
  /** Whether the peer is a trusted proxy, and the client address the dyno and the log get: worked
   * out once per request. */
  readonly trusted: boolean;
  readonly fwd: string;
  /** Answered, or the client is gone: a slot that arrives now goes straight back. */
  done = false;
  /** The dyno of the latest attempt (the log line names it). */
  protected target: Target | undefined = undefined;
  /** When the latest attempt was handed to its dyno (performance.now()). */
  protected dispatchedAt: number;
  private attempts = 0;
  /** Its place in the pool's queue while it waits for a slot. */
  private waiter: Waiter | undefined = undefined;
  /** The dyno whose slot this request holds. */
  private slot: Target | undefined = undefined;
  private resent = false;

  protected abstract readonly protocol: LogRecord["protocol"];

  constructor(
    protected readonly proxy: Proxy,
    readonly pool: DynoPool,
    readonly req: RequestFacts,
    /** The host it was routed by (requestHost). */
    readonly host: string,
    /** An absolute-form request's authority: the dyno's Host. */
    readonly authority: string | undefined,
    readonly requestId: string,
    /** performance.now() at arrival. */
    readonly start: number,
  ) {
    this.trusted = req.trusted ?? proxy.trusts(req);
    this.fwd = forwardedFor(req, this.trusted);
    this.dispatchedAt = start;
  }

  /** Send an attempt to `t`, whose slot this request holds. */
  protected abstract send(t: Target): void;

  /** Answer the client with an H-code. */
  protected abstract fail(code: HCode): void;

  /** An attempt goes to `t` now: the milliseconds left for its first byte, or undefined when none
   * are (the request is answered H12 and the slot given back). H12 counts from arrival, not from
   * here: time in the queue (and on earlier attempts) is part of it, so a request never takes
   * queueMs + firstByteMs (the edge's timeouts sit above one). */
  protected timedAttempt(t: Target): number | undefined {
    const now = performance.now();
    const left = Math.ceil((this.pool.route.firstByteTimeoutMs ?? this.proxy.cfg.firstByteTimeoutMs) - (now - this.start));
    if (left <= 0) {
      this.returnSlot();
      this.fail("H12");
      return undefined;
    }
    this.attempt(t, now);
    return left;
  }

  /** An attempt goes to `t` now (performance.now()). */
  protected attempt(t: Target, now: number): void {
    this.target = t;
    this.attempts++;
    this.dispatchedAt = now;
  }

  /** Ask the pool for a slot of a dyno other than `exclude`, now or from its queue. */
  protected findDyno(exclude?: Target): void {
    this.waiter = this.pool.take(this, exclude);
  }

  onSlot(t: Target): void {
    this.waiter = undefined;
    this.slot = t;
    if (this.done) return this.returnSlot();
    this.send(t);
  }

  noSlot(code: HCode): void {
    this.waiter = undefined;
    if (!this.done) this.fail(code);
  }

  /** Give the slot back, if this request holds one: the dyno answered (or will not), or the
   * request failed or was cut. */
  protected returnSlot(): void {
    const t = this.slot;
    if (t === undefined) return;
    this.slot = undefined;
    this.pool.giveBack(t);
  }

  /** The client went away while the request may still wait in the queue. */
  protected leaveQueue(): void {
    if (this.waiter) this.pool.cancel(this.waiter);
  }

  /** The connect to `t` failed (its slot given back): quarantine the dyno, then try another one
   * if the request may go elsewhere (nothing of the client's body is spent) and has attempts
   * left, else answer the quarantine's H-code. */
  protected connectFailed(t: Target, errCode: string | undefined, mayRetry: boolean): void {
    const reason: QuarantineReason = errCode === "UND_ERR_CONNECT_TIMEOUT" ? "H19" : "H21";
    this.pool.quarantine(t, reason);
    if (this.done) return;
    if (mayRetry && this.attempts < MAX_ATTEMPTS) this.findDyno(t);
    else this.fail(reason);
  }

  /** `t` took the request and closed without an answer (its slot given back): an idempotent
   * request without a body goes once more, to another dyno with room now (never queued). */
  protected resendElsewhere(t: Target, withBody: boolean): boolean {
    if (this.resent || withBody || !IDEMPOTENT.has(this.req.method ?? "")) return false;
    const other = this.pool.takeFree(t);
    if (!other) return false;
    this.resent = true;
    this.onSlot(other);
    return true;
  }

  /** A plain request is over (answered, failed or cut): counted off the worker's open requests
   * once, and logged. False when it was over already. */
  protected finishRequest(code: HCode | undefined, status: number, bytes: number): boolean {
    if (this.done) return false;
    this.done = true;
    this.proxy.requestFinished();
    this.report(code, status, bytes);
    return true;
  }

  /** Count the answer and write its log line. */
  protected report(code: HCode | undefined, status: number, bytes: number): void {
    const end = performance.now();
    this.proxy.metrics.observe(this.pool.route.name, code, status, end - this.start);
    this.proxy.log.write({
      app: this.pool.route.name,
      code,
      desc: code && H_CODES[code].desc,
      method: this.req.method ?? "",
      path: this.req.url ?? "",
      host: this.host,
      requestId: this.requestId,
      fwd: this.fwd,
      dyno: this.target?.dyno ?? "none",
      connectMs: this.dispatchedAt - this.start,
      serviceMs: end - this.dispatchedAt,
      status,
      bytes,
      protocol: this.protocol,
    });
  }
}

// The bounded per-app queue (per worker): requests wait here while no dyno has room, or while the
// app has no dyno yet (booting), until a dyno frees a slot or registers, or the deadline passes.
// The queue takes no slots itself: it hands waiters what its pool takes for them.
import type { HCode } from "./error_pages";
import type { Target } from "./target";

/** A request waiting for a slot (see DynoPool.take). */
export interface SlotWaiter {
  /** performance.now() at the request's arrival: the queue deadline counts from it. */
  readonly start: number;
  /** A slot of `t` is now the waiter's, to give back through the pool. */
  onSlot(t: Target): void;
  /** No slot to be had: the H-code to answer with. */
  noSlot(code: HCode): void;
}

/** Where the queue gets slots for its waiters: the app's pool. */
export interface SlotSource {
  /** A dyno with room, its slot taken; undefined when none has room now. */
  takeFree(): Target | undefined;
  /** Why a waiter got no slot by its deadline. */
  expiredCode(): HCode;
}

export interface Waiter {
  readonly who: SlotWaiter;
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
}

export class RequestQueue {
  private items: Waiter[] = [];
  private head = 0;
  /** Waiters not yet served, expired or cancelled. */
  private live = 0;

  constructor(private readonly source: SlotSource) {}

  get length(): number {
    return this.live;
  }

  /** Returns undefined when the queue is full (H11). */
  push(limit: number, deadlineMs: number, who: SlotWaiter): Waiter | undefined {
    if (this.length >= limit) return undefined;
    const w: Waiter = { who, timer: undefined, settled: false };
    w.timer = setTimeout(() => this.expire(w), deadlineMs);
    this.items.push(w);
    this.live++;
    return w;
  }

  /** Hand slots to waiters in arrival order while the source has dynos with room. */
  drain(): void {
    while (this.head < this.items.length) {
      const w = this.items[this.head];
      if (w.settled) { this.shift(); continue; }
      const t = this.source.takeFree();
      if (!t) return;
      this.shift();
      w.settled = true;
      this.live--;
      if (w.timer) clearTimeout(w.timer);
      w.who.onSlot(t);
    }
  }

  /** Remove a waiter whose client went away. */
  cancel(w: Waiter): void {
    if (w.settled) return;
    w.settled = true;
    this.live--;
    if (w.timer) clearTimeout(w.timer);
  }

  /** Fail every waiter (app removed). */
  failAll(): void {
    while (this.head < this.items.length) {
      const w = this.shift();
      if (w.settled) continue;
      w.settled = true;
      this.live--;
      if (w.timer) clearTimeout(w.timer);
      w.who.noSlot(this.source.expiredCode());
    }
  }

  private expire(w: Waiter): void {
    if (w.settled) return;
    w.settled = true;
    this.live--;
    w.who.noSlot(this.source.expiredCode());
  }

  private shift(): Waiter {
    const w = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return w;
  }
}

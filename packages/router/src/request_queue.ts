// The bounded per-app queue (per worker): requests wait here while no dyno has room, or while the
// app has no dyno yet (booting), until a dyno frees a slot or registers, or the deadline passes.
import type { Target } from "./target";

export interface Waiter {
  /** Called with a target (its in-flight count already taken) or with undefined on deadline. */
  done: (t: Target | undefined) => void;
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
}

export class RequestQueue {
  private items: Waiter[] = [];
  private head = 0;
  /** Waiters not yet served, expired or cancelled. */
  private live = 0;

  get length(): number {
    return this.live;
  }

  /** Returns undefined when the queue is full (H11). */
  push(limit: number, deadlineMs: number, done: Waiter["done"]): Waiter | undefined {
    if (this.length >= limit) return undefined;
    const w: Waiter = { done, timer: undefined, settled: false };
    w.timer = setTimeout(() => this.expire(w), deadlineMs);
    this.items.push(w);
    this.live++;
    return w;
  }

  /** Hand targets to waiters in arrival order while `next()` finds a dyno with room. */
  drain(next: () => Target | undefined): void {
    while (this.head < this.items.length) {
      const w = this.items[this.head];
      if (w.settled) { this.shift(); continue; }
      const t = next();
      if (!t) return;
      this.shift();
      w.settled = true;
      this.live--;
      if (w.timer) clearTimeout(w.timer);
      t.inflight++;
      w.done(t);
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
      w.done(undefined);
    }
  }

  private expire(w: Waiter): void {
    if (w.settled) return;
    w.settled = true;
    this.live--;
    w.done(undefined);
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

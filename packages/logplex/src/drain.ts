// What every drain shares: a bounded buffer of the app's lines that drops its oldest when the
// drain is slow or down (counted, and told in Heroku's L10 line), and the L10 notices owed to the
// drain itself, sent first once it takes lines again. The notices are kept apart from the buffer
// so telling a full drain of its drops never drops another line.
import { BoundedQueue } from "./bounded_queue";
import { overflowMessage, type StoredLine } from "./line_format";

export interface DrainSpec {
  app: string;
  /** `d.<uuid>` */
  token: string;
  url: string;
  /** PEM CAs trusted for the drain's TLS certificate (besides the public ones) */
  ca?: string;
}

const timeOf = (l: StoredLine) => l.time;

/** Notices kept for a drain that is down; past it the newest absorbs the counts. */
const MAX_OWED_NOTICES = 100;

export abstract class Drain {
  readonly buffer: BoundedQueue<StoredLine>;
  private owed: Array<{ count: number; since: number; time: number }> = [];
  protected stopped = false;

  constructor(readonly spec: DrainSpec, capacity: number) {
    this.buffer = new BoundedQueue<StoredLine>(capacity);
  }

  /** Takes a batch's lines; never waits (a slow drain never slows ingest). Sending starts once the
   * batch is in (a batch leaves in a few writes, not one a line), or whenever the buffer is full. */
  pushAll(lines: readonly StoredLine[]): void {
    if (this.stopped) return;
    for (const l of lines) {
      if (this.buffer.length >= this.buffer.capacity) this.kick();
      this.buffer.push(l, timeOf);
    }
    this.kick();
  }

  /** Lines dropped since last asked, for the app's L10 line. */
  takeDropped(): { count: number; since: number } | undefined {
    return this.buffer.takeDropped();
  }

  /** An L10 notice of this drain's own drops, delivered to it ahead of its buffer. */
  owe(count: number, since: number, time: number): void {
    const last = this.owed[this.owed.length - 1];
    if (this.owed.length >= MAX_OWED_NOTICES && last) {
      last.count += count;
      last.since = Math.min(last.since, since);
    } else this.owed.push({ count, since, time });
    this.kick();
  }

  /** Up to `n` lines to send: owed notices first, then the buffer's oldest. */
  protected next(n: number): StoredLine[] {
    const notices = this.owed.splice(0, n).map(
      (o, i): StoredLine => ({ app: this.spec.app, time: o.time, seq: i, stream: "logplex", source: "heroku", dyno: "logplex", msg: overflowMessage(o.count, o.since) }),
    );
    return notices.length >= n ? notices : notices.concat(this.buffer.take(n - notices.length));
  }

  protected get pending(): boolean {
    return this.owed.length > 0 || this.buffer.length > 0;
  }

  /** Lines handed to `next` and then lost (a frame given up after its retries): counted like overflow. */
  protected lost(lines: StoredLine[]): void {
    if (lines.length) this.buffer.countDropped(lines.length, lines[0].time);
  }

  /** Start sending what is pending (called after pushes, and when the buffer is full). */
  protected abstract kick(): void;

  stop(): void {
    this.stopped = true;
  }
}

/** The URL for messages: scheme, host and port only (a drain URL may hold credentials). */
export function drainLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(invalid url)";
  }
}

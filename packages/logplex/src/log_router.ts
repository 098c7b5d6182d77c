// The log router's core: a posted batch goes to each app's store, its live subscribers and its
// drains, in that order and without waiting on any of them (drains and subscribers only buffer).
// Once a period it turns every drain's drop count into Heroku's L10 line in the app's stream.
import type { AppStore } from "./app_store";
import type { Drain } from "./drain";
import type { DrainRegistry } from "./drain_registry";
import type { IncomingLine } from "./ingest_batch";
import { overflowMessage, type StoredLine } from "./line_format";
import { preciseNow } from "./precise_clock";

export type Subscriber = (line: StoredLine) => void;

/** The stream the log router's own lines (L10) carry. */
export const OWN_STREAM = "logplex";

export class LogRouter {
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private ownSeq = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly store: AppStore,
    readonly drains: DrainRegistry,
  ) {}

  /** Stores and routes one batch (`body`: the compact batch its lines' records lie in); lines
   * already stored (a resend) are skipped and counted. */
  ingest(stream: string, lines: IncomingLine[], body?: Buffer): { stored: number; duplicates: number } {
    const byApp = new Map<string, StoredLine[]>();
    let stored = 0;
    for (const l of lines) {
      if (this.store.isDuplicate(stream, l.seq)) continue;
      const line = l as StoredLine;
      line.stream = stream;
      let list = byApp.get(l.app);
      if (!list) byApp.set(l.app, (list = []));
      list.push(line);
      stored++;
    }
    for (const [app, list] of byApp) this.route(app, stream, list, undefined, body);
    return { stored, duplicates: lines.length - stored };
  }

  /** Adds the log router's own `heroku[logplex]` line to an app's stream (every drain but `except` gets it). */
  inject(app: string, msg: string, except?: Drain): StoredLine {
    const line: StoredLine = { app, time: preciseNow(), seq: this.ownSeq++, stream: OWN_STREAM, source: "heroku", dyno: "logplex", msg };
    this.route(app, OWN_STREAM, [line], except);
    return line;
  }

  subscribe(app: string, fn: Subscriber): () => void {
    let set = this.subscribers.get(app);
    if (!set) this.subscribers.set(app, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.subscribers.get(app) === set) this.subscribers.delete(app);
    };
  }

  /** Every `periodMs`, each drain that dropped lines gets them counted in an L10 line. */
  start(periodMs: number): void {
    this.timer = setInterval(() => this.noticeOverflows(), periodMs);
    this.timer.unref();
  }

  noticeOverflows(): void {
    for (const d of [...this.drains.all()]) {
      const dropped = d.takeDropped();
      if (!dropped) continue;
      const line = this.inject(d.spec.app, overflowMessage(dropped.count, dropped.since), d);
      d.owe(dropped.count, dropped.since, line.time);
    }
  }

  removeApp(app: string): void {
    this.store.remove(app);
    this.drains.removeApp(app);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.drains.stopAll();
    this.store.close();
  }

  private route(app: string, stream: string, lines: StoredLine[], except?: Drain, body?: Buffer): void {
    if (lines.length === 0) return;
    this.store.append(app, stream, lines, body);
    const subs = this.subscribers.get(app);
    if (subs) for (const s of subs) for (const l of lines) s(l);
    for (const d of this.drains.forApp(app)) if (d !== except) d.pushAll(lines);
  }
}

// Bounded per-app log buffer with Heroku-format lines, plus live subscribers (for `logs --tail`)
// and a sink hook for forwarding to the log router.
import { preciseNow } from "@dynoform/logplex/sender";

export interface LogLine {
  /** Heroku timestamp, e.g. 2026-11-21T12:00:00.000000+00:00 */
  ts: string;
  /** "app" for dyno output, "heroku" for the agent's own events about a dyno */
  source: "app" | "heroku";
  /** dyno name, e.g. web.1 or run.3 */
  dyno: string;
  msg: string;
  /** the full formatted line, without trailing newline */
  line: string;
}

export type LogListener = (app: string, line: LogLine) => void;

/** 2026-11-21T12:00:00.123456+00:00 (microseconds, explicit UTC offset): `at` in milliseconds
 * since the epoch with a microsecond fraction (the sender's clock, by default), or a Date. */
export function herokuTimestamp(at: Date | number = preciseNow()): string {
  const us = Math.round((typeof at === "number" ? at : at.getTime()) * 1000);
  const ms = Math.floor(us / 1000);
  return new Date(ms).toISOString().slice(0, 23) + String(us - ms * 1000).padStart(3, "0") + "+00:00";
}

export function formatLine(ts: string, source: string, dyno: string, msg: string): string {
  return `${ts} ${source}[${dyno}]: ${msg}`;
}

class Ring {
  private items: LogLine[] = [];
  private start = 0;
  constructor(private readonly capacity: number) {}
  push(l: LogLine): void {
    if (this.items.length < this.capacity) this.items.push(l);
    else {
      this.items[this.start] = l;
      this.start = (this.start + 1) % this.capacity;
    }
  }
  toArray(): LogLine[] {
    return this.items.slice(this.start).concat(this.items.slice(0, this.start));
  }
}

export class LogBuffer {
  private readonly rings = new Map<string, Ring>();
  private readonly subscribers = new Map<string, Set<LogListener>>();
  private readonly sinks = new Set<LogListener>();

  constructor(private readonly linesPerApp = 1500) {}

  append(app: string, source: "app" | "heroku", dyno: string, msg: string): LogLine {
    const ts = herokuTimestamp();
    const line: LogLine = { ts, source, dyno, msg, line: formatLine(ts, source, dyno, msg) };
    let ring = this.rings.get(app);
    if (!ring) this.rings.set(app, (ring = new Ring(this.linesPerApp)));
    ring.push(line);
    for (const s of this.subscribers.get(app) ?? []) safe(() => s(app, line));
    for (const s of this.sinks) safe(() => s(app, line));
    return line;
  }

  heroku(app: string, dyno: string, msg: string): LogLine {
    return this.append(app, "heroku", dyno, msg);
  }

  /** Most recent `n` lines (all kept lines when n is undefined), oldest first. */
  recent(app: string, n?: number, filter?: (l: LogLine) => boolean): LogLine[] {
    let lines = this.rings.get(app)?.toArray() ?? [];
    if (filter) lines = lines.filter(filter);
    return n === undefined ? lines : lines.slice(Math.max(0, lines.length - n));
  }

  subscribe(app: string, fn: LogListener): () => void {
    let set = this.subscribers.get(app);
    if (!set) this.subscribers.set(app, (set = new Set()));
    set.add(fn);
    return () => {
      set!.delete(fn);
    };
  }

  /** Every line of every app (for forwarding to the log router). */
  addSink(fn: LogListener): () => void {
    this.sinks.add(fn);
    return () => {
      this.sinks.delete(fn);
    };
  }

  /** Every app's kept lines (saved across an agent restart). */
  dump(): Record<string, LogLine[]> {
    const out: Record<string, LogLine[]> = {};
    for (const [app, ring] of this.rings) out[app] = ring.toArray();
    return out;
  }

  /** Put saved lines back (before anything new is appended); listeners are not called. */
  restore(saved: Record<string, LogLine[]>): void {
    for (const [app, lines] of Object.entries(saved)) {
      if (!Array.isArray(lines)) continue;
      let ring = this.rings.get(app);
      if (!ring) this.rings.set(app, (ring = new Ring(this.linesPerApp)));
      for (const l of lines) if (l && typeof l.line === "string") ring.push(l);
    }
  }
}

function safe(f: () => void): void {
  try {
    f();
  } catch {
    /* a broken listener must not break logging */
  }
}

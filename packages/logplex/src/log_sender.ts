// The client agents, routers and the control role send their lines to the log router with. It
// never blocks its caller: `send` stamps the line (time, and a sequence number of this stream so
// one process's lines keep their order within a millisecond) and queues it. Lines go in batches
// (`POST /v1/lines`, one request in flight, keep-alive) in the compact format (log_batch.ts) once
// the log router's answer lists it in Accept-Post, NDJSON before that (and again if a log router
// that predates it answers: that one stored nothing of a compact batch, which is sent again as
// NDJSON), so senders and the log router may be upgraded in any order. A batch leaves the buffer only once
// the log router acknowledged it, and is resent with backoff until then, so a restarted log router
// loses nothing the sender still holds (the log router skips what it had stored before a lost ack).
// The buffer is bounded: when the log router is away too long, the oldest lines go, counted, and
// the app's stream gets Heroku's L10 line saying how many once they flow again.
import { randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { ACCEPT_POST_HEADER, encodeLogRecord, LOG_BATCH_NDJSON, LOG_BATCH_V2, LOG_STREAM_HEADER, type IngestAck, type LogLineIn, type LogSource } from "@dynoform/contract";
import { overflowMessage } from "./line_format";
import { preciseNow } from "./precise_clock";

export { preciseNow };

export interface LogSenderOptions {
  /** The log router, e.g. `http://10.0.0.2:8093` (https:// with `ca` for TLS). */
  url: string;
  /** This sender's bearer token. */
  token: string;
  /** Lines held while the log router is away; past it the oldest are dropped (counted). Default 10,000. */
  maxLines?: number;
  /** Most lines in one request. Default 1,000. */
  batchLines?: number;
  /** Most bytes in one request. Default 1 MiB (the log router takes 4 MiB). */
  batchBytes?: number;
  /** How long a line may wait for others to share its request. Default 50 ms. */
  flushMs?: number;
  /** Longest wait between retries. Default 10 s. */
  maxBackoffMs?: number;
  ca?: string;
  /** Told of failures (once per outage, and of every refused batch); never of line contents. */
  onError?: (message: string) => void;
}

type Pending = LogLineIn;

/** A line's share of a batch's bytes, near enough (its fields, separators and escapes). */
const size = (p: Pending) => p.msg.length + p.app.length + p.dyno.length + 48;

const FIRST_BACKOFF_MS = 100;

export class LogSender {
  /** This run's stream: the log router deduplicates by (stream, seq). */
  readonly stream = randomUUID();
  private queue: Pending[] = [];
  private head = 0;
  private inflight: Pending[] | undefined;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private failing = false;
  private busy = false;
  private closed = false;
  private readonly dropped = new Map<string, { count: number; since: number }>();
  private readonly agent: http.Agent;
  private readonly target: URL;
  private readonly idle: Array<() => void> = [];
  /** Whether the log router takes compact batches (its last answer said so). */
  private compact = false;
  /** Lines acknowledged, and dropped for want of room. */
  readonly stats = { stored: 0, dropped: 0 };

  constructor(private readonly opts: LogSenderOptions) {
    this.target = new URL("/v1/lines", opts.url);
    const Agent = this.target.protocol === "https:" ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 1, ...(opts.ca ? { ca: opts.ca } : {}) });
  }

  private get maxLines(): number {
    return this.opts.maxLines ?? 10_000;
  }

  get length(): number {
    return this.queue.length - this.head + (this.inflight?.length ?? 0);
  }

  /** `time`: milliseconds since the epoch, a fraction for the microseconds (preciseNow's). */
  send(app: string, source: LogSource, dyno: string, msg: string, time = preciseNow()): void {
    if (this.closed) return;
    this.enqueue({ app, time, seq: this.seq++, source, dyno, msg });
  }

  /** Resolves once everything queued so far is acknowledged (or `timeoutMs` passed: false). */
  flushed(timeoutMs = 10_000): Promise<boolean> {
    if (this.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.agent.destroy();
  }

  private enqueue(p: Pending): void {
    if (this.queue.length - this.head >= this.maxLines) {
      const old = this.queue[this.head++];
      this.stats.dropped++;
      const d = this.dropped.get(old.app);
      if (d) d.count++;
      else this.dropped.set(old.app, { count: 1, since: old.time });
    }
    this.queue.push(p);
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (!this.inflight) this.schedule(this.queue.length - this.head >= (this.opts.batchLines ?? 1000) ? 0 : (this.opts.flushMs ?? 50));
  }

  /** One timer and one request at a time: the request's end schedules the next. */
  private schedule(ms: number): void {
    if (this.timer || this.busy || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.post();
    }, ms);
    this.timer.unref?.();
  }

  private takeBatch(): Pending[] {
    const maxLines = this.opts.batchLines ?? 1000;
    const maxBytes = this.opts.batchBytes ?? 1024 * 1024;
    const out: Pending[] = [];
    let bytes = 0;
    while (this.head < this.queue.length && out.length < maxLines) {
      const p = this.queue[this.head];
      if (out.length > 0 && bytes + size(p) > maxBytes) break;
      out.push(p);
      bytes += size(p);
      this.head++;
    }
    return out;
  }

  private async post(): Promise<void> {
    if (this.closed || this.busy) return;
    this.busy = true;
    let next: number | undefined;
    try {
      this.inflight ??= this.takeBatch();
      if (this.inflight.length === 0) {
        this.inflight = undefined;
        return;
      }
      const compact = this.compact;
      const outcome = await this.request(compact ? this.inflight.map(encodeLogRecord).join("") : this.inflight.map((p) => JSON.stringify(p)).join("\n") + "\n", compact);
      if (this.closed) return;
      if (outcome === "resend") {
        next = 0;
        return;
      }
      if (outcome === "retry") {
        this.backoffMs = Math.min(this.opts.maxBackoffMs ?? 10_000, Math.max(FIRST_BACKOFF_MS, this.backoffMs * 2));
        next = this.backoffMs;
        return;
      }
      if (outcome === "stored") this.stats.stored += this.inflight.length;
      this.inflight = undefined;
      this.backoffMs = 0;
      this.failing = false;
      this.noticeDrops();
      if (this.queue.length > this.head) next = 0;
    } finally {
      this.busy = false;
      if (next !== undefined) this.schedule(next);
      this.settle();
    }
  }

  /** Tells each app how many of its lines were dropped, in its own stream. */
  private noticeDrops(): void {
    if (this.dropped.size === 0) return;
    const drops = [...this.dropped];
    this.dropped.clear();
    for (const [app, d] of drops) {
      this.send(app, "heroku", "logplex", overflowMessage(d.count, d.since));
    }
  }

  private settle(): void {
    if (this.length > 0) return;
    for (const f of this.idle.splice(0)) f();
  }

  /** "stored": acknowledged; "refused": the log router will never take this batch (dropped, reported); "retry": try again later;
   * "resend": a log router without the compact format answered a compact batch (it stored none of it): send it again as NDJSON. */
  private request(body: string, compact: boolean): Promise<"stored" | "refused" | "retry" | "resend"> {
    const mod = this.target.protocol === "https:" ? https : http;
    return new Promise((resolve) => {
      const req = mod.request(
        this.target,
        {
          method: "POST",
          agent: this.agent,
          timeout: 15_000,
          headers: {
            authorization: `Bearer ${this.opts.token}`,
            "content-type": compact ? LOG_BATCH_V2 : LOG_BATCH_NDJSON,
            "content-length": Buffer.byteLength(body),
            [LOG_STREAM_HEADER]: this.stream,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", () => resolve(this.failed("the log router's answer broke off")));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString("utf8");
            const takesCompact = String(res.headers[ACCEPT_POST_HEADER] ?? "").includes(LOG_BATCH_V2);
            if (status === 200 && compact && !takesCompact) {
              this.compact = false;
              resolve("resend");
              return;
            }
            if (status === 200) this.compact = takesCompact;
            if (status === 200) {
              const ack = safeJson(text) as IngestAck | undefined;
              if (ack?.rejected) this.opts.onError?.(`log router rejected ${ack.rejected} lines: ${ack.errors.map((e) => e.error).join("; ")}`);
              resolve("stored");
            } else if (status === 401 || status === 403 || status >= 500) {
              resolve(this.failed(`log router answered ${status}: ${errorOf(text)}`));
            } else {
              this.opts.onError?.(`log router refused a batch (${status}): ${errorOf(text)}`);
              resolve("refused");
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (e: NodeJS.ErrnoException) => resolve(this.failed(`log router ${this.target.host} unreachable: ${e.code ?? e.message}`)));
      req.end(body);
    });
  }

  private failed(message: string): "retry" {
    if (!this.failing) this.opts.onError?.(`${message}; holding up to ${this.maxLines} lines and retrying`);
    this.failing = true;
    return "retry";
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorOf(text: string): string {
  const j = safeJson(text) as { error?: string } | undefined;
  return (j?.error ?? text).slice(0, 200);
}

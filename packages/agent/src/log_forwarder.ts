// Forwards every log line to the log router (when configured): batched POSTs of text/plain,
// one Heroku-format line per line, prefixed with the app ("<app> <line>"). Lossy under pressure
// (bounded queue), never blocks dynos.
import type { LogBuffer } from "./log_buffer";

const INTERVAL_MS = 1000;
/** Lines waiting to be sent; past it the oldest go. */
const MAX_QUEUE = 10_000;

export class LogForwarder {
  private queue: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private sending = false;

  constructor(
    private readonly logs: LogBuffer,
    private readonly urls: string[],
  ) {}

  start(): void {
    if (this.urls.length === 0) return;
    this.unsubscribe = this.logs.addSink((app, l) => {
      if (this.queue.length >= MAX_QUEUE) this.queue.shift();
      this.queue.push(`${app} ${l.line}`);
    });
    this.timer = setInterval(() => void this.flush(), INTERVAL_MS);
  }

  async flush(): Promise<void> {
    if (this.sending || this.queue.length === 0) return;
    this.sending = true;
    const batch = this.queue;
    this.queue = [];
    try {
      await Promise.all(
        this.urls.map((u) =>
          fetch(u, {
            method: "POST",
            headers: { "content-type": "text/plain; charset=utf-8" },
            body: batch.join("\n") + "\n",
            signal: AbortSignal.timeout(5000),
          }).then((r) => r.arrayBuffer()).catch(() => undefined),
        ),
      );
    } finally {
      this.sending = false;
    }
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
  }
}

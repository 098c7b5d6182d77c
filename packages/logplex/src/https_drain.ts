// An HTTPS drain in Heroku's format: `POST` bodies of `Content-Type: application/logplex-1`, each
// message an RFC 5424 line (Heroku's fields) with its octet count, and the headers
// `Logplex-Msg-Count`, `Logplex-Frame-Id` (the same on every retry of a frame, for deduplication)
// and `Logplex-Drain-Token`. One frame in flight; a failed frame is retried with backoff and,
// after MAX_ATTEMPTS, given up and counted as dropped (so a receiver that refuses a frame for
// good cannot stall the drain).
import { randomUUID } from "node:crypto";
import https from "node:https";
import tls from "node:tls";
import { Drain, type DrainSpec } from "./drain";
import type { DrainDestinations } from "./drain_destinations";
import { logplexMessage, octetCounted, type StoredLine } from "./line_format";

const LINES_PER_FRAME = 500;
const MAX_ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 8_000;
const REQUEST_TIMEOUT_MS = 10_000;

export class HttpsDrain extends Drain {
  private busy = false;
  private readonly agent: https.Agent;
  private readonly url: URL;
  private wake: NodeJS.Timeout | undefined;

  constructor(spec: DrainSpec, capacity: number, private readonly destinations: DrainDestinations) {
    super(spec, capacity);
    this.url = new URL(spec.url);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: spec.ca ? [...tls.rootCertificates, spec.ca] : undefined });
  }

  protected kick(): void {
    if (!this.busy && !this.stopped) void this.run();
  }

  private async run(): Promise<void> {
    this.busy = true;
    try {
      while (!this.stopped) {
        const frame = this.next(LINES_PER_FRAME);
        if (frame.length === 0) break;
        await this.deliver(frame);
      }
    } finally {
      this.busy = false;
    }
  }

  private async deliver(frame: StoredLine[]): Promise<void> {
    const body = frame.map((l) => octetCounted(logplexMessage(l) + "\n")).join("");
    const frameId = randomUUID();
    let backoff = FIRST_BACKOFF_MS;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && !this.stopped; attempt++) {
      if (await this.post(body, frame.length, frameId)) return;
      if (attempt < MAX_ATTEMPTS) await this.sleep(backoff);
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    }
    this.lost(frame);
  }

  private post(body: string, count: number, frameId: string): Promise<boolean> {
    let guard: ReturnType<DrainDestinations["connectOptions"]>;
    try {
      guard = this.destinations.connectOptions(this.url.hostname.replace(/^\[|\]$/g, ""));
    } catch {
      return Promise.resolve(false); // a refused address: the frame fails, and is counted when given up
    }
    return new Promise((resolve) => {
      const req = https.request(
        this.url,
        {
          ...guard,
          method: "POST",
          agent: this.agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers: {
            "content-type": "application/logplex-1",
            "content-length": Buffer.byteLength(body),
            "logplex-msg-count": String(count),
            "logplex-frame-id": frameId,
            "logplex-drain-token": this.spec.token,
            "user-agent": "dynoform-logplex",
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300));
          res.on("error", () => resolve(false));
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => resolve(false));
      req.end(body);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      this.wake = setTimeout(r, ms);
      this.wake.unref();
    });
  }

  stop(): void {
    super.stop();
    if (this.wake) clearTimeout(this.wake);
    this.agent.destroy();
  }
}

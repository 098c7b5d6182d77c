// A syslog drain over TCP (`syslog://`) or TLS (`syslog+tls://`): RFC 5424 messages with RFC 6587
// octet-counted framing, what Papertrail, rsyslog (imtcp/imptcp) and syslog-ng accept. One
// connection, reconnected with backoff; at most SOCKET_HIGH_WATER bytes wait in the socket, the
// rest in the drain's bounded buffer.
import net from "node:net";
import tls from "node:tls";
import { Drain, type DrainSpec } from "./drain";
import type { DrainDestinations } from "./drain_destinations";
import { syslogFrames } from "./line_format";

const SOCKET_HIGH_WATER = 256 * 1024;
const LINES_PER_WRITE = 1024;
const MAX_BACKOFF_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;

export class SyslogDrain extends Drain {
  private socket: net.Socket | undefined;
  private connecting = false;
  private backoffMs = 0;
  private retry: NodeJS.Timeout | undefined;
  private readonly host: string;
  private readonly port: number;
  private readonly tls: boolean;

  constructor(spec: DrainSpec, capacity: number, private readonly destinations: DrainDestinations) {
    super(spec, capacity);
    const u = new URL(spec.url);
    this.host = u.hostname.replace(/^\[|\]$/g, "");
    this.port = Number(u.port);
    this.tls = u.protocol === "syslog+tls:";
    // Connected at once, so the first burst of lines finds the connection up, not its buffer filling.
    this.connect();
  }

  protected kick(): void {
    if (this.stopped) return;
    if (this.socket) this.pump();
    else if (!this.connecting && !this.retry) this.connect();
  }

  private connect(): void {
    let guard: ReturnType<DrainDestinations["connectOptions"]>;
    try {
      guard = this.destinations.connectOptions(this.host);
    } catch {
      // A refused address (kept from before the rule, or edited in drains.json): never connected;
      // its lines are dropped and counted in L10 lines like those of any drain that is down.
      this.scheduleReconnect();
      return;
    }
    this.connecting = true;
    const s = this.tls
      ? tls.connect({ ...guard, host: this.host, port: this.port, servername: net.isIP(this.host) ? undefined : this.host, ca: this.caList() })
      : net.connect({ ...guard, host: this.host, port: this.port });
    s.setTimeout(CONNECT_TIMEOUT_MS, () => s.destroy(new Error("connect timeout")));
    s.once(this.tls ? "secureConnect" : "connect", () => {
      s.setTimeout(0);
      this.connecting = false;
      this.socket = s;
      this.backoffMs = 0;
      this.pump();
    });
    s.on("drain", () => this.pump());
    // Receivers send nothing; whatever comes is read and ignored so the connection never stalls.
    s.on("data", () => undefined);
    s.on("error", () => undefined);
    s.on("close", () => {
      this.connecting = false;
      if (this.socket === s) this.socket = undefined;
      if (!this.stopped) this.scheduleReconnect();
    });
  }

  private caList(): string[] | undefined {
    return this.spec.ca ? [...tls.rootCertificates, this.spec.ca] : undefined;
  }

  private scheduleReconnect(): void {
    this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(100, this.backoffMs * 2));
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.pending) this.connect();
    }, this.backoffMs);
    this.retry.unref();
  }

  private pump(): void {
    const s = this.socket;
    while (s && !s.destroyed && s.writableLength < SOCKET_HIGH_WATER) {
      const lines = this.next(LINES_PER_WRITE);
      if (lines.length === 0) return;
      s.write(syslogFrames(lines));
    }
  }

  stop(): void {
    super.stop();
    if (this.retry) clearTimeout(this.retry);
    this.socket?.destroy();
  }
}

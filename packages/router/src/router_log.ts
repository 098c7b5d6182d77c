// One line per request on stdout, in Heroku's router format:
//   at=info method=GET path="/" host=app.example.com request_id=... fwd="1.2.3.4" dyno=web.1 connect=0ms service=12ms status=200 bytes=123 protocol=http
//   at=error code=H12 desc="Request timeout" method=GET path="/" ... status=503 ...
// Lines are buffered and written in batches (at most every 20 ms or 64 KiB) so logging does not
// cost one write(2) per request. The same line goes to the log router for the route's app
// (`heroku[router]` in its stream) through a LogSender: batched, bounded (its oldest lines dropped
// and counted in an L10 line when the log router is away), so the request path never waits on it.
import type { LogSender } from "@dynoform/logplex/sender";
import type { ErrorCode } from "./error_pages";

/** One request's log line. */
export interface LogRecord {
  /** The route's app (its stream at the log router); unset for requests no app took. */
  app?: string;
  /** Set on failures only (at=error); desc says what the code means. */
  code?: ErrorCode;
  desc?: string;
  method: string;
  path: string;
  host: string;
  requestId: string;
  fwd: string;
  dyno: string;
  connectMs: number;
  serviceMs: number;
  status: number;
  bytes: number;
  protocol: "http" | "websocket";
}

// Fast paths: almost every value is plain printable ASCII and needs no escaping.
const NEEDS_ESCAPE = /[\x00-\x1f\x7f"\\]/;
const BARE_OK = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const quoteSlow = (s: string) => '"' + s.replace(/[\\"]/g, (c) => "\\" + c).replace(/[\x00-\x1f\x7f]/g, (c) => "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0")) + '"';
const quote = (s: string) => (NEEDS_ESCAPE.test(s) ? quoteSlow(s) : '"' + s + '"');
const bare = (s: string) => (s === "" ? '""' : BARE_OK.test(s) ? s : quote(s));

export function formatLine(f: LogRecord): string {
  const head = f.code ? `at=error code=${f.code} desc=${quote(f.desc ?? "")} ` : "at=info ";
  return (
    head +
    `method=${bare(f.method)} path=${quote(f.path)} host=${bare(f.host)} request_id=${bare(f.requestId)} fwd=${quote(f.fwd)} ` +
    `dyno=${bare(f.dyno)} connect=${Math.round(f.connectMs)}ms service=${Math.round(f.serviceMs)}ms status=${f.status} bytes=${f.bytes} protocol=${f.protocol}\n`
  );
}

export class RouterLog {
  private buf: string[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly enabled: boolean,
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly sender?: LogSender,
  ) {}

  write(f: LogRecord): void {
    if (!this.enabled && !(this.sender && f.app)) return;
    const line = formatLine(f);
    if (this.sender && f.app) this.sender.send(f.app, "heroku", "router", line.slice(0, -1));
    if (!this.enabled) return;
    this.buf.push(line);
    this.size += line.length;
    if (this.size >= 65536) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), 20);
  }

  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    if (!this.buf.length) return;
    const s = this.buf.join("");
    this.buf = [];
    this.size = 0;
    this.out.write(s);
  }

  /** Resolves once the log router acknowledged every line sent (or after timeoutMs): for shutdown. */
  async sent(timeoutMs: number): Promise<void> {
    this.flush();
    if (this.sender) await this.sender.flushed(timeoutMs);
  }
}

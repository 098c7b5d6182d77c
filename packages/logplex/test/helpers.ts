// A log router on 127.0.0.1 with its own data directory, and receivers that parse what drains send
// the way real receivers do (RFC 6587 octet counting, RFC 5424 fields).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LOG_BATCH_V2 } from "@dynoform/contract";
import { DEFAULTS, type LogplexConfig } from "../src/config";
import { startLogplex, type RunningLogplex } from "../src/logplex";

export const CONTROL_TOKEN = "control-token-0123456789abcdef0123456789abcdef";
export const SENDER_TOKEN = "sender-token-0123456789abcdef0123456789abcdef";

export function tempDir(prefix = "logplex-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function startTestLogplex(dataDir: string, over: Partial<LogplexConfig> = {}): Promise<RunningLogplex> {
  return startLogplex({
    ...DEFAULTS,
    listen: "127.0.0.1:0",
    token: CONTROL_TOKEN,
    senders: [{ name: "host-a", tokenSha256: createHash("sha256").update(SENDER_TOKEN).digest("hex") }],
    dataDir,
    // The tests' drains listen on loopback, which stands for the outside here as the lab's gateway does there.
    drainAllowedAddresses: ["127.0.0.1"],
    ...over,
  });
}

export interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function call(address: string, method: string, path: string, opts: { token?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
    const req = http.request(
      { host, port, method, path, headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.headers ?? {}) } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

export interface Line {
  app: string;
  time: number;
  seq: number;
  source: "app" | "heroku";
  dyno: string;
  msg: string;
}

export const ndjson = (lines: object[]) => lines.map((l) => JSON.stringify(l)).join("\n") + "\n";

export function postLines(address: string, lines: object[], stream = "s1", token = SENDER_TOKEN): Promise<Answer> {
  return call(address, "POST", "/v1/lines", { token, body: ndjson(lines), headers: { "dynoform-log-stream": stream } });
}

/** A compact batch (log_batch.ts), as LogSender sends once the log router takes it. */
export function postCompact(address: string, body: string, stream = "s1", token = SENDER_TOKEN): Promise<Answer> {
  return call(address, "POST", "/v1/lines", { token, body, headers: { "dynoform-log-stream": stream, "content-type": LOG_BATCH_V2 } });
}

export function lines(app: string, n: number, from = 0, time = Date.now(), dyno = "web.1"): Line[] {
  return Array.from({ length: n }, (_, i) => ({ app, time, seq: from + i, source: "app" as const, dyno, msg: `line ${from + i}` }));
}

/** A parsed RFC 5424 message. */
export interface SyslogMessage {
  pri: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  msg: string;
}

const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) ?(.*)$/s;
/** Heroku's logplex-1 lines have no structured-data field. */
const LOGPLEX1 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (.*)$/s;

export function parseSyslog(text: string, format: "rfc5424" | "logplex-1" = "rfc5424"): SyslogMessage {
  const m = (format === "rfc5424" ? RFC5424 : LOGPLEX1).exec(text);
  if (!m) throw new Error(`not an RFC 5424 message: ${JSON.stringify(text.slice(0, 200))}`);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$/.test(m[2])) throw new Error(`bad RFC 5424 TIMESTAMP ${m[2]}`);
  const msg = format === "rfc5424" ? m[8] : m[7].replace(/\n$/, "");
  return { pri: Number(m[1]), timestamp: m[2], hostname: m[3], appName: m[4], procId: m[5], msgId: m[6], msg };
}

/** RFC 6587 octet-counted frames from a byte stream; returns the leftover partial frame. */
export function splitOctetCounted(buf: Buffer, out: string[]): Buffer {
  let off = 0;
  for (;;) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0 || sp - off > 10) break;
    const len = Number(buf.subarray(off, sp).toString("ascii"));
    if (!Number.isInteger(len) || len <= 0) throw new Error(`bad octet count ${JSON.stringify(buf.subarray(off, sp).toString())}`);
    if (sp + 1 + len > buf.length) break;
    out.push(buf.subarray(sp + 1, sp + 1 + len).toString("utf8"));
    off = sp + 1 + len;
  }
  return buf.subarray(off);
}

/** A TCP (or TLS) syslog receiver: every framed message it got, parsed. */
export class SyslogReceiver {
  readonly messages: SyslogMessage[] = [];
  readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(server: net.Server) {
    this.server = server;
    server.on("connection", (s: net.Socket) => this.track(s));
    server.on("secureConnection", (s: net.Socket) => this.track(s));
    server.on(!("addContext" in server) ? "connection" : "secureConnection", (s: net.Socket) => {
      let rest: Buffer = Buffer.alloc(0);
      s.on("data", (c: Buffer) => {
        const frames: string[] = [];
        rest = splitOctetCounted(Buffer.concat([rest, c]), frames);
        for (const f of frames) this.messages.push(parseSyslog(f));
      });
      s.on("error", () => undefined);
    });
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
  }

  static async listen(port = 0): Promise<SyslogReceiver> {
    const r = new SyslogReceiver(net.createServer());
    await new Promise<void>((res) => r.server.listen(port, "127.0.0.1", () => res()));
    return r;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((res) => this.server.close(() => res()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

/** A self-signed certificate for 127.0.0.1 and localhost, made by openssl in `dir`. */
export function selfSigned(dir: string, name = "server"): { key: string; cert: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], { stdio: "ignore" });
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

/** A local HTTPS drain receiver: each request's headers and parsed logplex-1 messages. */
export class HttpsReceiver {
  readonly frames: Array<{ headers: http.IncomingHttpHeaders; messages: SyslogMessage[] }> = [];
  /** answer this status (e.g. 503) instead of 200 */
  status = 200;
  constructor(readonly server: https.Server) {
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (this.status === 200) {
          const frames: string[] = [];
          const rest = splitOctetCounted(Buffer.concat(chunks), frames);
          if (rest.length) throw new Error("a logplex-1 body ended inside a frame");
          this.frames.push({ headers: req.headers, messages: frames.map((f) => parseSyslog(f, "logplex-1")) });
        }
        res.writeHead(this.status).end();
      });
    });
  }

  static async listen(tls: { key: string; cert: string }): Promise<HttpsReceiver> {
    const r = new HttpsReceiver(https.createServer(tls));
    await new Promise<void>((res) => r.server.listen(0, "127.0.0.1", () => res()));
    return r;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get messages(): SyslogMessage[] {
    return this.frames.flatMap((f) => f.messages);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((res) => this.server.close(() => res()));
  }
}

export async function until(cond: () => boolean, timeoutMs = 5000, stepMs = 10): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

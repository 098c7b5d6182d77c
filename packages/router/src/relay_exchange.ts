// A plain request on the relay path: its head was read from the client's bytes (request_head.ts,
// client_connection.ts), it goes to a dyno over one of the dyno's raw keep-alive connections
// (dyno_connection.ts), and the answer comes back as bytes: the head rewritten, the body relayed
// with the framing the dyno's head gave it. What each outcome means (answer, retry, H-code) is the
// same as on node:http's path (http_exchange.ts), and so is what the client sees.
import { STATUS_CODES } from "node:http";
import type { ClientConnection } from "./client_connection";
import type { DynoConnection, DynoConnectionUser, DynoFailure } from "./dyno_connection";
import type { DynoPool } from "./dyno_pool";
import { appErrorAnswer, H_CODES, type HCode } from "./error_pages";
import { Exchange } from "./exchange";
import { forwardRequestHeaders, forwardResponseHeaders, type RequestFacts } from "./http_strictness";
import type { Proxy } from "./proxy";
import type { ResponseHead } from "./response_head";
import type { Target } from "./target";

export class RelayExchange extends Exchange implements DynoConnectionUser {
  protected readonly protocol = "http";
  /** Response body bytes relayed (or the error page's). */
  private bytes = 0;
  /** The dyno connection of the attempt in flight. */
  private conn: DynoConnection | undefined = undefined;
  /** The dyno's status code, once its head arrived. */
  private status = 0;
  private gotHead = false;
  /** The client's head, held back to go out in one write with the first body bytes. */
  private pendingHead: string | undefined = undefined;
  /** The dyno's body runs until it closes: relayed to the client in chunks of our own. */
  private wrapChunks = false;
  /** The request head for the dyno, built once for every attempt. */
  private upstreamHead: string | undefined = undefined;

  constructor(
    proxy: Proxy, pool: DynoPool, req: RequestFacts,
    /** The whole Content-Length body, held for every attempt. */
    private readonly body: Buffer | undefined,
    private readonly client: ClientConnection, host: string, authority: string | undefined, requestId: string, start: number,
  ) {
    super(proxy, pool, req, host, authority, requestId, start);
  }

  begin(): void {
    this.findDyno();
  }

  protected send(t: Target): void {
    const firstByteLeft = this.timedAttempt(t);
    if (firstByteLeft === undefined) return;
    const route = this.pool.route;
    this.upstreamHead ??= requestHeadFor(this.req, forwardRequestHeaders(this.req, this, false));
    const c = (this.conn = t.connection());
    c.send(this.upstreamHead, this.body, this.req.method ?? "GET", this, firstByteLeft, route.idleTimeoutMs ?? this.proxy.cfg.idleTimeoutMs);
  }

  responseHead(h: ResponseHead): void {
    if (this.done) return;
    this.gotHead = true;
    this.status = h.status;
    const headers = forwardResponseHeaders(h.rawHeaders, this.requestId);
    const f = h.framing;
    this.wrapChunks = f.kind === "close";
    this.pendingHead = this.client.responseHead(h.status, h.reason || STATUS_CODES[h.status] || "unknown", headers, f.kind === "chunked" || f.kind === "close");
  }

  responseBody(chunk: Buffer): boolean {
    if (this.done) return true;
    this.bytes += chunk.length;
    const head = this.pendingHead;
    this.pendingHead = undefined;
    const ok = this.wrapChunks ? this.client.writeChunk(head, chunk) : this.client.write(head, chunk);
    if (!ok) this.client.onDrain(() => this.conn?.resume());
    return ok;
  }

  responseEnd(): void {
    if (this.done) return;
    const head = this.pendingHead;
    this.pendingHead = undefined;
    this.conn = undefined;
    if (this.wrapChunks) this.client.writeChunk(head, undefined);
    else if (head !== undefined) this.client.write(head, undefined);
    this.returnSlot();
    this.finish(undefined, this.status);
  }

  failed(kind: DynoFailure, code?: string): void {
    const t = this.target!;
    this.conn = undefined;
    this.returnSlot();
    if (this.done) return;
    if (this.gotHead) {
      // The answer had begun: nothing can be sent any more but a cut.
      this.client.cut();
      return this.finish(kind === "idleTimeout" ? "H15" : "H13", this.status);
    }
    if (kind === "connect" || kind === "connectTimeout") return this.connectFailed(t, kind === "connectTimeout" ? "UND_ERR_CONNECT_TIMEOUT" : code, true);
    if (kind === "firstByteTimeout") return this.fail("H12");
    if (!this.resendElsewhere(t, this.body !== undefined)) this.fail("H13");
  }

  /** The client went away before the answer was complete. */
  clientGone(): void {
    if (this.done) return;
    this.leaveQueue();
    this.returnSlot();
    this.conn?.abort();
    this.conn = undefined;
    this.finish("H27", 499);
  }

  protected fail(code: HCode): void {
    const status = H_CODES[code].status;
    const { body, headers } = appErrorAnswer(this.requestId);
    this.bytes = body.length;
    const head = this.client.responseHead(status, STATUS_CODES[status] ?? "unknown", headers, false);
    this.client.write(head, Buffer.from(body));
    this.finish(code, status);
  }

  private finish(code: HCode | undefined, status: number): void {
    if (this.finishRequest(code, status, this.bytes)) this.client.responseDone(this);
  }
}

/** The request line and header fields for the dyno (a body's Content-Length among them). */
function requestHeadFor(req: RequestFacts, headers: string[]): string {
  let s = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) s += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return s + "connection: keep-alive\r\n\r\n";
}

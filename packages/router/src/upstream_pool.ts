// Keep-alive HTTP/1.1 connections to one dyno, one request at a time each, as many connections as
// requests in flight (the cap is enforced by the balancer). Made for the proxy's hot path: no
// per-request timers (one coarse sweep checks every connection's deadline), no per-request closures,
// the request head written with one write(2), the response parsed by response_parser.ts.
import { connect, type Socket } from "node:net";
import type { Readable } from "node:stream";
import { ResponseParser, type ResponseSink } from "./response_parser";

/** Error codes of failed exchanges (besides the socket's own ECONNREFUSED, ECONNRESET...). */
export const UPSTREAM_CONNECT_TIMEOUT = "UPSTREAM_CONNECT_TIMEOUT";
export const UPSTREAM_HEADERS_TIMEOUT = "UPSTREAM_HEADERS_TIMEOUT";
export const UPSTREAM_BODY_TIMEOUT = "UPSTREAM_BODY_TIMEOUT";
export const UPSTREAM_CLOSED = "UPSTREAM_CLOSED";

export interface UpstreamRequest {
  method: string;
  path: string;
  /** Flat [name, value, ...], Host included, no Transfer-Encoding. */
  headers: string[];
  /** Streamed with the request's Content-Length, or chunked when the headers carry none. */
  body: Readable | null;
  /** Longest silence before the response head (H12), and within the response body (H15). */
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

/** One exchange's callbacks. onHeaders returning false abandons the exchange; onData returning
 * false pauses the response until `resume`; onComplete gets the body's last piece when it came with
 * the end. After onComplete or onError nothing more is called. */
export interface UpstreamHandler {
  onHeaders(status: number, headers: string[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(tail: Buffer | undefined): void;
  onError(err: Error): void;
}

export interface UpstreamPoolOptions {
  connectTimeoutMs: number;
  /** Idle connections are closed after this (or sooner when the dyno's Keep-Alive says so). */
  keepAliveMs: number;
}

function upstreamError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

// ---- deadlines: one sweep for every connection of the process ---------------------------------

const SWEEP_MS = 50;
const watched = new Set<UpstreamConnection>();
let sweeper: NodeJS.Timeout | undefined;

function watch(c: UpstreamConnection): void {
  watched.add(c);
  sweeper ??= setInterval(sweep, SWEEP_MS).unref();
}

function unwatch(c: UpstreamConnection): void {
  watched.delete(c);
  if (watched.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

function sweep(): void {
  const now = Date.now();
  for (const c of watched) if (c.deadline <= now) c.timedOut();
}

// ---- connections -------------------------------------------------------------------------------

const CONNECTING = 0;
const WAITING_HEAD = 1;
const READING_BODY = 2;
const IDLE = 3;
const CLOSED = 4;

const EXPECTS_BODY = new Set(["POST", "PUT", "PATCH"]);

class UpstreamConnection implements ResponseSink {
  private readonly socket: Socket;
  private readonly parser = new ResponseParser(this);
  private phase = CONNECTING;
  private handler: UpstreamHandler | undefined;
  private request: UpstreamRequest | undefined;
  private body: Readable | null = null;
  private chunkedBody = false;
  private bodyDone = true;
  /** Date.now() past which the current phase has taken too long. */
  deadline: number;

  constructor(private readonly pool: UpstreamPool, host: string, port: number) {
    this.socket = connect({ host, port, noDelay: true });
    this.deadline = Date.now() + pool.opts.connectTimeoutMs;
    this.socket.on("connect", this.onConnect);
    this.socket.on("data", this.onSocketData);
    this.socket.on("end", this.onSocketEnd);
    this.socket.on("error", this.onSocketError);
    this.socket.on("close", this.onSocketClose);
    watch(this);
  }

  /** Hand the response to `h`; sent at once, or when the connection is up. */
  start(req: UpstreamRequest, h: UpstreamHandler): void {
    this.request = req;
    this.handler = h;
    this.parser.reset(req.method === "HEAD");
    if (this.phase === IDLE) this.send();
  }

  /** Give up the exchange of `h` (if it is still this connection's): the connection is closed. */
  abort(h: UpstreamHandler): void {
    if (this.handler !== h) return;
    this.handler = undefined;
    this.socket.destroy();
  }

  /** Read the response on after onData asked for a pause (the body timeout waits meanwhile). */
  readonly resume = (): void => {
    if (this.phase !== READING_BODY || !this.handler) return;
    this.deadline = Date.now() + this.request!.bodyTimeoutMs;
    this.socket.resume();
  };

  private send(): void {
    const req = this.request!;
    this.phase = WAITING_HEAD;
    this.deadline = Date.now() + req.headersTimeoutMs;
    const h = req.headers;
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    let hasLength = false;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i];
      if (name.length === 14 && !hasLength && name.toLowerCase() === "content-length") hasLength = true;
      head += `${name}: ${h[i + 1]}\r\n`;
    }
    this.body = req.body;
    this.chunkedBody = req.body !== null && !hasLength;
    if (this.chunkedBody) head += "transfer-encoding: chunked\r\n";
    else if (req.body === null && !hasLength && EXPECTS_BODY.has(req.method)) head += "content-length: 0\r\n";
    this.socket.write(head + "\r\n", "latin1");
    this.bodyDone = req.body === null;
    if (req.body) this.pipeBody(req.body);
  }

  // ---- request body ----------------------------------------------------------------------------

  private pipeBody(body: Readable): void {
    body.on("data", this.onBodyData);
    body.once("end", this.onBodyEnd);
    body.once("error", this.onBodyError);
  }

  private readonly onBodyData = (chunk: Buffer): void => {
    if (this.body === null || chunk.length === 0) return;
    if (this.phase === WAITING_HEAD) this.deadline = Date.now() + this.request!.headersTimeoutMs;
    let ok: boolean;
    if (this.chunkedBody) {
      this.socket.cork();
      this.socket.write(`${chunk.length.toString(16)}\r\n`, "latin1");
      this.socket.write(chunk);
      ok = this.socket.write("\r\n", "latin1");
      this.socket.uncork();
    } else {
      ok = this.socket.write(chunk);
    }
    if (!ok) {
      this.body.pause();
      this.socket.once("drain", this.onSocketDrain);
    }
  };

  private readonly onSocketDrain = (): void => {
    this.body?.resume();
  };

  private readonly onBodyEnd = (): void => {
    if (this.body === null) return;
    if (this.chunkedBody) this.socket.write("0\r\n\r\n", "latin1");
    this.detachBody();
    this.bodyDone = true;
  };

  private readonly onBodyError = (err: Error): void => {
    if (this.body === null) return;
    this.detachBody();
    this.fail(err);
  };

  private detachBody(): void {
    const b = this.body;
    if (!b) return;
    this.body = null;
    b.off("data", this.onBodyData);
    b.off("end", this.onBodyEnd);
    b.off("error", this.onBodyError);
    this.socket.off("drain", this.onSocketDrain);
  }

  // ---- response --------------------------------------------------------------------------------

  onResponseHead(status: number, statusText: string, headers: string[]): void {
    const h = this.handler;
    if (!h) return;
    this.phase = READING_BODY;
    this.deadline = Date.now() + this.request!.bodyTimeoutMs;
    if (!h.onHeaders(status, headers, this.resume, statusText)) this.abort(h);
  }

  onResponseBody(chunk: Buffer): void {
    const h = this.handler;
    if (!h) return;
    if (!h.onData(chunk)) {
      // The client reads slowly: that is not the dyno's idleness.
      this.deadline = Infinity;
      this.socket.pause();
    }
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    if (!this.handler || this.phase === IDLE) {
      // Bytes nobody asked for: the connection cannot be trusted any more.
      this.socket.destroy();
      return;
    }
    if (this.phase === READING_BODY && this.deadline !== Infinity) this.deadline = Date.now() + this.request!.bodyTimeoutMs;
    try {
      this.parser.feed(chunk);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    if (this.handler && this.parser.done) this.complete();
  };

  private complete(): void {
    const h = this.handler!;
    this.handler = undefined;
    this.request = undefined;
    // A dyno that answered before reading the whole request body leaves the connection unusable.
    const reusable = this.parser.keepAlive && this.bodyDone && !this.pool.closing;
    const tail = this.parser.tail;
    this.detachBody();
    if (reusable) {
      this.phase = IDLE;
      const hint = this.parser.keepAliveHintMs;
      const keep = hint > 0 ? Math.min(this.pool.opts.keepAliveMs, hint - KEEP_ALIVE_MARGIN_MS) : this.pool.opts.keepAliveMs;
      this.deadline = Date.now() + keep;
      this.socket.resume();
      this.pool.idle.push(this);
    } else {
      this.socket.destroy();
    }
    h.onComplete(tail);
  }

  /** The exchange failed: the connection goes, the handler hears why. */
  private fail(err: Error): void {
    const h = this.handler;
    this.handler = undefined;
    this.request = undefined;
    this.detachBody();
    this.socket.destroy();
    h?.onError(err);
  }

  timedOut(): void {
    switch (this.phase) {
      case CONNECTING: return this.fail(upstreamError("connect timeout", UPSTREAM_CONNECT_TIMEOUT));
      case WAITING_HEAD: return this.fail(upstreamError("no response head in time", UPSTREAM_HEADERS_TIMEOUT));
      case READING_BODY: return this.fail(upstreamError("response body idle", UPSTREAM_BODY_TIMEOUT));
      default: this.socket.destroy();
    }
  }

  private readonly onConnect = (): void => {
    if (this.phase !== CONNECTING) return;
    this.phase = IDLE;
    if (this.handler) this.send();
    else this.pool.idle.push(this);
  };

  private readonly onSocketEnd = (): void => {
    if (this.handler && this.parser.endOfInput()) this.complete();
    else this.fail(upstreamError("the dyno closed the connection without a complete response", UPSTREAM_CLOSED));
  };

  private readonly onSocketError = (err: Error): void => {
    this.fail(err);
  };

  private readonly onSocketClose = (): void => {
    const wasIdle = this.phase === IDLE;
    this.phase = CLOSED;
    unwatch(this);
    if (wasIdle) this.pool.forget(this);
    this.pool.closed(this);
    if (this.handler) this.fail(upstreamError("the dyno closed the connection without a complete response", UPSTREAM_CLOSED));
  };

  get isIdle(): boolean {
    return this.phase === IDLE && this.handler === undefined && !this.socket.destroyed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Idle connections are given up this long before the dyno's own Keep-Alive timeout. */
const KEEP_ALIVE_MARGIN_MS = 500;

export class UpstreamPool {
  /** Connected and unused, most recently used last. */
  readonly idle: UpstreamConnection[] = [];
  private open = 0;
  closing = false;
  private whenClosed: (() => void) | undefined;
  private readonly host: string;
  private readonly port: number;

  constructor(address: string, readonly opts: UpstreamPoolOptions) {
    const i = address.lastIndexOf(":");
    const host = address.slice(0, i);
    this.host = host.startsWith("[") ? host.slice(1, -1) : host;
    this.port = Number(address.slice(i + 1));
  }

  /** Send `req` on an idle connection or a new one; returns it (for abort). */
  dispatch(req: UpstreamRequest, h: UpstreamHandler): UpstreamConnection {
    let c: UpstreamConnection | undefined;
    while ((c = this.idle.pop()) && !c.isIdle);
    if (!c) {
      c = new UpstreamConnection(this, this.host, this.port);
      this.open++;
    }
    c.start(req, h);
    return c;
  }

  forget(c: UpstreamConnection): void {
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  closed(_c: UpstreamConnection): void {
    this.open--;
    if (this.open === 0 && this.whenClosed) this.whenClosed();
  }

  /** Close idle connections now and busy ones once their exchange is over. */
  close(): Promise<void> {
    this.closing = true;
    for (const c of this.idle.splice(0)) c.close();
    if (this.open === 0) return Promise.resolve();
    return new Promise((resolve) => (this.whenClosed = resolve));
  }
}

export type { UpstreamConnection };

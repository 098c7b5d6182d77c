// A client's connection on the relay path: its request heads are read from the bytes with the
// strict parser (request_head.ts, held to llhttp by its differential test), plain requests go to
// dynos as RelayExchanges, and answers go back as bytes, one request at a time (pipelined ones wait
// in order). Everything else — a head that is incomplete in what arrived, a refusal, a body, an
// Upgrade, Expect, HTTP/1.0, a host no app has — is handed, with the bytes read so far, to
// node:http's server for the rest of the connection, whose path (proxy.ts handle/upgrade) answers
// it as before. node:http and undici cost most of a request's CPU; this path costs a fraction.
import type { Socket } from "node:net";
import type { Proxy } from "./proxy";
import type { RelayExchange } from "./relay_exchange";
import { parseRequestHead } from "./request_head";

/** Bytes held from a client while its request is in flight (pipelined requests) before reading pauses. */
const MAX_HELD_BYTES = 64 * 1024;

let dateSecond = 0;
let dateText = "";
/** The Date field node:http adds to a response without one (its text changes once a second). */
function httpDate(): string {
  const now = Date.now();
  const second = now - (now % 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

export class ClientConnection {
  /** performance.now() when its last answer went out (idle keep-alive connections are closed). */
  idleSince = performance.now();
  /** Bytes read and not yet parsed. */
  private buf: Buffer | undefined = undefined;
  private exchange: RelayExchange | undefined = undefined;
  /** Close once the answer in flight is out (the client said close, sent its end, or we drain). */
  private closeAfter = false;
  private handedOver = false;
  /** performance.now() since a request's head has been waiting for the rest of its body. */
  private waitingSince: number | undefined = undefined;
  /** next() is running (see there). */
  private inNext = false;
  /** At least one answer went out on it. */
  private answered = false;
  private drainWaiter: (() => void) | undefined = undefined;
  private readonly onData = (d: Buffer) => this.read(d);
  private readonly onEnd = () => this.ended();
  private readonly onClose = () => this.closed();
  private readonly onDrained = () => {
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.();
  };

  /** The peer is a trusted proxy (the edge): worked out once for all its requests. */
  readonly trusted: boolean;

  constructor(
    readonly socket: Socket,
    private readonly proxy: Proxy,
    /** node:http's own connection handling, for a connection this path does not take. */
    private readonly handOver: (s: Socket) => void,
  ) {
    this.trusted = proxy.trusts({ socket, rawHeaders: [], headers: {} });
    socket.setNoDelay(true);
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("close", this.onClose);
    socket.on("error", noop);
    socket.on("drain", this.onDrained);
  }

  /** Answered a request and has nothing in flight: may be closed (keep-alive timeout, shutdown).
   * A connection that has not sent its first request yet is not idle (node:http's view too): it
   * gets the header timeout instead. */
  get idle(): boolean {
    return this.answered && this.exchange === undefined && this.buf === undefined && !this.handedOver;
  }

  /** Connected for longer than `ms` without a request read from it (a client that sends nothing). */
  silentFor(ms: number, now: number): boolean {
    return !this.answered && this.exchange === undefined && this.waitingSince === undefined && !this.handedOver && now - this.idleSince > ms;
  }

  private read(d: Buffer): void {
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    if (this.exchange) {
      if (this.buf.length > MAX_HELD_BYTES) this.socket.pause();
      return;
    }
    this.next();
  }

  /** The requests in what was read, in order: each relayed once it is whole (a Content-Length body
   * of at most MAX_HELD_BYTES, held so a refused connect can still go to another dyno), or the
   * connection goes to node:http. A loop, not recursion: a request answered at once (an H-code)
   * lets the next pipelined one start here, so a read full of them never nests calls. */
  private next(): void {
    if (this.inNext) return;
    this.inNext = true;
    try {
      for (let b = this.buf; b && !this.exchange && !this.closeAfter && !this.handedOver; b = this.buf) {
        const h = parseRequestHead(b);
        if (h.kind !== "ok" || h.major !== 1 || h.minor !== 1 || h.framing.kind !== "length" || h.framing.length > MAX_HELD_BYTES) return this.giveUp();
        const end = h.headLength + h.framing.length;
        if (b.length < end) {
          // The body is on its way: wait for it (for clientRequestTimeoutMs at most: timeOutWaiting).
          if (this.waitingSince === undefined) this.waitingSince = performance.now();
          return;
        }
        this.waitingSince = undefined;
        const x = this.proxy.relay(this, h, end > h.headLength ? b.subarray(h.headLength, end) : undefined);
        if (!x) return this.giveUp();
        this.buf = b.length > end ? b.subarray(end) : undefined;
        if (!h.keepAlive) this.closeAfter = true;
        this.exchange = x;
        x.begin();
      }
    } finally {
      this.inNext = false;
    }
  }

  /** A body that has not arrived whole within `ms` (counted from its head): a 408 and the end of
   * the connection, as node:http's request timeout answers one; no dyno saw any of it. */
  timeOutWaiting(ms: number, now: number): void {
    if (this.waitingSince === undefined || now - this.waitingSince <= ms || this.exchange) return;
    this.waitingSince = undefined;
    this.buf = undefined;
    // Nothing read after this counts: the connection ends with the 408.
    this.socket.off("data", this.onData);
    this.closeAfter = true;
    this.proxy.clientError(Object.assign(new Error("request timeout"), { code: "ERR_HTTP_REQUEST_TIMEOUT" }), this.socket);
  }

  /** node:http takes the connection from here, with the bytes not yet parsed. */
  private giveUp(): void {
    this.handedOver = true;
    const s = this.socket;
    s.off("data", this.onData);
    s.off("end", this.onEnd);
    s.off("close", this.onClose);
    s.off("error", noop);
    s.off("drain", this.onDrained);
    this.proxy.clientLeft(this);
    if (this.buf) s.unshift(this.buf);
    this.buf = undefined;
    this.handOver(s);
  }

  /** The head of the answer to the request in flight, as node:http would write it: a Date when the
   * dyno sent none, chunked framing when asked, and whether the connection stays open. */
  responseHead(status: number, reason: string, headers: string[], chunked: boolean): string {
    let s = `HTTP/1.1 ${status} ${reason}\r\n`;
    let date = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (name.length === 4 && name.toLowerCase() === "date") date = true;
      s += `${name}: ${headers[i + 1]}\r\n`;
    }
    if (!date) s += `Date: ${httpDate()}\r\n`;
    if (this.proxy.draining) this.closeAfter = true;
    s += this.closeAfter ? "Connection: close\r\n" : `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(this.proxy.cfg.clientKeepAliveMs / 1000)}\r\n`;
    if (chunked) s += "Transfer-Encoding: chunked\r\n";
    return s + "\r\n";
  }

  /** Part of the answer: the head (once) and body bytes, in one write. The body is copied (it may
   * be a dyno connection's read buffer). */
  write(head: string | undefined, body: Buffer | undefined): boolean {
    const s = this.socket;
    if (s.destroyed) return true;
    if (head === undefined) return body ? s.write(Buffer.from(body)) : true;
    if (!body || body.length === 0) return s.write(head, "latin1");
    const out = Buffer.allocUnsafe(head.length + body.length);
    out.write(head, 0, "latin1");
    body.copy(out, head.length);
    return s.write(out);
  }

  /** Part of an answer whose body the dyno ends by closing: framed in chunks here (no body: the last chunk). */
  writeChunk(head: string | undefined, body: Buffer | undefined): boolean {
    const frame = body ? `${body.length.toString(16)}\r\n` : "0\r\n\r\n";
    const ok = this.write((head ?? "") + frame, body);
    return body ? this.socket.write(CRLF) && ok : ok;
  }

  /** `f` once the client has taken what was written (the latest caller's: one answer at a time). */
  onDrain(f: () => void): void {
    this.drainWaiter = f;
  }

  /** A started answer broke off: the client can only learn it from the connection closing. */
  cut(): void {
    this.socket.destroy();
  }

  /** The answer to `x` is out (or the client is gone): the next pipelined request, or close. */
  responseDone(x: RelayExchange): void {
    if (this.exchange !== x) return;
    this.exchange = undefined;
    this.drainWaiter = undefined;
    this.answered = true;
    const s = this.socket;
    if (s.destroyed) return;
    if (this.closeAfter) {
      s.end();
      return;
    }
    this.idleSince = performance.now();
    if (s.isPaused()) s.resume();
    if (this.buf) this.next();
  }

  /** Close it if it is idle (keep-alive timeout, shutdown). */
  closeIfIdle(): void {
    if (this.idle) this.socket.destroy();
  }

  private ended(): void {
    // A client that half-closes has gone away, as node:http's server (not half-open) takes it:
    // the request in flight is interrupted (H27) and the connection closed.
    this.closeAfter = true;
    this.buf = undefined;
    const x = this.exchange;
    this.exchange = undefined;
    x?.clientGone();
    this.socket.end();
  }

  private closed(): void {
    this.proxy.clientLeft(this);
    const x = this.exchange;
    this.exchange = undefined;
    x?.clientGone();
  }
}

const CRLF = Buffer.from("\r\n");
const noop = (): void => undefined;

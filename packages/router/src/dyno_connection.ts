// One keep-alive connection to a dyno on the relay path (relay_exchange.ts): it connects, carries
// one request at a time, reads the answer's head with the strict parser (response_head.ts), frames
// the body (Content-Length, chunked through ChunkedBody, or until the dyno closes) and tells the
// exchange using it what happened. A connection that holds bytes it cannot account for (anything
// after a response, anything while idle) is closed, never reused: what one answer leaves behind
// must not become the next request's answer.
import { connect, type Socket } from "node:net";
import { ChunkedBody, keepAliveAfter } from "./chunked_body";
import { MAX_HEAD_BYTES, parseResponseHead, type ResponseHead } from "./response_head";

/** How an attempt on a dyno connection went wrong. */
export type DynoFailure =
  /** The connect failed (refused, unreachable): the dyno never saw the request. */
  | "connect"
  | "connectTimeout"
  /** The dyno took the request and closed, or answered something that is not HTTP, before a head. */
  | "noAnswer"
  | "firstByteTimeout"
  /** A started response went quiet for the idle timeout. */
  | "idleTimeout"
  /** A started response broke off, or its framing is invalid. */
  | "cut";

/** What a connection tells the exchange it carries a request for. */
export interface DynoConnectionUser {
  /** The answer's head (informational 1xx answers are skipped). */
  responseHead(head: ResponseHead): void;
  /** Body bytes as framed on the wire (a chunked body stays chunked), valid during the call only
   * (the connection's read buffer: copy what is kept); false pauses the dyno's side until the
   * connection's resume(). */
  responseBody(chunk: Buffer): boolean;
  /** The whole answer arrived (the connection is already back in its dyno's idle list or closed). */
  responseEnd(): void;
  failed(kind: DynoFailure, code?: string): void;
}

/** Where a connection goes after a complete answer: its dyno's idle list, or closed. */
export interface ConnectionHome {
  release(c: DynoConnection): void;
  forget(c: DynoConnection): void;
}

const enum State { Idle, Head, Body }
/** A connection is not reused in the last moments of the dyno's own keep-alive timeout (it may be
 * closing it just as a request goes out), as undici's keepAliveTimeoutThreshold. */
const KEEP_ALIVE_MARGIN_MS = 500;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i;

/** The reuse limit a dyno's `Keep-Alive: timeout=N` field sets (Infinity without one). */
export function keepAliveHintMs(raw: string[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length !== 10 || raw[i].toLowerCase() !== "keep-alive") continue;
    const m = KEEP_ALIVE_TIMEOUT.exec(raw[i + 1]);
    if (m) return Math.max(0, Number(m[1]) * 1000 - KEEP_ALIVE_MARGIN_MS);
  }
  return Infinity;
}

/** What every dyno connection of this worker reads into (see the constructor). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export class DynoConnection {
  /** performance.now() when it went idle (keep-alive reuse stops before the dyno's timeout). */
  idleSince = 0;
  /** How long it may sit idle and still be reused, by the dyno's last `Keep-Alive: timeout=N`. */
  reuseWithinMs = Infinity;
  private readonly socket: Socket;
  private connected = false;
  private state = State.Idle;
  private user: DynoConnectionUser | undefined = undefined;
  private method = "GET";
  private buf: Buffer | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  private firstByteMs = 0;
  private idleMs = 0;
  /** Body bytes still to come (length framing). */
  private left = 0;
  private chunked: ChunkedBody | undefined = undefined;
  /** The answer's head while its body is read (a chunked body's trailers may end keep-alive). */
  private head: ResponseHead | undefined = undefined;
  private untilClose = false;
  /** The answer said the connection stays open, and nothing unaccounted for arrived. */
  private reusable = true;
  private dead = false;

  constructor(host: string, port: number, connectTimeoutMs: number, private readonly home: ConnectionHome) {
    // Reads go straight into one buffer shared by every dyno connection of this worker, without
    // the stream machinery: each read is handled before the next one can happen, and nothing here
    // keeps a reference to it (a cut-short head is copied, the client's side copies what it keeps).
    const s = (this.socket = connect({ host, port, noDelay: true, onread: { buffer: READ_BUFFER, callback: (n: number, b: Uint8Array) => this.onRead(b as Buffer, n) } }));
    this.timer = setTimeout(() => this.fail("connectTimeout", "UND_ERR_CONNECT_TIMEOUT"), connectTimeoutMs);
    s.once("connect", () => {
      this.connected = true;
      this.clearTimer();
      if (this.state === State.Head) this.startTimer(this.firstByteMs, "firstByteTimeout");
    });
    s.on("error", (e: NodeJS.ErrnoException) => this.fail(this.connected ? (this.state === State.Body ? "cut" : "noAnswer") : "connect", e.code));
    s.on("end", () => this.onEnd());
    s.on("close", () => this.onEnd());
  }

  /** Send one request (its head, and its whole body if it has one) in one write and report its
   * answer to `user`. */
  send(head: string, body: Buffer | undefined, method: string, user: DynoConnectionUser, firstByteMs: number, idleMs: number): void {
    this.user = user;
    this.method = method;
    this.state = State.Head;
    this.idleMs = idleMs;
    this.firstByteMs = firstByteMs;
    if (body) {
      const out = Buffer.allocUnsafe(head.length + body.length);
      out.write(head, 0, "latin1");
      body.copy(out, head.length);
      this.socket.write(out);
    } else this.socket.write(head, "latin1");
    if (this.connected) this.startTimer(firstByteMs, "firstByteTimeout");
  }

  /** The exchange gave up on this answer (its client went away): the connection cannot be reused. */
  abort(): void {
    this.user = undefined;
    this.close();
  }

  /** Resume reading after responseBody returned false. */
  resume(): void {
    if (this.dead || this.state !== State.Body) return;
    this.startTimer(this.idleMs, "idleTimeout");
    this.socket.resume();
  }

  /** Close it (idle past its keep-alive, or its dyno is draining). */
  close(): void {
    if (this.dead) return;
    this.dead = true;
    this.clearTimer();
    this.socket.destroy();
    this.home.forget(this);
  }

  /** `n` bytes read into READ_BUFFER. A client that is not keeping up pauses reading (net.Socket's
   * pause() and resume() stop and restart reads in this mode; the callback's false would not let
   * resume() restart them). */
  private onRead(b: Buffer, n: number): true {
    if (!this.take(b, n) && !this.dead) {
      this.socket.pause();
      // A slow client is not an idle dyno: the idle timeout (H15) waits while reading is paused.
      this.clearTimer();
    }
    return true;
  }

  /** false: stop reading (the client is not keeping up) until resume(). */
  private take(b: Buffer, n: number): boolean {
    const user = this.user;
    if (!user || this.state === State.Idle) {
      this.close();
      return false;
    }
    const d = b.subarray(0, n);
    if (this.state === State.Head) return this.readHead(user, d);
    return this.readBody(user, d, 0);
  }

  private readHead(user: DynoConnectionUser, d: Buffer): boolean {
    let b = this.buf ? Buffer.concat([this.buf, d]) : d;
    this.buf = undefined;
    for (;;) {
      const h = parseResponseHead(b, this.method);
      if (h.kind === "incomplete") {
        if (b.length > MAX_HEAD_BYTES) {
          this.fail("noAnswer", "HPE_HEADER_OVERFLOW");
          return false;
        }
        this.buf = Buffer.from(b);
        return true;
      }
      if (h.kind === "error") {
        this.fail("noAnswer", "HPE_INVALID");
        return false;
      }
      // 1xx answers (100 Continue, 103 Early Hints) are informational: the answer follows.
      if (h.status < 200 && h.status !== 101) {
        b = b.subarray(h.headLength);
        continue;
      }
      if (h.status === 101) {
        this.fail("noAnswer", "HPE_UNEXPECTED_UPGRADE");
        return false;
      }
      this.state = State.Body;
      this.reusable = h.keepAlive;
      this.reuseWithinMs = keepAliveHintMs(h.rawHeaders);
      const f = h.framing;
      this.left = f.kind === "length" ? f.length : 0;
      this.chunked = f.kind === "chunked" ? new ChunkedBody() : undefined;
      this.head = h;
      this.untilClose = f.kind === "close";
      this.startTimer(this.idleMs, "idleTimeout");
      user.responseHead(h);
      if (this.user !== user) return false; // the exchange gave up while taking the head
      if (f.kind === "none" || (f.kind === "length" && f.length === 0)) {
        if (b.length > h.headLength) this.reusable = false;
        this.complete(user);
        return true;
      }
      return b.length > h.headLength ? this.readBody(user, b, h.headLength) : true;
    }
  }

  /** Body bytes from b[from]; false: the client is not keeping up (reading stops until resume()). */
  private readBody(user: DynoConnectionUser, b: Buffer, from: number): boolean {
    this.timer?.refresh();
    let end = b.length;
    let complete = false;
    if (this.chunked) {
      const used = this.chunked.scan(b, from);
      if (this.chunked.error !== undefined) {
        this.fail("cut", "HPE_INVALID_CHUNK_SIZE");
        return false;
      }
      end = from + used;
      complete = this.chunked.done;
      if (complete && !keepAliveAfter(this.head!, this.chunked)) this.reusable = false;
    } else if (!this.untilClose) {
      end = Math.min(b.length, from + this.left);
      this.left -= end - from;
      complete = this.left === 0;
    }
    if (complete && end < b.length) this.reusable = false;
    const ok = end > from ? user.responseBody(from === 0 && end === b.length ? b : b.subarray(from, end)) : true;
    if (this.user !== user) return false;
    if (complete) {
      this.complete(user);
      return true;
    }
    return ok;
  }

  private complete(user: DynoConnectionUser): void {
    this.clearTimer();
    this.user = undefined;
    this.state = State.Idle;
    this.chunked = undefined;
    this.head = undefined;
    if (this.reusable && !this.dead) {
      this.idleSince = performance.now();
      this.home.release(this);
    } else this.close();
    user.responseEnd();
  }

  private onEnd(): void {
    const user = this.user;
    if (user && this.state === State.Body && this.untilClose) {
      this.reusable = false;
      return this.complete(user);
    }
    this.fail(this.state === State.Body ? "cut" : this.connected ? "noAnswer" : "connect", "ECONNRESET");
  }

  private fail(kind: DynoFailure, code?: string): void {
    const user = this.user;
    this.user = undefined;
    this.close();
    user?.failed(kind, code);
  }

  private startTimer(ms: number, kind: DynoFailure): void {
    this.clearTimer();
    this.timer = setTimeout(() => this.fail(kind), ms);
  }

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}

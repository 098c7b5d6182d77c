// A plain HTTP request forwarded to a dyno over its keep-alive pool (undici), streaming both ways:
// what each attempt's outcome means (answer, retry, H-code), the error page, the log line.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { DynoPool } from "./dyno_pool";
import { appErrorAnswer, H_CODES, type HCode } from "./error_pages";
import { Exchange } from "./exchange";
import { forwardRequestHeaders, forwardResponseHeaders, hasBody } from "./http_strictness";
import type { Proxy } from "./proxy";
import type { Target } from "./target";

/** undici's errors that mean the connect failed: the dyno never saw the request. */
const CONNECT_FAILURES = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"]);

/** Request body handed to undici: reads the client's body only once undici starts sending it, so a
 * request whose connect failed can still be sent elsewhere with its body untouched. */
class BodyRelay extends Readable {
  started = false;
  constructor(private readonly src: IncomingMessage) {
    super();
  }
  override _read(): void {
    if (this.started) {
      this.src.resume();
      return;
    }
    this.started = true;
    this.src.on("data", (c: Buffer) => {
      if (!this.push(c)) this.src.pause();
    });
    this.src.once("end", () => this.push(null));
    this.src.once("error", (e) => this.destroy(e));
    this.src.once("aborted", () => this.destroy(new Error("client aborted")));
  }
}

/** undici dispatch handler of one attempt (a class: no closures allocated per request). */
class Forward implements Dispatcher.DispatchHandler {
  constructor(private readonly x: HttpExchange, private readonly t: Target) {}
  onConnect(abort: (err?: Error) => void): void {
    this.x.abort = abort;
  }
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    return this.x.upstreamHeaders(this.t, statusCode, rawHeaders, resume, statusText);
  }
  onData(chunk: Buffer): boolean {
    const x = this.x;
    if (x.done) return false;
    x.bytes += chunk.length;
    const ok = x.res.write(chunk);
    if (!ok) x.res.once("drain", () => x.resume && x.resume());
    return ok;
  }
  onComplete(): void {
    this.x.upstreamComplete(this.t);
  }
  onError(err: Error): void {
    this.x.upstreamError(this.t, err);
  }
}

export class HttpExchange extends Exchange {
  declare readonly req: IncomingMessage;
  protected readonly protocol = "http";
  /** Cuts the attempt in flight (undici's). */
  abort: ((err?: Error) => void) | undefined = undefined;
  /** Resumes the dyno's response after the client's backpressure (undici's). */
  resume: (() => void) | undefined = undefined;
  /** Response body bytes relayed (or the error page's). */
  bytes = 0;
  private bodyRelay: BodyRelay | undefined = undefined;
  /** The forwarded request headers, built once for every attempt. */
  private headers: string[] | undefined = undefined;
  private gotHeaders = false;
  private status = 0;

  constructor(proxy: Proxy, pool: DynoPool, req: IncomingMessage, readonly res: ServerResponse, host: string, authority: string | undefined, requestId: string, start: number) {
    super(proxy, pool, req, host, authority, requestId, start);
  }

  begin(): void {
    this.res.once("close", () => {
      if (this.done) return;
      // The client went away before the response was complete.
      this.leaveQueue();
      this.returnSlot();
      this.finish("H27", 499);
      if (this.abort) this.abort(new Error("client gone"));
    });
    this.findDyno();
  }

  protected send(t: Target): void {
    const firstByteLeft = this.timedAttempt(t);
    if (firstByteLeft === undefined) return;
    const route = this.pool.route;
    const cfg = this.proxy.cfg;
    const req = this.req;
    this.headers ??= forwardRequestHeaders(req, this, false);
    let body: BodyRelay | null = null;
    if (hasBody(req)) body = this.bodyRelay = new BodyRelay(req);
    t.pool.dispatch(
      {
        path: req.url ?? "/",
        method: req.method as Dispatcher.HttpMethod,
        headers: this.headers,
        body,
        headersTimeout: firstByteLeft,
        bodyTimeout: route.idleTimeoutMs ?? cfg.idleTimeoutMs,
        reset: false,
      },
      new Forward(this, t),
    );
  }

  upstreamHeaders(t: Target, statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.done || this.target !== t) return false;
    this.gotHeaders = true;
    this.status = statusCode;
    this.resume = resume;
    const headers = forwardResponseHeaders(rawHeaders, this.requestId);
    if (this.proxy.draining) this.res.shouldKeepAlive = false;
    this.res.writeHead(statusCode, statusText || undefined, headers);
    return true;
  }

  upstreamComplete(t: Target): void {
    if (this.done || this.target !== t) return;
    this.returnSlot();
    this.res.end();
    this.finish(undefined, this.status);
  }

  upstreamError(t: Target, err: Error): void {
    if (this.target !== t) return;
    this.returnSlot();
    if (this.done) return;
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (this.gotHeaders) {
      // The response had begun: nothing can be sent any more but a cut.
      this.res.destroy();
      return this.finish(code === "UND_ERR_BODY_TIMEOUT" ? "H15" : "H13", this.status);
    }
    if (CONNECT_FAILURES.has(code)) return this.connectFailed(t, code, !(this.bodyRelay?.started ?? false));
    if (code === "UND_ERR_HEADERS_TIMEOUT") return this.fail("H12");
    if (!this.resendElsewhere(t, this.bodyRelay !== undefined)) this.fail("H13");
  }

  protected fail(code: HCode): void {
    const res = this.res;
    const status = H_CODES[code].status;
    if (!res.headersSent) {
      const { body, headers } = appErrorAnswer(this.requestId);
      // A request body we did not read cannot be left on the connection.
      if ((hasBody(this.req) && !this.req.readableEnded) || this.proxy.draining) headers.push("Connection", "close");
      res.writeHead(status, headers);
      res.end(body);
      this.bytes = body.length;
    }
    this.finish(code, status);
  }

  private finish(code: HCode | undefined, status: number): void {
    this.finishRequest(code, status, this.bytes);
  }
}

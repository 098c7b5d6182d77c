// WebSocket and other upgrades: the request goes to a dyno on a connection of its own (never
// pooled); node:http's strict parser reads the answer. A 101 turns both connections into a raw
// tunnel; any other answer is relayed as an ordinary response, and then both connections close.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import type { DynoPool } from "./dyno_pool";
import { appErrorPage, H_CODES, replyRaw, type HCode } from "./error_pages";
import { Exchange } from "./exchange";
import { forwardRequestHeaders, forwardResponseHeaders } from "./http_strictness";
import type { Proxy } from "./proxy";
import type { Target } from "./target";

export class UpgradeExchange extends Exchange {
  declare readonly req: IncomingMessage;
  protected readonly protocol = "websocket";

  constructor(proxy: Proxy, pool: DynoPool, req: IncomingMessage, private readonly socket: Socket, private readonly head: Buffer, host: string, authority: string | undefined, requestId: string, start: number) {
    super(proxy, pool, req, host, authority, requestId, start);
  }

  begin(): void {
    this.socket.once("close", () => {
      this.done = true;
      this.leaveQueue();
    });
    this.socket.on("error", () => undefined);
    this.findDyno();
  }

  /** One attempt: its own connection to `t`, which becomes the tunnel on a 101 and is closed after
   * any other answer. The slot is held until the dyno's answer (or the connection's end). */
  protected send(t: Target): void {
    this.attempt(t, performance.now());
    const socket = this.socket;
    const up = netConnect({ host: t.host, port: t.port });
    up.setNoDelay(true);
    const connectTimer = setTimeout(() => up.destroy(Object.assign(new Error("connect timeout"), { code: "UND_ERR_CONNECT_TIMEOUT" })), this.proxy.cfg.connectTimeoutMs);
    let connected = false;
    let answered = false;
    let upgraded = false;
    up.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      this.returnSlot();
      if (connected) socket.destroy();
      else this.connectFailed(t, err.code, true);
    });
    up.once("connect", () => {
      connected = true;
      clearTimeout(connectTimer);
      const idle = this.pool.route.idleTimeoutMs ?? this.proxy.cfg.idleTimeoutMs;
      const onIdle = () => { up.destroy(); socket.destroy(); };
      up.setTimeout(idle, onIdle);
      socket.setTimeout(idle, onIdle);
      up.once("close", () => {
        this.returnSlot();
        if (!answered) { if (!this.done) this.fail("H13"); }
        else if (upgraded) socket.destroy();
      });
      socket.once("close", () => {
        this.proxy.tunnelClosed(socket);
        up.destroy();
      });
    });
    // node:http's strict parser reads the dyno's answer: the tunnel opens only on a 101.
    const creq = httpRequest({
      createConnection: () => up,
      method: this.req.method,
      path: this.req.url,
      setHost: false,
      headers: forwardRequestHeaders(this.req, this, true),
    });
    creq.on("error", () => up.destroy());
    creq.once("finish", () => {
      // What the client sends before the answer goes to this dyno only, on this connection only.
      if (this.head.length) up.write(this.head);
      socket.pipe(up);
    });
    creq.end();
    creq.once("upgrade", (res: IncomingMessage, _s: Socket, upHead: Buffer) => {
      upgraded = answered = true;
      this.switched(res, up, upHead);
    });
    creq.once("response", (res: IncomingMessage) => {
      answered = true;
      this.relay(res, up);
    });
  }

  /** A 101: the answer goes to the client and the two connections become a tunnel. */
  private switched(res: IncomingMessage, up: Socket, upHead: Buffer): void {
    const socket = this.socket;
    this.returnSlot();
    let out = `HTTP/1.1 101 ${res.statusMessage ?? "Switching Protocols"}\r\n`;
    const rh = res.rawHeaders;
    for (let i = 0; i < rh.length; i += 2) out += `${rh[i]}: ${rh[i + 1]}\r\n`;
    socket.write(out + "\r\n");
    if (upHead.length) socket.write(upHead);
    this.report(undefined, 101, upHead.length);
    up.pipe(socket);
    this.proxy.tunnelOpened(socket);
    if (this.proxy.draining) socket.destroy();
  }

  /** Not switched: an ordinary response, relayed as such, and then both connections close. Nothing
   * may follow it on the client's connection (which may be Varnish's or nginx's keep-alive
   * connection for other users) nor be read from this dyno connection. */
  private relay(res: IncomingMessage, up: Socket): void {
    const socket = this.socket;
    socket.unpipe(up);
    // The head is out from here: an error is a cut, not an error page.
    this.returnSlot();
    const status = res.statusCode ?? 502;
    const headers = forwardResponseHeaders(res.rawHeaders, this.requestId);
    let out = `HTTP/1.1 ${status} ${res.statusMessage ?? ""}\r\n`;
    for (let i = 0; i < headers.length; i += 2) out += `${headers[i]}: ${headers[i + 1]}\r\n`;
    socket.write(out + "Connection: close\r\n\r\n");
    let bytes = 0;
    res.on("data", (c: Buffer) => { bytes += c.length; });
    res.pipe(socket);
    res.once("end", () => {
      up.destroy();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
    res.once("close", () => {
      this.report(undefined, status, bytes);
      if (!res.complete) socket.destroy();
    });
  }

  protected fail(code: HCode): void {
    const status = H_CODES[code].status;
    replyRaw(this.socket, status, "Service Unavailable", "text/html; charset=utf-8", appErrorPage(this.requestId));
    // An upgrade that got no answer logs all its time as connect time.
    this.dispatchedAt = performance.now();
    this.report(code, status, 0);
  }
}

// A worker process: listens on the traffic port (its own SO_REUSEPORT socket, or the inherited
// systemd socket), routes with the table the primary sends it (proxy.ts), reports its in-flight
// counts for the shared load, and drains on shutdown.
import { createServer } from "node:http";
import { Socket, type ListenOptions } from "node:net";
import { parseHostPort } from "./addresses";
import type { RouterConfig } from "./config";
import { WORKER_LISTEN_FD_ENV, type ToPrimary, type ToWorker } from "./ipc";
import { ClientConnection } from "./client_connection";
import { Proxy } from "./proxy";

const DRAIN_LINGER_MS = 300;
const LOG_FLUSH_MS = 2000;

export function worker(cfg: RouterConfig): void {
  const proxy = new Proxy(cfg);
  const server = createServer(
    {
      maxHeaderSize: 64 * 1024,
      headersTimeout: cfg.clientHeaderTimeoutMs,
      requestTimeout: Math.max(cfg.clientRequestTimeoutMs, cfg.clientHeaderTimeoutMs),
      keepAliveTimeout: cfg.clientKeepAliveMs,
      connectionsCheckingInterval: Math.min(1000, cfg.clientHeaderTimeoutMs),
      requireHostHeader: true,
      insecureHTTPParser: false,
      noDelay: true,
    },
    (req, res) => proxy.handle(req, res),
  );
  server.maxHeadersCount = cfg.maxHeaders + 1;
  // Connections start on the relay path (client_connection.ts); node:http's own handling takes
  // those it hands over. The server still owns every connection: close() waits for all of them.
  const httpConnection = server.listeners("connection")[0] as (s: Socket) => void;
  server.removeAllListeners("connection");
  const handOver = (s: Socket) => httpConnection.call(server, s);
  server.on("connection", (s: Socket) => proxy.clientArrived(new ClientConnection(s, proxy, handOver)));
  server.on("checkContinue", (req, res) => {
    res.writeContinue();
    proxy.handle(req, res);
  });
  server.on("upgrade", (req, socket, head) => proxy.upgrade(req, socket as Socket, head));
  server.on("clientError", (err, socket) => proxy.clientError(err as NodeJS.ErrnoException, socket as Socket));
  const toPrimary = (m: ToPrimary) => process.send?.(m);
  process.on("message", (m: ToWorker) => {
    if (m.kind === "snapshot") {
      proxy.applySnapshot(m.snapshot);
      // Listen only once the table is known: a request must never see an empty table after a restart.
      if (!listening) startListening();
    }
    else if (m.kind === "remoteLoad") proxy.applyRemote(m.loads);
    else if (m.kind === "metrics") toPrimary({ kind: "metrics", id: m.id, metrics: proxy.metricsSnapshot() });
    else if (m.kind === "shutdown") {
      // Stop accepting (with a systemd socket, new connections wait in its accept queue for the
      // next process), answer what is in flight with "Connection: close", close idle keep-alive
      // connections, then cut WebSocket tunnels once no plain request is left.
      // For DRAIN_LINGER_MS first keep accepting, so busy keep-alive connections learn of the close
      // from a response rather than race a close of ours (only long-idle ones are closed blindly).
      proxy.startDraining();
      setTimeout(() => {
        // The request lines still held go to the log router first, for at most LOG_FLUSH_MS: a log
        // router that is away must not hold up a restart (what it did not take is lost with us).
        server.close(() => void proxy.log.sent(Math.min(LOG_FLUSH_MS, m.graceMs)).then(() => process.exit(0)));
        server.closeIdleConnections();
        proxy.closeIdleClients();
        const t = setInterval(() => {
          server.closeIdleConnections();
          proxy.closeIdleClients();
          if (proxy.inflightRequests === 0) proxy.closeTunnels();
        }, 50);
        t.unref();
      }, DRAIN_LINGER_MS);
      setTimeout(() => {
        proxy.log.flush();
        process.exit(0);
      }, m.graceMs).unref();
    }
  });
  if (cfg.shareLoadMs > 0 && (cfg.workers > 1 || cfg.loadListen)) {
    setInterval(() => {
      const loads = proxy.loadChanges();
      if (loads.length) toPrimary({ kind: "load", loads });
    }, cfg.shareLoadMs);
  }
  // The primary dying takes the workers with it.
  process.on("disconnect", () => process.exit(0));
  server.on("error", (e) => {
    toPrimary({ kind: "fatal", error: `listen ${cfg.listen}: ${e.message}` });
    setTimeout(() => process.exit(1), 100);
  });
  let listening = false;
  function startListening(): void {
    listening = true;
    const inheritedFd = process.env[WORKER_LISTEN_FD_ENV];
    if (inheritedFd) {
      // Wrap the inherited listening socket in a handle and listen on it here (exclusive: the
      // cluster primary is not involved; the kernel spreads connections over the workers).
      const s = new Socket({ fd: Number(inheritedFd), readable: false, writable: false });
      const handle = (s as unknown as { _handle: unknown })._handle;
      (s as unknown as { _handle: unknown })._handle = null;
      server.listen({ _handle: handle } as unknown as ListenOptions, () => toPrimary({ kind: "listening" }));
      return;
    }
    const { host, port } = parseHostPort(cfg.listen);
    server.listen({ host, port, reusePort: true, exclusive: true } as ListenOptions, () => toPrimary({ kind: "listening" }));
  }
}

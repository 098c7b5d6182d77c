// Starts a log router: loads each app's lines and the drains from dataDir, then serves the API.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AppStore } from "./app_store";
import { Auth } from "./auth";
import type { LogplexConfig } from "./config";
import { DrainDestinations } from "./drain_destinations";
import { DrainRegistry } from "./drain_registry";
import { createApi } from "./http_api";
import { LogRouter } from "./log_router";

export interface RunningLogplex {
  router: LogRouter;
  server: Server;
  /** "host:port" it listens on (the port chosen when listen asked for 0) */
  address: string;
  close(): Promise<void>;
}

export async function startLogplex(cfg: LogplexConfig): Promise<RunningLogplex> {
  const store = new AppStore(cfg.dataDir, cfg.linesPerApp, cfg.storeSegmentBytes);
  store.load();
  const destinations = new DrainDestinations(cfg.drainRefusedNetworks, cfg.drainAllowedAddresses);
  const drains = new DrainRegistry(cfg.dataDir, cfg.drainBufferLines, cfg.drainCheckTimeoutMs, destinations);
  drains.load();
  const router = new LogRouter(store, drains);
  router.start(cfg.overflowNoticeMs);
  const server = createApi(router, new Auth(cfg.token, cfg.senders), { maxBatchBytes: cfg.maxBatchBytes, linesPerApp: cfg.linesPerApp, tailBacklogBytes: cfg.tailBacklogBytes });
  const sep = cfg.listen.lastIndexOf(":");
  const host = cfg.listen.slice(0, sep).replace(/^\[|\]$/g, "");
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(cfg.listen.slice(sep + 1)), host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    router,
    server,
    address: `${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        router.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

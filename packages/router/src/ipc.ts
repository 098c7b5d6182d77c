// What the primary and its workers tell each other over the cluster IPC channel (JSON), and what a
// worker inherits from the primary when it is forked.
import type { Snapshot } from "./dyno_table";
import type { MetricsSnapshot } from "./metrics";

/** In-flight counts by dyno key (`app/dyno`). */
export type LoadList = Array<[string, number]>;

export type ToWorker =
  | { kind: "snapshot"; snapshot: Snapshot }
  /** What the other workers and the peer instances have in flight (only the keys that changed). */
  | { kind: "remoteLoad"; loads: LoadList }
  | { kind: "metrics"; id: number }
  | { kind: "shutdown"; graceMs: number };

export type ToPrimary =
  | { kind: "listening" }
  /** This worker's in-flight counts that changed. */
  | { kind: "load"; loads: LoadList }
  | { kind: "metrics"; id: number; metrics: MetricsSnapshot }
  | { kind: "fatal"; error: string };

/** The worker's configuration (JSON), resolved once by the primary. */
export const WORKER_CONFIG_ENV = "DYNOFORM_ROUTER_WORKER_CONFIG";
/** In a worker: the fd of the traffic socket inherited from systemd (through the primary), if any. */
export const WORKER_LISTEN_FD_ENV = "DYNOFORM_ROUTER_LISTEN_FD";
/** A worker's fds: 0-2 stdio, 3 the cluster IPC channel, 4 the inherited traffic socket. */
export const WORKER_LISTEN_FD = 4;

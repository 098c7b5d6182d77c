// Each worker's own LogSender (its own stream: one process's lines keep their order) to the log
// router, when one is configured. Failures go to stderr once per outage, never a line's content.
import { LogSender } from "@dynoform/logplex/sender";
import type { RouterConfig } from "./config";

export function logSender(cfg: Pick<RouterConfig, "logRouterUrl" | "logToken">): LogSender | undefined {
  if (!cfg.logRouterUrl) return undefined;
  return new LogSender({ url: cfg.logRouterUrl, token: cfg.logToken, onError: (m) => process.stderr.write(`router: log router: ${m}\n`) });
}

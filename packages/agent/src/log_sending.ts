// Every line the agent's LogBuffer takes (dyno output as `app[web.1]`, the agent's events about a
// dyno as `heroku[web.1]`) goes to the log router through one LogSender: batched, never blocking a
// dyno, held (bounded, the oldest dropped and counted in an L10 line) while the log router is away.
import { LogSender } from "@dynoform/logplex/sender";
import type { AgentConfig } from "./config";
import type { LogBuffer, LogLine } from "./log_buffer";

export interface LogSending {
  /** Stops taking lines and waits (at most timeoutMs) for the log router to acknowledge the rest. */
  stop(timeoutMs?: number): Promise<void>;
}

/** The line's own time, to the microsecond: the LogBuffer stamped it (Heroku's format, `.123456+00:00`). */
export function lineTime(l: LogLine): number {
  const t = Date.parse(l.ts.slice(0, 23) + "Z");
  if (!Number.isFinite(t)) return Date.now();
  const micros = l.ts.slice(23, 26);
  return /^\d{3}$/.test(micros) ? (t * 1000 + Number(micros)) / 1000 : t;
}

export function sendLogs(logs: LogBuffer, cfg: Pick<AgentConfig, "logRouterUrl" | "logToken">): LogSending {
  if (!cfg.logRouterUrl) return { stop: async () => undefined };
  const sender = new LogSender({ url: cfg.logRouterUrl, token: cfg.logToken ?? "", onError: (m) => console.error(`agent: log router: ${m}`) });
  const unsubscribe = logs.addSink((app, l) => sender.send(app, l.source, l.dyno, l.msg, lineTime(l)));
  return {
    // Short: a log router that is away must not hold up the agent's restart.
    async stop(timeoutMs = 2000) {
      unsubscribe();
      await sender.flushed(timeoutMs);
      sender.close();
    },
  };
}

// Start an agent in this process: config -> agent (re-adopting dynos) -> control API, log forwarding.
import { Agent } from "./agent";
import type { AgentConfig } from "./config";
import { createControlServer } from "./control_api";
import { LogForwarder } from "./log_forwarder";

export const VERSION = "0.1.0";
export interface RunningAgent {
  agent: Agent;
  port: number;
  close(opts?: { stopDynos?: boolean }): Promise<void>;
}

export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  const agent = new Agent(config);
  await agent.start();
  const forwarder = new LogForwarder(agent.logs, config.logDrains);
  forwarder.start();
  const server = createControlServer(agent, VERSION);
  const i = config.listen.lastIndexOf(":");
  const host = config.listen.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(config.listen.slice(i + 1));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    agent,
    port: typeof addr === "object" && addr ? addr.port : port,
    async close(opts = {}) {
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      forwarder.stop();
      await forwarder.flush();
      await agent.shutdown(opts);
    },
  };
}


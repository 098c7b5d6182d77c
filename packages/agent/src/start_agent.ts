// Start an agent in this process: config -> agent (re-adopting dynos) -> control API, log sending.
import { Agent } from "./agent";
import type { AgentConfig } from "./config";
import { createControlServer } from "./control_api";
import { sendLogs } from "./log_sending";

export const VERSION = "0.1.0";
export interface RunningAgent {
  agent: Agent;
  port: number;
  close(opts?: { stopDynos?: boolean }): Promise<void>;
}

export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  const agent = new Agent(config);
  await agent.start();
  const logSending = sendLogs(agent.logs, config);
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
      await agent.shutdown(opts);
      // After the shutdown: its own events about the dynos it stopped go too.
      await logSending.stop();
    },
  };
}


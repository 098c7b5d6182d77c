// dynoform-agent entry point. SIGTERM/SIGINT stop the agent but leave dynos running
// (restart/upgrade safe: the next agent re-adopts them from its state on disk).
import { loadConfig, USAGE, type AgentConfig } from "./config";
import { startAgent, VERSION } from "./start_agent";
import { StateFileError } from "./state_store";

async function main(): Promise<void> {
  // a SEA sees its own path as argv[1] too
  const args = process.argv.slice(2).filter((a, i) => !(i === 0 && a === process.execPath));
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`${USAGE}\nSee packages/agent/README.md for every key.\n`);
    return;
  }
  if (args.includes("--version")) {
    process.stdout.write(`dynoform-agent ${VERSION}\n`);
    return;
  }
  let config: AgentConfig;
  try {
    config = loadConfig(args);
  } catch (e) {
    process.stderr.write(`dynoform-agent: ${(e as Error).message}\n`);
    process.exit(2);
  }
  let running: Awaited<ReturnType<typeof startAgent>>;
  try {
    running = await startAgent(config);
  } catch (e) {
    if (!(e instanceof StateFileError)) throw e;
    process.stderr.write(`dynoform-agent: ${e.message}\n`);
    process.exit(2);
  }
  process.stdout.write(
    `dynoform-agent ${VERSION}: control API on ${config.listen.replace(/:\d+$/, "")}:${running.port}, supervisor ${running.agent.supervisor.kind}, ` +
      `${config.routers.length} router(s), state in ${config.stateDir}\n`,
  );
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`dynoform-agent: ${sig}, leaving dynos running\n`);
    void running.close().then(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((e) => {
  process.stderr.write(`dynoform-agent: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});

// dynoform-logplex entry point: one process, one event loop (ingest is a parse and an append;
// drains and readers only buffer).
import { loadConfig, type LogplexConfig } from "./config";
import { startLogplex } from "./logplex";

async function main(): Promise<void> {
  // A single executable sees its own path as argv[1] too.
  const args = process.argv.slice(2).filter((a, i) => !(i === 0 && a === process.execPath));
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write("usage: dynoform-logplex [--config FILE] [--listen HOST:PORT] [--token-file FILE] [--data-dir DIR] ...\nSee packages/logplex/README.md for every key.\n");
    return;
  }
  let cfg: LogplexConfig;
  try {
    cfg = loadConfig(args, process.env);
  } catch (e) {
    process.stderr.write(`dynoform-logplex: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const running = await startLogplex(cfg);
  process.stdout.write(`dynoform-logplex: listening on ${running.address}\n`);
  const stop = () => void running.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`dynoform-logplex: ${(e as Error).message}\n`);
  process.exit(1);
});

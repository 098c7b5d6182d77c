// dynoform-router entry point. The primary process holds the dyno table (leases, control API,
// metrics merge) and forks `workers` workers (one by default, primary.ts); every worker listens on the same
// traffic port (SO_REUSEPORT), receives the table as snapshots over IPC and balances on its own
// (worker.ts).
import cluster from "node:cluster";
import { loadConfig, type RouterConfig } from "./config";
import { WORKER_CONFIG_ENV } from "./ipc";
import { inheritedListeners } from "./listen_fds";
import { primary } from "./primary";
import { worker } from "./worker";

function main(): void {
  if (cluster.isPrimary) {
    let cfg: RouterConfig;
    try {
      // A single executable sees its own path as argv[1] too.
      const args = process.argv.slice(2).filter((a, i) => !(i === 0 && a === process.execPath));
      if (args.includes("--help") || args.includes("-h")) {
        process.stdout.write("usage: dynoform-router [--config FILE] [--listen HOST:PORT] [--control-listen HOST:PORT] [--token-file FILE] [--workers N] [--platform-domain DOMAIN] ...\nSee packages/router/README.md for every key.\n");
        return;
      }
      cfg = loadConfig(args, process.env);
    } catch (e) {
      process.stderr.write(`dynoform-router: ${(e as Error).message}\n`);
      process.exit(2);
    }
    primary(cfg, inheritedListeners(process.env, process.pid));
  } else {
    worker(JSON.parse(process.env[WORKER_CONFIG_ENV] ?? "{}") as RouterConfig);
  }
}

main();

// wrk (the C load generator from Debian) as the benches' client: a Node client at 50 connections
// spends more CPU than the server it measures, so its latencies are its own queueing, not the server's.
import { execFileSync } from "node:child_process";

const UNIT = { us: 0.001, ms: 1, s: 1000 };

/** The figures of wrk's output (run with --latency): percentiles in ms, requests/s, error responses. */
export function wrkFigures(out) {
  const pct = (p) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m ? Number(m[1]) * UNIT[m[2]] : NaN;
  };
  return {
    p50: pct(50),
    p99: pct(99),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    total: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + Number(/Socket errors: connect (\d+)/.exec(out)?.[1] ?? 0),
  };
}

/** One wrk run (one thread) against `url` with `connections` keep-alive connections for `seconds`. */
export function wrk({ url, connections, seconds, script, headers = [] }) {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", ...headers.flatMap((h) => ["-H", h]), ...(script ? ["-s", script] : []), url];
  return wrkFigures(execFileSync("wrk", args, { encoding: "utf8", timeout: (seconds + 30) * 1000 }));
}

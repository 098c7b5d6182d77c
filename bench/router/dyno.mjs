// Benchmark dynos: N HTTP servers on 127.0.0.1 (ports BASE..BASE+N-1) in one process. Each serves
// ONE request at a time, in arrival order, like a single-threaded app server; its service times
// are heavy tailed (most fast, a few very slow). Each response says its own service time in
// `X-Service-Ms`, so a client can tell the wait in front of the dyno (router queue, or the dyno's
// own queue when a balancer sent it more than one) from the work. A request for `/?ms=N` takes N ms
// instead of a random time: the benchmark draws one seeded sequence of arrivals and service times
// and sends the same one through every balancer. Prints "ready" when listening.
//   node dyno.mjs BASE N
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";

const base = Number(process.argv[2]);
const n = Number(process.argv[3]);

// Service time distribution (ms): 89.7% 5 ms, 10% 30 ms, 0.3% 1000 ms -> mean 10.485 ms.
export function serviceMs(u = Math.random()) {
  if (u < 0.003) return 1000;
  if (u < 0.103) return 30;
  return 5;
}

let listening = 0;
// Imported for serviceMs (run.mjs draws the sequence) it starts nothing.
for (let i = 0; i < (import.meta.url === pathToFileURL(process.argv[1] ?? "").href ? n : 0); i++) {
  const queue = [];
  let busy = false;
  const next = () => {
    const job = queue.shift();
    if (!job) {
      busy = false;
      return;
    }
    busy = true;
    const ms = job.ms;
    setTimeout(() => {
      if (!job.res.destroyed) {
        job.res.setHeader("X-Service-Ms", String(ms));
        job.res.end("ok\n");
      }
      next();
    }, ms);
  };
  const server = createServer((req, res) => {
    req.resume();
    const m = /[?&]ms=(\d+)/.exec(req.url);
    queue.push({ res, ms: m ? Number(m[1]) : serviceMs() });
    if (!busy) next();
  });
  server.keepAliveTimeout = 60_000;
  server.listen(base + i, "127.0.0.1", () => {
    if (++listening === n) process.stdout.write("ready\n");
  });
}

// Benchmark dynos: N HTTP servers on 127.0.0.1 (ports BASE..BASE+N-1) in one process. Each serves
// ONE request at a time, in arrival order, like a single-threaded app server; its service times
// are heavy tailed (most fast, a few very slow). Prints "ready" when listening.
//   node dyno.mjs BASE N
import { createServer } from "node:http";

const base = Number(process.argv[2]);
const n = Number(process.argv[3]);

// Service time distribution (ms): 89.7% 5 ms, 10% 30 ms, 0.3% 1000 ms -> mean 10.485 ms.
export function serviceMs() {
  const u = Math.random();
  if (u < 0.003) return 1000;
  if (u < 0.103) return 30;
  return 5;
}

let listening = 0;
for (let i = 0; i < n; i++) {
  const queue = [];
  let busy = false;
  const next = () => {
    const job = queue.shift();
    if (!job) {
      busy = false;
      return;
    }
    busy = true;
    setTimeout(() => {
      if (!job.res.destroyed) job.res.end("ok\n");
      next();
    }, serviceMs());
  };
  const server = createServer((req, res) => {
    req.resume();
    queue.push({ res });
    if (!busy) next();
  });
  server.keepAliveTimeout = 60_000;
  server.listen(base + i, "127.0.0.1", () => {
    if (++listening === n) process.stdout.write("ready\n");
  });
}

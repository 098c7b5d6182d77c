// What every bench starts and must stop: processes it spawns (kept in one list, so a failed run
// stops them all by pid) and loopback ports for them.
import { spawn } from "node:child_process";
import net from "node:net";

/** Every process `start` spawned, in order: `stopAll` ends them. */
export const procs = [];

/** Spawns `cmd`, keeping its stderr for a failure report (`p.errText()`). */
export function start(cmd, args, opts = {}) {
  const p = spawn(cmd, args, { stdio: ["ignore", opts.stdout ?? "ignore", "pipe"], ...opts.spawn, env: { ...process.env, ...opts.env, ...opts.spawn?.env } });
  let err = "";
  p.stderr.on("data", (c) => (err += c));
  p.errText = () => err;
  procs.push(p);
  return p;
}

/** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
export async function stop(p) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once("exit", r));
  p.kill("SIGTERM");
  const t = setTimeout(() => p.kill("SIGKILL"), 5000);
  await done;
  clearTimeout(t);
}

export async function stopAll() {
  for (const p of procs) await stop(p);
}

/** A free port on 127.0.0.1 (free when asked: the caller binds it at once). */
export function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    });
  });
}

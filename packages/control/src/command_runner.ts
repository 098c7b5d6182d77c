// Runs build commands: as an unprivileged user (uid/gid), in their own process group, against a
// deadline shared by the whole build, streaming output line by line and remembering the last lines
// so a failure can say why. When a command exits (or times out), whatever it left running is killed
// (`reap`: every process of the build user; else its process group), so no build process outlives
// its step and a leftover holding the output pipe open cannot hang the build.
import { spawn } from "node:child_process";

export interface RunOptions {
    cwd: string;
    env: Record<string, string>;
    /** Called with each output line (stdout and stderr, interleaved as they arrive). */
    onLine?: (line: string) => void;
}

export interface CommandRunner {
    /** Resolves when the command exits 0; rejects with CommandFailedError otherwise. */
    run(command: string, args: string[], opts: RunOptions): Promise<void>;
    /** Milliseconds left before the deadline (Infinity when there is none). */
    remainingMs(): number;
}

export class CommandFailedError extends Error {
    constructor(message: string, readonly exitCode: number | null, readonly tail: string[], readonly timedOut = false) {
        super(message);
        this.name = "CommandFailedError";
    }
}

export interface RunnerOptions {
    uid?: number;
    gid?: number;
    /** Absolute time (ms since epoch) after which commands are killed. */
    deadline?: number;
    /** Human description of the limit, for the timeout message ("15 minutes"). */
    limitText?: string;
    /** How many trailing lines of output a failure keeps. Default 20. */
    tailLines?: number;
    /** Grace between SIGTERM and SIGKILL on timeout. Default 5 s. */
    killGraceMs?: number;
    /** Kills every process of the build (BuildSandbox: all of the build user's); default: the command's process group. */
    reap?: () => Promise<void>;
    /** How long output pipes may stay open after the command and its leftovers are killed. Default 2 s. */
    closeGraceMs?: number;
}

function splitLines(onLine: (l: string) => void) {
    let buf = "";
    return {
        push(chunk: Buffer) {
            buf += chunk.toString("utf8");
            let i: number;
            while ((i = buf.indexOf("\n")) !== -1) {
                onLine(buf.slice(0, i).replace(/\r$/, ""));
                buf = buf.slice(i + 1);
            }
        },
        flush() {
            if (buf !== "") onLine(buf.replace(/\r$/, ""));
            buf = "";
        },
    };
}

export function describeLimit(ms: number): string {
    if (ms % 60_000 === 0) return `${ms / 60_000} minute${ms === 60_000 ? "" : "s"}`;
    return `${Math.round(ms / 1000)} seconds`;
}

export function createRunner(opts: RunnerOptions = {}): CommandRunner {
    const tailMax = opts.tailLines ?? 20;
    const remainingMs = () => (opts.deadline === undefined ? Infinity : opts.deadline - Date.now());
    return {
        remainingMs,
        run(command, args, runOpts) {
            return new Promise((resolve, reject) => {
                const tail: string[] = [];
                const onLine = (line: string) => {
                    tail.push(line);
                    if (tail.length > tailMax) tail.shift();
                    runOpts.onLine?.(line);
                };
                const left = remainingMs();
                const shown = [command, ...args].join(" ");
                if (left <= 0) {
                    reject(new CommandFailedError(`build exceeded the ${opts.limitText ?? "time"} limit before "${shown}"`, null, [], true));
                    return;
                }
                const child = spawn(command, args, {
                    cwd: runOpts.cwd,
                    env: runOpts.env,
                    stdio: ["ignore", "pipe", "pipe"],
                    detached: true, // own process group: a timeout kills npm and everything it started
                    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
                    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
                });
                const out = splitLines(onLine);
                const err = splitLines(onLine);
                child.stdout!.on("data", (c: Buffer) => out.push(c));
                child.stderr!.on("data", (c: Buffer) => err.push(c));
                let timedOut = false;
                let killTimer: NodeJS.Timeout | undefined;
                let closeTimer: NodeJS.Timeout | undefined;
                let reapError: Error | undefined;
                const killGroup = (sig: NodeJS.Signals) => {
                    try {
                        if (child.pid) process.kill(-child.pid, sig);
                    } catch {
                        /* already gone */
                    }
                };
                const killAll = async () => {
                    killGroup("SIGKILL");
                    if (opts.reap) await opts.reap().catch((e: Error) => (reapError = e));
                };
                const timer =
                    left === Infinity
                        ? undefined
                        : setTimeout(() => {
                              timedOut = true;
                              killGroup("SIGTERM");
                              killTimer = setTimeout(() => void killAll(), opts.killGraceMs ?? 5000);
                          }, left);
                let reaped: Promise<void> | undefined;
                child.on("exit", () => {
                    // The command is done: its leftovers (`setsid cmd &` included) go too, and with
                    // them the pipes they hold; a pipe still open after that is closed from this side.
                    reaped = killAll().then(() => {
                        closeTimer = setTimeout(() => {
                            child.stdout?.destroy();
                            child.stderr?.destroy();
                        }, opts.closeGraceMs ?? 2000);
                        closeTimer.unref();
                    });
                });
                child.on("error", (e) => {
                    if (timer) clearTimeout(timer);
                    reject(new CommandFailedError(`could not start "${shown}": ${e.message}`, null, tail));
                });
                child.on("close", async (code, signal) => {
                    if (timer) clearTimeout(timer);
                    if (killTimer) clearTimeout(killTimer);
                    await reaped; // settled only once nothing of the command is left
                    if (closeTimer) clearTimeout(closeTimer);
                    out.flush();
                    err.flush();
                    if (timedOut) {
                        reject(new CommandFailedError(`build exceeded the ${opts.limitText ?? "time"} limit during "${shown}"`, code, tail, true));
                    } else if (reapError) reject(new CommandFailedError(`"${shown}" left processes that could not be stopped: ${reapError.message}`, code, tail));
                    else if (code === 0) resolve();
                    else reject(new CommandFailedError(`"${shown}" ${signal ? `was killed by ${signal}` : `exited with status ${code}`}`, code, tail));
                });
            });
        },
    };
}

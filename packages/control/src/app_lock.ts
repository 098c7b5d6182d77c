// A per-app mutual-exclusion lock that works across processes (each CLI verb arriving over SSH is
// its own process) and within one process (concurrent async callers).
//
// Across processes: a lock file created with O_EXCL holding "<pid> <hostname> <nonce> <what>".
// A lock whose pid is no longer alive on this host is stale (its holder crashed) and is broken.
// Within a process: a promise chain per lock path, so callers queue instead of polling.
import * as fs from "node:fs";
import * as os from "node:os";
import { randomBytes } from "node:crypto";

export interface LockOptions {
    /** Give up after this long (ms). Default 30 s. */
    timeoutMs?: number;
    /** What the holder is doing, shown to whoever waits in vain ("config:set", "deploy"...). */
    purpose?: string;
    /** Poll interval while another process holds the lock. Default 50 ms. */
    pollMs?: number;
}

export class LockTimeoutError extends Error {
    constructor(readonly lockPath: string, readonly holder: string) {
        super(`another operation is in progress (${holder || "unknown holder"}); try again when it finishes`);
        this.name = "LockTimeoutError";
    }
}

const inProcess = new Map<string, Promise<void>>();

function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

async function readHolder(lockPath: string): Promise<string | undefined> {
    try {
        return await fs.promises.readFile(lockPath, "utf8");
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
    }
}

/** The holder line is "<pid> <hostname> <nonce> <purpose...>". */
function isStale(holder: string): boolean {
    const [pidText, host] = holder.split(" ");
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || pid <= 0) return holder.length > 0; // garbage → stale; empty → being written
    if (host !== os.hostname()) return false; // cannot judge another host's pid
    return !pidAlive(pid);
}

/** Break a stale lock, but only if it still holds exactly the content we judged stale. */
async function breakStale(lockPath: string, observed: string): Promise<void> {
    const aside = `${lockPath}.breaking-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
        await fs.promises.rename(lockPath, aside);
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw err;
    }
    const moved = await readHolder(aside);
    if (moved !== observed) {
        // Someone broke it and took it between our read and our rename: give it back.
        await fs.promises.link(aside, lockPath).catch(() => undefined);
    }
    await fs.promises.rm(aside, { force: true });
}

async function acquireFile(lockPath: string, opts: LockOptions): Promise<string> {
    const nonce = randomBytes(8).toString("hex");
    const line = `${process.pid} ${os.hostname()} ${nonce} ${opts.purpose ?? ""}`.trimEnd();
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    const poll = opts.pollMs ?? 50;
    for (;;) {
        try {
            const fh = await fs.promises.open(lockPath, "wx", 0o600);
            try {
                await fh.writeFile(line);
            } finally {
                await fh.close();
            }
            return line;
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
        const holder = await readHolder(lockPath);
        if (holder !== undefined && isStale(holder)) {
            await breakStale(lockPath, holder);
            continue;
        }
        if (Date.now() >= deadline) throw new LockTimeoutError(lockPath, describeHolder(holder ?? ""));
        await new Promise((r) => setTimeout(r, poll));
    }
}

function describeHolder(holder: string): string {
    const parts = holder.split(" ");
    if (parts.length < 3) return holder;
    const purpose = parts.slice(3).join(" ");
    return `${purpose || "locked"} by pid ${parts[0]} on ${parts[1]}`;
}

async function releaseFile(lockPath: string, line: string): Promise<void> {
    // Only remove the lock if it is still ours (it may have been broken as stale, e.g. after a
    // SIGSTOP long enough for another host... defensive, cheap).
    if ((await readHolder(lockPath)) === line) await fs.promises.rm(lockPath, { force: true });
}

/** Run `fn` while holding the lock at `lockPath`. */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
    const previous = inProcess.get(lockPath) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    const chained = previous.then(() => mine);
    inProcess.set(lockPath, chained);
    try {
        await previous;
        const line = await acquireFile(lockPath, opts);
        try {
            return await fn();
        } finally {
            await releaseFile(lockPath, line);
        }
    } finally {
        done();
        if (inProcess.get(lockPath) === chained) inProcess.delete(lockPath);
    }
}

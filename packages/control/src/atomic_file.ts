// Crash-safe file writes: a reader (or a restarted control host) sees either the old content or the
// new content of a file, never a torn one, and a write that returned is on disk.
//
// Recipe: write a temp file in the same directory, fsync it, rename (or link, for create-only) it
// over the target, fsync the directory so the rename itself is durable.
import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";

function tempPathFor(target: string): string {
    return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

async function writeSynced(file: string, data: string | Buffer, mode: number): Promise<void> {
    const fh = await fs.promises.open(file, "wx", mode);
    try {
        await fh.writeFile(data);
        await fh.sync();
    } finally {
        await fh.close();
    }
}

/** fsync a directory so a rename/link/unlink inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
    const fh = await fs.promises.open(dir, "r");
    try {
        await fh.sync();
    } finally {
        await fh.close();
    }
}

/** Replace `target` atomically with `data`. */
export async function writeFileAtomic(target: string, data: string | Buffer, mode = 0o600): Promise<void> {
    const tmp = tempPathFor(target);
    try {
        await writeSynced(tmp, data, mode);
        await fs.promises.rename(tmp, target);
    } catch (err) {
        await fs.promises.rm(tmp, { force: true });
        throw err;
    }
    await fsyncDir(path.dirname(target));
}

/**
 * Create `target` atomically with `data`; fails with code EEXIST (and leaves the existing file
 * untouched) if it already exists. Used for immutable records such as releases.
 */
export async function createFileAtomic(target: string, data: string | Buffer, mode = 0o600): Promise<void> {
    const tmp = tempPathFor(target);
    try {
        await writeSynced(tmp, data, mode);
        await fs.promises.link(tmp, target);
    } finally {
        await fs.promises.rm(tmp, { force: true });
    }
    await fsyncDir(path.dirname(target));
}

export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
    await writeFileAtomic(target, JSON.stringify(value, null, 2) + "\n");
}

/** Read a JSON file; `undefined` when it does not exist. */
export async function readJson<T>(file: string): Promise<T | undefined> {
    let text: string;
    try {
        // State files are a few KB on a local disk: read at once, where the promise API's open,
        // fstat, read and close would each wait for a threadpool turn (four per file, under load
        // most of an API request's time: bench:api).
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
    }
    try {
        return JSON.parse(text) as T;
    } catch (err) {
        throw new Error(`state file ${file} is not valid JSON (${(err as Error).message}); restore it from backup`);
    }
}

/** Remove temp files left behind by a writer that crashed between write and rename. */
export async function removeStaleTemps(dir: string): Promise<number> {
    let removed = 0;
    let names: string[];
    try {
        names = await fs.promises.readdir(dir);
    } catch {
        return 0;
    }
    for (const name of names) {
        if (/^\..+\.tmp-\d+-[0-9a-f]{8}$/.test(name)) {
            await fs.promises.rm(path.join(dir, name), { force: true });
            removed++;
        }
    }
    return removed;
}

// The audit log: append-only JSON lines, one file per app and one for the platform that holds every
// entry (`dynoform audit`). An entry is one write(2) to a file opened O_APPEND, fsynced before the
// verb reports success, so concurrent writers never interleave and a crash loses no entry it reported.
import * as fs from "node:fs";
import * as path from "node:path";
import type { AuditEntry } from "./principal";

export async function appendEntry(file: string, entry: AuditEntry): Promise<void> {
    await fs.promises.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const fh = await fs.promises.open(file, "a", 0o600);
    try {
        await fh.write(JSON.stringify(entry) + "\n");
        await fh.sync();
    } finally {
        await fh.close();
    }
}

/** The file's entries, oldest first; a torn last line (a crash mid-write) is skipped. */
export async function readEntries(file: string): Promise<AuditEntry[]> {
    let text: string;
    try {
        text = await fs.promises.readFile(file, "utf8");
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw err;
    }
    const entries: AuditEntry[] = [];
    for (const line of text.split("\n")) {
        if (!line) continue;
        try {
            entries.push(JSON.parse(line) as AuditEntry);
        } catch {
            /* a torn line */
        }
    }
    return entries;
}

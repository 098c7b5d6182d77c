// Ends every process of a build user, whatever session, process group or double fork it escaped
// into: kill(-1, SIGKILL) issued *as that user* signals every process the user may signal, and the
// kernel walks the process list under the lock fork() takes, so no child born meanwhile is missed.
// /proc is read after each round to prove none is left (bounded: a process stuck in the kernel
// fails the build instead of hanging it).
import { spawn } from "node:child_process";
import * as fs from "node:fs";

export interface ReapTarget {
    name: string;
    uid: number;
    gid: number;
}

/** pid and command of the live processes whose real, effective, saved or filesystem uid is `uid`. */
export function liveProcessesOf(uid: number): string[] {
    const found: string[] = [];
    let pids: string[];
    try {
        pids = fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n));
    } catch {
        return found;
    }
    for (const pid of pids) {
        let status: string;
        try {
            status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
        } catch {
            continue; // exited meanwhile
        }
        if (/^State:\s+Z/m.test(status)) continue; // dead, waiting for its parent
        const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
        if (uids && uids.slice(1).some((u) => Number(u) === uid)) found.push(`${pid} ${/^Name:\s+(.*)$/m.exec(status)?.[1] ?? "?"}`);
    }
    return found;
}

function killAllAs(user: ReapTarget): Promise<void> {
    return new Promise((resolve) => {
        // dash's builtin kill: kill(-1, SIGKILL) from a process of the user itself (it is spared).
        const child = spawn("/bin/sh", ["-c", "kill -KILL -1 2>/dev/null; exit 0"], { uid: user.uid, gid: user.gid, stdio: "ignore", env: { PATH: "/usr/bin:/bin" } });
        child.on("error", () => resolve());
        child.on("close", () => resolve());
    });
}

/** Kill every process of `user`; resolves when none is left, throws after `rounds` tries. */
export async function killProcessesOf(user: ReapTarget, rounds = 40): Promise<void> {
    let left = liveProcessesOf(user.uid);
    for (let i = 0; i < rounds && left.length > 0; i++) {
        await killAllAs(user);
        if (i > 0) await new Promise((r) => setTimeout(r, 25 * Math.min(i, 8)));
        left = liveProcessesOf(user.uid);
    }
    if (left.length > 0) throw new Error(`processes of the build user ${user.name} survive SIGKILL: ${left.slice(0, 5).join(", ")}`);
}

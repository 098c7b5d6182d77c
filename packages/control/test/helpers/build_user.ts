// A throwaway build user for tests that run as root: made with the control role's own BuildUsers
// (so user creation is exercised too) under a random prefix, removed in afterAll. `nobody` would do
// for running commands, but builds kill every process of their user at the end, and other tests on
// this machine run processes as `nobody`.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { BuildUser, BuildUsers } from "../../src/build_users";

export const isRoot = process.getuid?.() === 0;

export function testBuildUserPrefix(): string {
    return `dfbt${randomBytes(3).toString("hex")}-`;
}

/** The processes (not zombies) whose real or effective uid is `uid`. */
export function processesOf(uid: number): string[] {
    const found: string[] = [];
    for (const pid of fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
        try {
            const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
            const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
            if (/^State:\s+Z/m.test(status) || !uids) continue;
            if (Number(uids[1]) === uid || Number(uids[2]) === uid) found.push(`${pid} ${/^Name:\s+(.*)$/m.exec(status)?.[1]}`);
        } catch {
            /* exited meanwhile */
        }
    }
    return found;
}

export async function createTestBuildUser(prefix: string, app = "app"): Promise<BuildUser | undefined> {
    if (!isRoot) return undefined;
    return new BuildUsers(prefix).forApp(app);
}

export function removeTestBuildUser(user: BuildUser | undefined): void {
    if (!user) return;
    try {
        execFileSync("pkill", ["-KILL", "-u", String(user.uid)]);
    } catch {
        /* none left */
    }
    execFileSync("userdel", [user.name]);
}

/** Every user made under `prefix` (a test's BuildUsers), removed. */
export function removeTestBuildUsers(prefix: string): void {
    for (const line of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
        const [name, , uid, gid] = line.split(":");
        if (name?.startsWith(prefix)) removeTestBuildUser({ name, uid: Number(uid), gid: Number(gid) });
    }
}

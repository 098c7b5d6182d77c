import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CommandFailedError, createRunner, describeLimit } from "../src/command_runner";

const env = { PATH: "/usr/bin:/bin" };

/** Running (not exited, not a zombie waiting for a reaper). */
function alive(pid: number): boolean {
    try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return false;
    }
}

/** Whether `pid` is still running once a SIGKILL sent to it had time to land (bounded poll, not a timing assertion). */
async function stillAliveAfterKill(pid: number): Promise<boolean> {
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    return alive(pid);
}

test("streams lines from stdout and stderr; resolves on exit 0", async () => {
    const lines: string[] = [];
    await createRunner().run("sh", ["-c", "echo one; echo two >&2; printf 'no newline'"], { cwd: "/", env, onLine: (l) => lines.push(l) });
    expect(lines.sort()).toEqual(["no newline", "one", "two"]);
});

test("non-zero exit rejects with the status and the last lines", async () => {
    const run = createRunner({ tailLines: 3 }).run("sh", ["-c", "for i in 1 2 3 4 5; do echo line$i; done; exit 3"], { cwd: "/", env });
    await expect(run).rejects.toBeInstanceOf(CommandFailedError);
    await run.catch((e: CommandFailedError) => {
        expect(e.message).toBe('"sh -c for i in 1 2 3 4 5; do echo line$i; done; exit 3" exited with status 3');
        expect(e.exitCode).toBe(3);
        expect(e.tail).toEqual(["line3", "line4", "line5"]);
        expect(e.timedOut).toBe(false);
    });
});

test("a missing program is reported", async () => {
    await expect(createRunner().run("/nonexistent/prog", [], { cwd: "/", env })).rejects.toThrow(/could not start "\/nonexistent\/prog"/);
});

test("the deadline kills the whole process group", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-runner-"));
    const pidFile = path.join(tmp, "pid");
    const runner = createRunner({ deadline: Date.now() + 400, limitText: "0.4 s", killGraceMs: 200 });
    const started = Date.now();
    const err = (await runner
        .run("sh", ["-c", `sleep 30 & echo $! > ${pidFile}; echo started; wait`], { cwd: "/", env })
        .catch((e) => e)) as CommandFailedError;
    expect(err).toBeInstanceOf(CommandFailedError);
    expect(err.timedOut).toBe(true);
    expect(err.message).toMatch(/^build exceeded the 0.4 s limit during "sh -c sleep 30/);
    expect(err.tail).toEqual(["started"]);
    expect(Date.now() - started).toBeLessThan(3000);
    const grandchild = Number(fs.readFileSync(pidFile, "utf8"));
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(grandchild)).toBe(false); // the backgrounded sleep is gone too
    expect(runner.remainingMs()).toBeLessThanOrEqual(0);
    await expect(runner.run("true", [], { cwd: "/", env })).rejects.toThrow(/build exceeded the 0.4 s limit before "true"/);
    fs.rmSync(tmp, { recursive: true, force: true });
});

test("without a build user (not root): what a command leaves in its process group is killed when it exits", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-runner-"));
    const pidFile = path.join(tmp, "pid");
    await createRunner().run("sh", ["-c", `sleep 1000 & echo $! > ${pidFile}; echo started`], { cwd: "/", env });
    expect(await stillAliveAfterKill(Number(fs.readFileSync(pidFile, "utf8")))).toBe(false);
    fs.rmSync(tmp, { recursive: true, force: true });
});

test("a leftover out of the process group holding the output pipe does not hang the runner", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-runner-"));
    const pidFile = path.join(tmp, "pid");
    const lines: string[] = [];
    await createRunner({ closeGraceMs: 100 }).run("sh", ["-c", `setsid sleep 1000 & echo $! > ${pidFile}; echo started`], { cwd: "/", env, onLine: (l) => lines.push(l) });
    expect(lines).toEqual(["started"]);
    process.kill(Number(fs.readFileSync(pidFile, "utf8")), "SIGKILL"); // (a build user's would be reaped: build_isolation.test.ts)
    fs.rmSync(tmp, { recursive: true, force: true });
});

test("reap runs when the command exits, and the run settles only after it", async () => {
    const events: string[] = [];
    const runner = createRunner({
        reap: async () => {
            events.push("reap");
            await new Promise((r) => setTimeout(r, 50));
            events.push("reaped");
        },
    });
    await runner.run("true", [], { cwd: "/", env });
    events.push("settled");
    expect(events).toEqual(["reap", "reaped", "settled"]);
});

const asRoot = process.getuid?.() === 0 ? test : test.skip;
asRoot("runs as the given uid/gid", async () => {
    const lines: string[] = [];
    await createRunner({ uid: 65534, gid: 65534 }).run("id", ["-u"], { cwd: "/", env, onLine: (l) => lines.push(l) });
    expect(lines).toEqual(["65534"]);
});

test("limits read naturally", () => {
    expect(describeLimit(15 * 60_000)).toBe("15 minutes");
    expect(describeLimit(60_000)).toBe("1 minute");
    expect(describeLimit(1500)).toBe("2 seconds");
});

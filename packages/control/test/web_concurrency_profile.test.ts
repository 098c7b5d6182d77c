// The .profile.d script every Python and Ruby slug carries: it runs before each dyno's command, so
// what it prints lands in the app's output (a release phase showed three "No such file or
// directory" lines: the cgroup levels without a cpu.max, the root always among them).
import { execFileSync, spawnSync } from "child_process";
import { WEB_CONCURRENCY_PROFILE } from "../src/buildpacks/builtin_scripts";

const shells = ["bash", "sh"].filter((shell) => spawnSync("sh", ["-c", `command -v ${shell}`]).status === 0);

/** The profile run by `shell`, then WEB_CONCURRENCY printed; bash without this machine's rc files. */
function profiled(shell: string, env: Record<string, string> = {}) {
    const args = [...(shell === "bash" ? ["--norc", "--noprofile"] : []), "-c", `${WEB_CONCURRENCY_PROFILE}\necho "$WEB_CONCURRENCY"`];
    return spawnSync(shell, args, { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } });
}

describe.each(shells)("WEB_CONCURRENCY profile under %s", (shell) => {
    test("sets a whole number of workers no larger than the CPUs, and prints nothing", () => {
        const run = profiled(shell);
        expect(run.stderr).toBe("");
        const workers = Number(run.stdout.trim());
        expect(Number.isInteger(workers)).toBe(true);
        expect(workers).toBeGreaterThanOrEqual(1);
        expect(workers).toBeLessThanOrEqual(Number(execFileSync("nproc", { encoding: "utf8" })));
    });

    test("keeps a WEB_CONCURRENCY the app set", () => {
        const run = profiled(shell, { WEB_CONCURRENCY: "7" });
        expect(run.stdout.trim()).toBe("7");
        expect(run.stderr).toBe("");
    });
});

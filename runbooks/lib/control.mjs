// The control role through the dynoform CLI (scripts/dynoform.mjs, against the stack's control host):
// the runbooks ask control through its verbs wherever one exists, never by editing its state.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { $ } from "zx";
import { fail, RunbookError } from "./output.mjs";
import { ROOT } from "./stack.mjs";

/**
 * `dynoform <words>` against `stack`; its stderr goes to ours (progress); returns stdout, stops on
 * failure. Its stdin is /dev/null: a verb that reads it (pg:psql) sees its end at once, never waits.
 */
export async function dynoform(stack, words, { quiet = false } = {}) {
    const env = { ...process.env, DYNOFORM_STACK: stack };
    delete env.DYNOFORM_APP; // every verb here names its app
    const p = await $({ env, cwd: ROOT, nothrow: true, quiet: true, stdio: ["ignore", "pipe", "pipe"] })`node ${join(ROOT, "scripts/dynoform.mjs")} ${words}`;
    if (!quiet && p.stderr) process.stderr.write(p.stderr);
    if (p.exitCode !== 0) fail(`dynoform ${words.join(" ")} failed (exit ${p.exitCode})${quiet && p.stderr ? `: ${p.stderr.trim()}` : ""}`);
    return p.stdout;
}

/** `dynoform <words>` with its output on ours as it comes (a drain's progress); stops on failure. */
export function dynoformLive(stack, words) {
    const env = { ...process.env, DYNOFORM_STACK: stack };
    delete env.DYNOFORM_APP;
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [join(ROOT, "scripts/dynoform.mjs"), ...words], { env, cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve() : reject(new RunbookError(`dynoform ${words.join(" ")} failed (exit ${code}): see above`))));
    });
}

/** `dynoform <words> --json`, parsed. */
export async function dynoformJson(stack, words) {
    return JSON.parse(await dynoform(stack, [...words, "--json"], { quiet: true }));
}

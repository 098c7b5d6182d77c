// The Pulumi CLI on one stack, with the project's Pulumi environment (scripts/env.sh): a command
// whose output the runbook reads, or one whose output streams to the operator (`pulumi up`).
import { execFileSync, spawn } from "node:child_process";
import { projectEnv } from "../../scripts/project-env.mjs";
import { fail, RunbookError } from "./output.mjs";
import { ROOT } from "./stack.mjs";

const envFor = (stack) => ({ ...projectEnv(), DYNOFORM_STACK: stack });

/** `pulumi <args> --stack <stack>`: its stdout; stops with pulumi's last line on failure. */
export function pulumiText(stack, args) {
    try {
        return execFileSync("pulumi", [...args, "--stack", stack], { env: envFor(stack), cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
    } catch (err) {
        const why = err.code === "ENOENT" ? "pulumi is not installed here (npm run setup puts it in .tools/)" : String(err.stderr || err.message).trim().split("\n").pop();
        return fail(`pulumi ${args.join(" ")} --stack ${stack} failed: ${why}`);
    }
}

/** `pulumi <args> --stack <stack>` with its output on ours as it comes; rejects with `then` (what to do) on failure. */
export function pulumiLive(stack, args, then) {
    return new Promise((resolve, reject) => {
        const child = spawn("pulumi", [...args, "--stack", stack], { env: envFor(stack), cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
        child.on("error", (err) => reject(new RunbookError(`pulumi: ${err.message}`)));
        child.on("close", (code) => (code === 0 ? resolve() : reject(new RunbookError(`pulumi ${args.join(" ")} --stack ${stack} failed (exit ${code}): see above. ${then}`))));
    });
}

/** `pulumi up --yes`, streamed: what every runbook that changes the stack's resources runs. */
export function pulumiUp(stack, then) {
    return pulumiLive(stack, ["up", "--yes"], then);
}

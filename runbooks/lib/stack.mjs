// A stack's outputs (`pulumi stack output --show-secrets`, with the project's Pulumi environment
// from scripts/env.sh): hosts (name → private address), ssh (name → connection with the pinned host
// key), control. Read once per runbook; the secrets stay in memory and in the 0700 files ssh.mjs writes.
import { execFileSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { projectEnv } from "../../scripts/project-env.mjs";
import { fail } from "./output.mjs";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export function stackOutputs(stack) {
    let text;
    try {
        text = execFileSync("pulumi", ["stack", "output", "--json", "--show-secrets", "--stack", stack], { env: projectEnv(), cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
    } catch (err) {
        const why = err.code === "ENOENT" ? "pulumi is not installed here (npm run setup puts it in .tools/)" : String(err.stderr || err.message).trim().split("\n").pop();
        fail(`cannot read the outputs of stack ${stack}: ${why}. Pass --stack NAME (or set DYNOFORM_STACK) for a stack brought up from this checkout`);
    }
    const outputs = JSON.parse(text);
    if (!outputs.ssh || !outputs.hosts) fail(`stack ${stack} has no ssh/hosts outputs: run pulumi up with this version of dynoform first`);
    return outputs;
}
